// What a run's next step is, decided from its task instances alone: who may run, who can never run, whether the run has ended.
//
// Pure: the scheduler applies the plan through the RunStore, whose conditional writes make a plan made
// from a stale read harmless (a second scheduler's claim or state change simply does not apply).

import { type Dag, retryDelayMs, type Task } from "./dag.ts";
import type { RunState, TaskInstance, TaskState } from "./runs/index.ts";

/** States a task instance does not leave on its own. */
export const FINISHED: ReadonlySet<TaskState> = new Set(["success", "failed", "upstream_failed", "skipped"]);

export interface RunPlan {
  /** Queued instances whose upstreams ended so that they can never run (all_success after a failure). */
  upstreamFailed: string[];
  /** Queued instances whose upstreams ended in success or skipped with at least one skipped (all_success). */
  skipped: string[];
  /** Instances that may start a try now, in the DAG's run order. */
  runnable: string[];
  /** Up-for-retry instances still waiting for their retry delay: the earliest time one becomes runnable. */
  nextRetryAt: number | null;
  /** The run's end when every instance has finished, else null. */
  end: Extract<RunState, "success" | "failed"> | null;
}

/**
 * The plan for one run at `now`. A queued task waits for every upstream to finish; then with all_success
 * it runs when all succeeded, is upstream_failed when one failed (or was upstream_failed), and skipped
 * when the rest succeeded and one was skipped; with all_done it runs whatever they ended in. An
 * up_for_retry task runs once retryDelayMs after its failed try has passed. The run fails when any task
 * failed or was upstream_failed, and succeeds otherwise.
 */
export function planRun(dag: Dag, instances: readonly TaskInstance[], now: number): RunPlan {
  const byId = new Map(instances.map((ti) => [ti.taskId, ti]));
  // States as this plan leaves them, so a chain of upstream_failed is decided in one pass.
  const state = new Map<string, TaskState>(instances.map((ti) => [ti.taskId, ti.state]));
  const plan: RunPlan = { upstreamFailed: [], skipped: [], runnable: [], nextRetryAt: null, end: null };
  for (const task of dag.tasks) {
    const ti = byId.get(task.id);
    if (ti === undefined) continue;
    if (ti.state === "up_for_retry") {
      const at = ti.updatedAt.getTime() + retryDelayMs(task.options, Math.max(1, ti.tryNumber));
      if (at <= now) plan.runnable.push(task.id);
      else plan.nextRetryAt = Math.min(plan.nextRetryAt ?? at, at);
      continue;
    }
    if (ti.state !== "queued") continue;
    const decision = decideQueued(task, state);
    if (decision === "run") plan.runnable.push(task.id);
    else if (decision === "upstream_failed" || decision === "skipped") {
      state.set(task.id, decision);
      (decision === "skipped" ? plan.skipped : plan.upstreamFailed).push(task.id);
    }
  }
  const finals = [...state.values()];
  if (finals.every((s) => FINISHED.has(s))) {
    plan.end = finals.some((s) => s === "failed" || s === "upstream_failed") ? "failed" : "success";
  }
  return plan;
}

function decideQueued(task: Task, state: ReadonlyMap<string, TaskState>): "run" | "wait" | TaskState {
  const ups = task.upstream.map((id) => state.get(id) ?? "success");
  if (!ups.every((s) => FINISHED.has(s))) return "wait";
  if (task.options.triggerRule === "all_done") return "run";
  if (ups.some((s) => s === "failed" || s === "upstream_failed")) return "upstream_failed";
  if (ups.some((s) => s === "skipped")) return "skipped";
  return "run";
}
