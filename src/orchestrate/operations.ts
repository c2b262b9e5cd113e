// What a user asks of the orchestrator besides the schedule: trigger a run, backfill a range, clear a run or a task.
//
// Each creates or resets rows in the RunStore; a scheduler (pulse up, pulse scheduler, or the one the CLI
// runs for a backfill) then runs them.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { Dag } from "./dag.ts";
import type { DagRun, RunStore, TaskState } from "./runs/index.ts";
import { intervalContaining, intervalsBetween, latestInterval } from "./schedule.ts";

/**
 * A manual run. For a scheduled DAG its interval is the one holding `date`, or without a date the latest
 * one that is over (as Airflow infers a manual run's interval); a manual DAG's run covers [date, date].
 */
export async function triggerRun(
  store: RunStore,
  dag: Dag,
  options: { date?: Date; now?: Date } = {},
): Promise<{ run: DagRun; created: boolean }> {
  const now = options.now ?? new Date();
  let start: Date;
  let end: Date;
  if (dag.cron === null) {
    start = end = options.date ?? now;
  } else {
    const interval = options.date ? intervalContaining(dag, options.date) : latestInterval(dag, now);
    if (interval === null || interval.start.getTime() < dag.startDate.getTime()) {
      throw new OrchestrateError(
        OrchestrateErrorCode.badArgument,
        `DAG "${dag.id}" has no interval ${options.date ? `holding ${options.date.toISOString()}` : "that is over yet"}; ` +
          `its first starts at or after ${dag.startDate.toISOString()}.`,
      );
    }
    ({ start, end } = interval);
  }
  return store.createRun({
    dagId: dag.id,
    logicalDate: start,
    dataIntervalStart: start,
    dataIntervalEnd: end,
    runType: "manual",
    taskIds: dag.tasks.map((t) => t.id),
  });
}

/** A run per interval of [from, to); runs already there for a date are left as they are (created false). */
export async function createBackfill(
  store: RunStore,
  dag: Dag,
  from: Date,
  to: Date,
): Promise<Array<{ run: DagRun; created: boolean }>> {
  if (dag.cron === null) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `DAG "${dag.id}" is manual: it has no intervals to backfill; trigger it with a date instead.`,
    );
  }
  if (!(from.getTime() < to.getTime())) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `A backfill needs --from before --to, got ${from.toISOString()} and ${to.toISOString()}.`,
    );
  }
  const out: Array<{ run: DagRun; created: boolean }> = [];
  for (const interval of intervalsBetween(dag, from, to)) {
    out.push(
      await store.createRun({
        dagId: dag.id,
        logicalDate: interval.logicalDate,
        dataIntervalStart: interval.start,
        dataIntervalEnd: interval.end,
        runType: "backfill",
        taskIds: dag.tasks.map((t) => t.id),
      }),
    );
  }
  return out;
}

const CLEARABLE: readonly TaskState[] = ["success", "failed", "upstream_failed", "skipped", "up_for_retry"];

/**
 * Queues a run's tasks again: `taskId` and every task downstream of it, or the whole run. Running tries
 * are left alone. The run is queued again, so a scheduler admits and runs it; each cleared task gets its
 * retries afresh. Returns the task ids cleared.
 */
export async function clearRun(
  store: RunStore,
  dag: Dag,
  runId: string,
  options: { taskId?: string } = {},
): Promise<string[]> {
  const run = await store.getRun(dag.id, runId);
  if (run === null) {
    const runs = (await store.listRuns(dag.id)).slice(-3).map((r) => r.runId);
    throw new OrchestrateError(
      OrchestrateErrorCode.notFound,
      `DAG "${dag.id}" has no run "${runId}"${runs.length ? `; its latest are ${runs.join(", ")}` : ""}.`,
    );
  }
  let ids: Set<string>;
  if (options.taskId === undefined) ids = new Set(dag.tasks.map((t) => t.id));
  else {
    if (!dag.tasks.some((t) => t.id === options.taskId)) throw unknownTask(dag, options.taskId);
    ids = new Set([options.taskId]);
    for (const task of dag.tasks) if (task.upstream.some((up) => ids.has(up))) ids.add(task.id);
  }
  const cleared: string[] = [];
  for (const taskId of ids) {
    const set = await store.setTaskState({ dagId: dag.id, runId, taskId }, "queued", {
      from: CLEARABLE,
      reason: "cleared",
    });
    if (set !== null) cleared.push(taskId);
  }
  if (cleared.length > 0 && run.state !== "queued")
    await store.setRunState(dag.id, runId, "queued", "cleared");
  return cleared;
}

export function unknownTask(dag: Dag, taskId: string): OrchestrateError {
  return new OrchestrateError(
    OrchestrateErrorCode.notFound,
    `DAG "${dag.id}" has no task "${taskId}"; its tasks are ${dag.tasks.map((t) => t.id).join(", ")}.`,
  );
}

export function unknownDag(dagId: string, dags: readonly Dag[]): OrchestrateError {
  return new OrchestrateError(
    OrchestrateErrorCode.notFound,
    `There is no DAG "${dagId}"; the DAGs are ${dags.map((d) => d.id).join(", ") || "none"} (pulse dags list).`,
  );
}
