// The scheduler loop: creates due runs, fails or retries tries whose owner died, and starts the tries that may run, within pools.
//
// Each tick, for every DAG: the due intervals get scheduled runs (catchup as the DAG says); tries whose
// lease expired (a scheduler or task process killed) are recorded failed and retried when retries are
// left; queued runs are admitted up to maxActiveRuns; each active run's plan (plan.ts) is applied, and its
// runnable tasks are claimed and run in this process (run-try.ts) while slots are free. Several
// schedulers may share one run store: a claim has one winner, so no try runs twice. Pools and
// parallelism bound the tries of this scheduler.

import { hostname } from "node:os";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { Callbacks, Dag, OrchestrateEvent, Task } from "./dag.ts";
import { planRun } from "./plan.ts";
import type { DagRun, RunStore, TaskInstance, TaskInstanceKey } from "./runs/index.ts";
import { messageOf, runTry, type TaskRunner, type TryEnd } from "./run-try.ts";
import { dueIntervals } from "./schedule.ts";

export interface SchedulerOptions {
  dags: readonly Dag[];
  store: RunStore;
  /** Where each try's log file goes (task-log.ts). */
  logsDir: string;
  /** This scheduler's name in leases and transitions; host:pid:random by default. */
  owner?: string;
  /** How long a try's lease lasts without a heartbeat (default 30 s); a dead owner's try is retried after it. */
  leaseMs?: number;
  /** The wait between ticks (default 1 s). */
  pollMs?: number;
  /** Tries this scheduler runs at once, over every DAG (default 16). */
  parallelism?: number;
  /** Slots per pool name; a task naming a pool that is not here is refused at start. */
  pools?: Readonly<Record<string, number>>;
  /** Called for every event, after the task's and DAG's own callbacks (the webhook notifier). */
  notify?: (event: OrchestrateEvent) => Promise<void> | void;
  /** How each try's work runs (run-try.ts; default: the task's callable in this process). */
  runner?: TaskRunner;
  /** Whether to create scheduled runs (false: only runs already there, e.g. a backfill's). Default true. */
  createRuns?: boolean;
  /** The scheduler's own lines (a run admitted, a lease expired, a callback failing). */
  log?: (line: string) => void;
  clock?: () => number;
}

/** The tries running in this process, by instance. */
interface Running {
  key: TaskInstanceKey;
  pool: string | undefined;
  done: Promise<TryEnd>;
}

export class Scheduler {
  readonly owner: string;
  readonly #dags: Map<string, Dag>;
  readonly #store: RunStore;
  readonly #options: SchedulerOptions;
  readonly #leaseMs: number;
  readonly #parallelism: number;
  readonly #pools: Readonly<Record<string, number>>;
  readonly #clock: () => number;
  readonly #running = new Map<string, Running>();
  /** Per DAG, the end of its latest scheduled run (null: none yet). */
  readonly #lastScheduledEnd = new Map<string, Date | null>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#dags = new Map(options.dags.map((dag) => [dag.id, dag]));
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#parallelism = options.parallelism ?? 16;
    this.#pools = options.pools ?? {};
    this.#clock = options.clock ?? Date.now;
    for (const dag of options.dags) {
      for (const task of dag.tasks) {
        const pool = task.options.pool;
        if (pool !== undefined && !(this.#pools[pool]! >= 1)) {
          throw new OrchestrateError(
            OrchestrateErrorCode.badDag,
            `DAG "${dag.id}", task "${task.id}": pool "${pool}" has no slots; give it some in the scheduler's ` +
              `pools (e.g. { "${pool}": 1 }) or remove the task's pool.`,
          );
        }
      }
    }
  }

  /** How many tries this scheduler is running now. */
  get runningTries(): number {
    return this.#running.size;
  }

