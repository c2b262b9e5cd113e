// The RunStore seam: run history (DAG runs, task instances, every state transition) and the leases that keep one try to one owner.
//
// Contract, which test/conformance/run-store.ts checks on every implementation:
// - A run is unique per (dagId, logicalDate): createRun returns the existing run (created: false) when
//   one is there, and then creates no task instances.
// - Every change of a run's or a task instance's state appends one Transition (from, to, try number,
//   owner, reason, time), in order; the rows hold the current state.
// - claim() starts a new try (tryNumber + 1, state running) under a lease held by one owner until
//   leaseExpiresAt. It succeeds on a queued or up_for_retry instance, or on a running one whose lease has
//   expired (the expired try is recorded as failed first); on anything else it returns null. Of several
//   concurrent claims on one instance, from any number of handles or processes, exactly one wins.
// - heartbeat() and finish() act only for the owner of the current try while its lease holds; otherwise
//   they change nothing and return false (the owner has lost the try and must stop).
// - expiredLeases(now) lists the running instances whose lease ended at or before now: tries whose owner
//   died. Times come from the store's clock (RunStoreOptions.clock), so tests control them.

/** A DAG run's state. */
export type RunState = "queued" | "running" | "success" | "failed";

/** A task instance's state, Airflow's names. */
export type TaskState =
  | "queued"
  | "running"
  | "success"
  | "failed"
  | "up_for_retry"
  | "upstream_failed"
  | "skipped";

export const RUN_STATES: readonly RunState[] = ["queued", "running", "success", "failed"];
export const TASK_STATES: readonly TaskState[] = [
  "queued",
  "running",
  "success",
  "failed",
  "up_for_retry",
  "upstream_failed",
  "skipped",
];

/** How a run came about: the scheduler, a manual trigger, a backfill. */
export type RunType = "scheduled" | "manual" | "backfill";

export interface NewRun {
  dagId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runType: RunType;
  /** The DAG's task ids, in run order; each gets a queued task instance. */
  taskIds: readonly string[];
}

export interface DagRun {
  dagId: string;
  /** `<runType>__<logicalDate ISO>`, unique within the DAG. */
  runId: string;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  runType: RunType;
  state: RunState;
  createdAt: Date;
  updatedAt: Date;
}

export interface TaskInstanceKey {
  dagId: string;
  runId: string;
  taskId: string;
}

export interface TaskInstance extends TaskInstanceKey {
  state: TaskState;
  /** The current (or last) try; 0 before the first claim. */
  tryNumber: number;
  /** Who holds the current try, while it is running. */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** Why the instance is in its state (a failure's message, "lease expired"), or null. */
  reason: string | null;
  updatedAt: Date;
}

/** One change of state, of a run (taskId null) or of a task instance. */
export interface Transition {
  dagId: string;
  runId: string;
  taskId: string | null;
  from: string | null;
  to: string;
  tryNumber: number;
  owner: string | null;
  reason: string | null;
  at: Date;
}

/** How a try may end, reported by its owner. */
export type TryOutcome = "success" | "failed" | "up_for_retry" | "skipped";

export interface RunStoreOptions {
  /** Milliseconds since the epoch; Date.now by default. */
  clock?: () => number;
}

export interface RunStore {
  /** Creates the run and its queued task instances, or returns the one already there for (dagId, logicalDate). */
  createRun(run: NewRun): Promise<{ run: DagRun; created: boolean }>;
  getRun(dagId: string, runId: string): Promise<DagRun | null>;
  /** A DAG's runs, by logical date; with `states`, only the runs in one of them. */
  listRuns(dagId: string, options?: { states?: readonly RunState[] }): Promise<DagRun[]>;
  /** Sets a run's state, recording the transition; returns the run, or null when there is no such run. */
  setRunState(dagId: string, runId: string, state: RunState, reason?: string): Promise<DagRun | null>;

  /** A run's task instances, in the order createRun got their ids. */
  taskInstances(dagId: string, runId: string): Promise<TaskInstance[]>;
  getTaskInstance(key: TaskInstanceKey): Promise<TaskInstance | null>;
  /**
   * Sets a task instance's state outside a try (upstream_failed, skipped, queued again on a clear, failed
   * or up_for_retry for an expired lease), clearing any lease. With `from`, only when the state is one of
   * those (and, with `tryNumber`, the try is that one); returns the instance, or null when it was not set.
   */
  setTaskState(
    key: TaskInstanceKey,
    state: TaskState,
    options?: { from?: readonly TaskState[]; tryNumber?: number; reason?: string },
  ): Promise<TaskInstance | null>;

  /** Starts the next try under a lease of leaseMs for owner; null when the instance cannot be claimed now. */
  claim(key: TaskInstanceKey, owner: string, leaseMs: number): Promise<TaskInstance | null>;
  /** Extends the owner's lease on its try to now + leaseMs; false when the owner no longer holds it. */
  heartbeat(key: TaskInstanceKey, owner: string, tryNumber: number, leaseMs: number): Promise<boolean>;
  /** Ends the owner's try in `outcome`, releasing the lease; false when the owner no longer holds it. */
  finish(
    key: TaskInstanceKey,
    owner: string,
    tryNumber: number,
    outcome: TryOutcome,
    reason?: string,
  ): Promise<boolean>;
  /** Running instances whose lease ended at or before now, oldest expiry first. */
  expiredLeases(now: Date): Promise<TaskInstance[]>;

  /** A run's transitions in the order they happened: the run's and its task instances'. */
  history(dagId: string, runId: string): Promise<Transition[]>;
  close(): Promise<void>;
}

/** A run's id: its type and logical date, as Airflow names runs. */
export function runIdOf(runType: RunType, logicalDate: Date): string {
  return `${runType}__${logicalDate.toISOString()}`;
}