  /** Runs ticks every pollMs until stop(). */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#loop = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          await this.tick();
        } catch (error) {
          this.#log(`tick failed: ${messageOf(error)}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#options.pollMs ?? 1000);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  /** Stops the loop; running tries are aborted and left to their leases (a restart retries them). */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** Waits until every try this scheduler started has ended. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  /** One pass: due runs, expired leases, admissions, plans and claims. */
  async tick(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const now = this.#clock();
    if (this.#options.createRuns !== false) await this.#createDueRuns(now);
    await this.#reapExpired(now);
    for (const dag of this.#dags.values()) await this.#advance(dag, now);
  }

  async #createDueRuns(now: number): Promise<void> {
    for (const dag of this.#dags.values()) {
      if (dag.cron === null) continue;
      // The end of the latest scheduled run: read once, then kept as this scheduler creates runs. Runs
      // another scheduler created meanwhile are found again by createRun (created: false).
      let lastEnd = this.#lastScheduledEnd.get(dag.id);
      if (lastEnd === undefined) {
        const ends = (await this.#store.listRuns(dag.id))
          .filter((r) => r.runType === "scheduled")
          .map((r) => r.dataIntervalEnd.getTime());
        lastEnd = ends.length === 0 ? null : new Date(Math.max(...ends));
        this.#lastScheduledEnd.set(dag.id, lastEnd);
      }
      for (const interval of dueIntervals(dag, lastEnd, new Date(now))) {
        const { created, run } = await this.#store.createRun({
          dagId: dag.id,
          logicalDate: interval.logicalDate,
          dataIntervalStart: interval.start,
          dataIntervalEnd: interval.end,
          runType: "scheduled",
          taskIds: dag.tasks.map((t) => t.id),
        });
        if (created) this.#log(`${dag.id}: run ${run.runId} created`);
        this.#lastScheduledEnd.set(dag.id, interval.end);
      }
    }
  }

  /** Tries whose owner stopped heartbeating: failed, and up for retry when the round has retries left. */
  async #reapExpired(now: number): Promise<void> {
    for (const ti of await this.#store.expiredLeases(new Date(now))) {
      if (this.#running.has(keyString(ti))) continue;
      const task = this.#dags.get(ti.dagId)?.tasks.find((t) => t.id === ti.taskId);
      const retriesLeft = task === undefined ? 0 : await this.#retriesLeft(task, ti);
      const reason = `lease expired: ${ti.leaseOwner ?? "its owner"} stopped heartbeating (its process died or stalled)`;
      const state = retriesLeft > 0 ? "up_for_retry" : "failed";
      const set = await this.#store.setTaskState(ti, state, {
        from: ["running"],
        tryNumber: ti.tryNumber,
        reason,
      });
      if (set === null) continue;
      this.#log(`${ti.dagId} ${ti.runId} ${ti.taskId}: try ${ti.tryNumber} ${reason}; now ${state}`);
      const run = await this.#store.getRun(ti.dagId, ti.runId);
      if (task !== undefined && run !== null) {
        const dag = this.#dags.get(ti.dagId) as Dag;
        await this.#emit(
          dag,
          task,
          run,
          state === "failed" ? "task_failure" : "task_retry",
          ti.tryNumber,
          state,
          reason,
        );
      }
    }
  }

  async #advance(dag: Dag, now: number): Promise<void> {
    const runs = await this.#store.listRuns(dag.id, { states: ["queued", "running"] });
    let active = runs.filter((r) => r.state === "running").length;
    for (const run of runs) {
      if (this.#stop.signal.aborted) return;
      let current = run;
      if (run.state === "queued") {
        if (active >= dag.maxActiveRuns) continue;
        const admitted = await this.#store.setRunState(dag.id, run.runId, "running");
        if (admitted === null) continue;
        active++;
        current = admitted;
      }
      await this.#step(dag, current, now);
    }
  }

  async #step(dag: Dag, run: DagRun, now: number): Promise<void> {
    const instances = await this.#store.taskInstances(dag.id, run.runId);
    const plan = planRun(dag, instances, now);
    const tasks = new Map(dag.tasks.map((t) => [t.id, t]));
    for (const taskId of plan.upstreamFailed) {
      await this.#store.setTaskState({ dagId: dag.id, runId: run.runId, taskId }, "upstream_failed", {
        from: ["queued"],
        reason: "an upstream task failed",
      });
    }
    for (const taskId of plan.skipped) {
      await this.#store.setTaskState({ dagId: dag.id, runId: run.runId, taskId }, "skipped", {
        from: ["queued"],
        reason: "an upstream task was skipped",
      });
    }
    if (plan.end !== null) {
      // A try of this run still telling its callbacks: the run ends after them, so they hear it in order.
      const prefix = `${dag.id}\u0000${run.runId}\u0000`;
      if ([...this.#running.keys()].some((id) => id.startsWith(prefix))) return;
      const ended = await this.#store.setRunState(dag.id, run.runId, plan.end);
      if (ended !== null) {
        this.#log(`${dag.id}: run ${run.runId} ${plan.end}`);
        await this.#emit(
          dag,
          null,
          ended,
          plan.end === "success" ? "run_success" : "run_failure",
          0,
          plan.end,
          null,
        );
      }
      return;
    }
    for (const taskId of plan.runnable) {
      const task = tasks.get(taskId) as Task;
      if (!this.#hasSlot(task)) continue;
      const key = { dagId: dag.id, runId: run.runId, taskId };
      if (this.#running.has(keyString(key))) continue;
      const claimed = await this.#store.claim(key, this.owner, this.#leaseMs);
      if (claimed === null) continue;
      this.#startTry(dag, task, run, claimed);
    }
  }

  #hasSlot(task: Task): boolean {
    if (this.#running.size >= this.#parallelism) return false;
    const pool = task.options.pool;
    if (pool === undefined) return true;
    let used = 0;
    for (const r of this.#running.values()) if (r.pool === pool) used++;
    return used < (this.#pools[pool] ?? 0);
  }

  #startTry(dag: Dag, task: Task, run: DagRun, claimed: TaskInstance): void {
    const id = keyString(claimed);
    const done = (async (): Promise<TryEnd> => {
      const retriesLeft = await this.#retriesLeft(task, claimed);
      const end = await runTry({
        store: this.#store,
        dagId: dag.id,
        task,
        run,
        instance: claimed,
        owner: this.owner,
        leaseMs: this.#leaseMs,
        logsDir: this.#options.logsDir,
        retriesLeft,
        stop: this.#stop.signal,
        runner: this.#options.runner,
        clock: this.#clock,
      });
      if (end.outcome !== "lost") {
        const kind =
          end.outcome === "up_for_retry"
            ? "task_retry"
            : end.outcome === "failed"
              ? "task_failure"
              : "task_success";
        if (end.outcome !== "skipped") {
          await this.#emit(dag, task, run, kind, claimed.tryNumber, end.outcome, end.reason);
        }
      }
      return end;
    })();
    const entry: Running = { key: claimed, pool: task.options.pool, done };
    this.#running.set(id, entry);
    done
      .catch((error: unknown) => this.#log(`${id}: the try could not be recorded: ${messageOf(error)}`))
      .finally(() => {
        this.#running.delete(id);
        // A finished try may let the next task run at once.
        this.#wake?.();
      });
  }

  /**
   * The retries left after the claimed try, in its round: the tries since the instance was last queued
   * (created, or cleared) count against the task's retries.
   */
  async #retriesLeft(task: Task, ti: TaskInstance): Promise<number> {
    const history = await this.#store.history(ti.dagId, ti.runId);
    let roundStart = 0;
    for (const t of history) if (t.taskId === ti.taskId && t.to === "queued") roundStart = t.tryNumber;
    return task.options.retries - (ti.tryNumber - roundStart - 1);
  }

  async #emit(
    dag: Dag,
    task: Task | null,
    run: DagRun,
    kind: OrchestrateEvent["kind"],
    tryNumber: number,
    state: string,
    reason: string | null,
  ): Promise<void> {
    const event: OrchestrateEvent = {
      kind,
      dagId: dag.id,
      runId: run.runId,
      taskId: task?.id ?? null,
      tryNumber,
      state,
      reason,
      logicalDate: run.logicalDate.toISOString(),
      dataIntervalStart: run.dataIntervalStart.toISOString(),
      dataIntervalEnd: run.dataIntervalEnd.toISOString(),
      at: new Date(this.#clock()).toISOString(),
    };
    const pick = (callbacks: Callbacks) =>
      kind.endsWith("success")
        ? callbacks.onSuccess
        : kind.endsWith("retry")
          ? callbacks.onRetry
          : callbacks.onFailure;
    // A task's callbacks hear its tries; the DAG's hear its runs' ends.
    const targets = [pick(task === null ? dag.callbacks : task.callbacks), this.#options.notify];
    for (const callback of targets) {
      if (callback === undefined) continue;
      try {
        await callback(event);
      } catch (error) {
        this.#log(`${dag.id} ${run.runId}: a ${kind} callback failed: ${messageOf(error)}`);
      }
    }
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

function keyString(key: TaskInstanceKey): string {
  return `${key.dagId}\u0000${key.runId}\u0000${key.taskId}`;
}
