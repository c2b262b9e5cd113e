// The RunStore in an embedded SQLite file: runs, task instances and transitions as tables, each change in one IMMEDIATE transaction.
//
// Every write (createRun, a state change, claim, heartbeat, finish) is a BEGIN IMMEDIATE transaction that
// reads the row, checks the contract's condition and writes the row and its transition. IMMEDIATE takes
// the file's write lock before the read, so two handles (or processes) claiming one instance run one
// after the other and the second sees the first's try: exactly one wins.

import type Database from "better-sqlite3";
import { OrchestrateError, OrchestrateErrorCode } from "../../../errors.ts";
import { SqliteFile, type SqlitePartErrors } from "../../../sqlite/lifecycle.ts";
import type { SqliteFileSettings } from "../../../sqlite/open-file.ts";
import {
  type DagRun,
  type NewRun,
  RUN_STATES,
  type RunState,
  type RunStore,
  type RunStoreOptions,
  runIdOf,
  TASK_STATES,
  type TaskInstance,
  type TaskInstanceKey,
  type TaskState,
  type Transition,
  type TryOutcome,
} from "../index.ts";
import { SCHEMA, SCHEMA_VERSION } from "./schema.ts";

const RUN_STORE_ERRORS: SqlitePartErrors = {
  part: "the run store",
  className: "SqliteRunStore",
  file: "the run store file",
  reopen: "open a new SqliteRunStore",
  codes: {
    badOption: OrchestrateErrorCode.badArgument,
    closed: OrchestrateErrorCode.closed,
    busy: OrchestrateErrorCode.busy,
    storage: OrchestrateErrorCode.storage,
    schemaTooNew: OrchestrateErrorCode.storage,
    badValue: OrchestrateErrorCode.badArgument,
  },
  isOwn: (error) => error instanceof OrchestrateError,
  error: (code, message, options) => new OrchestrateError(code, message, options),
};

export interface SqliteRunStoreOptions extends SqliteFileSettings, RunStoreOptions {}

interface RunRow {
  dag_id: string;
  run_id: string;
  logical_date: number;
  interval_start: number;
  interval_end: number;
  run_type: DagRun["runType"];
  state: RunState;
  created_at: number;
  updated_at: number;
}

interface TaskRow {
  dag_id: string;
  run_id: string;
  task_id: string;
  state: TaskState;
  try_number: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  reason: string | null;
  updated_at: number;
}

interface TransitionRow {
  dag_id: string;
  run_id: string;
  task_id: string | null;
  from_state: string | null;
  to_state: string;
  try_number: number;
  owner: string | null;
  reason: string | null;
  at: number;
}

const TRY_OUTCOMES: readonly TryOutcome[] = ["success", "failed", "up_for_retry", "skipped"];

export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #file: SqliteFile;
  readonly #clock: () => number;
  readonly #sql: ReturnType<typeof prepare>;

  private constructor(file: SqliteFile, clock: () => number) {
    this.path = file.path;
    this.#file = file;
    this.#clock = clock;
    this.#sql = prepare(file.use());
  }

  /** Opens (creating if needed) the file; several handles and processes may share one file. */
  static open(options: SqliteRunStoreOptions): SqliteRunStore {
    const file = SqliteFile.open(
      { ...options, schema: SCHEMA, schemaVersion: SCHEMA_VERSION },
      RUN_STORE_ERRORS,
    );
    return new SqliteRunStore(file, options.clock ?? Date.now);
  }

  async createRun(run: NewRun): Promise<{ run: DagRun; created: boolean }> {
    const ids = new Set(run.taskIds);
    if (ids.size !== run.taskIds.length)
      throw badArgument(`createRun: task ids of DAG "${run.dagId}" repeat.`);
    return this.#write(`creating a run of DAG "${run.dagId}"`, () => {
      const sql = this.#sql;
      const logicalMs = checkedMs(run.logicalDate, "logicalDate");
      const existing = sql.runByLogicalDate.get(run.dagId, logicalMs) as RunRow | undefined;
      if (existing !== undefined) return { run: toRun(existing), created: false };
      const now = this.#clock();
      const runId = runIdOf(run.runType, run.logicalDate);
      sql.insertRun.run(
        run.dagId,
        runId,
        logicalMs,
        checkedMs(run.dataIntervalStart, "dataIntervalStart"),
        checkedMs(run.dataIntervalEnd, "dataIntervalEnd"),
        run.runType,
        now,
        now,
      );
      sql.insertTransition.run(run.dagId, runId, null, null, "queued", 0, null, null, now);
      run.taskIds.forEach((taskId, ordinal) => {
        sql.insertTask.run(run.dagId, runId, taskId, ordinal, now);
        sql.insertTransition.run(run.dagId, runId, taskId, null, "queued", 0, null, null, now);
      });
      return { run: toRun(sql.run.get(run.dagId, runId) as RunRow), created: true };
    });
  }

  async getRun(dagId: string, runId: string): Promise<DagRun | null> {
    const row = this.#read("reading a run", () => this.#sql.run.get(dagId, runId) as RunRow | undefined);
    return row === undefined ? null : toRun(row);
  }

  async listRuns(dagId: string, options: { states?: readonly RunState[] } = {}): Promise<DagRun[]> {
    const states = options.states;
    if (states === undefined)
      return this.#read("listing runs", () => (this.#sql.runsOfDag.all(dagId) as RunRow[]).map(toRun));
    checkStates(states);
    if (states.length === 0) return [];
    return this.#read("listing runs", () =>
      (this.#sql.runsOfDagIn(states.length).all(dagId, ...states) as RunRow[]).map(toRun),
    );
  }

  async setRunState(dagId: string, runId: string, state: RunState, reason?: string): Promise<DagRun | null> {
    if (!RUN_STATES.includes(state))
      throw badArgument(`setRunState: unknown run state ${JSON.stringify(state)}.`);
    return this.#write(`setting run "${runId}" of DAG "${dagId}" to ${state}`, () => {
      const row = this.#sql.run.get(dagId, runId) as RunRow | undefined;
      if (row === undefined) return null;
      const now = this.#clock();
      this.#sql.updateRunState.run(state, now, dagId, runId);
      this.#sql.insertTransition.run(dagId, runId, null, row.state, state, 0, null, reason ?? null, now);
      return toRun(this.#sql.run.get(dagId, runId) as RunRow);
    });
  }

  async taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    return this.#read("reading task instances", () =>
      (this.#sql.tasksOfRun.all(dagId, runId) as TaskRow[]).map(toTaskInstance),
    );
  }

  async getTaskInstance(key: TaskInstanceKey): Promise<TaskInstance | null> {
    const row = this.#read("reading a task instance", () => this.#task(key));
    return row === undefined ? null : toTaskInstance(row);
  }

  async setTaskState(
    key: TaskInstanceKey,
    state: TaskState,
    options: { from?: readonly TaskState[]; tryNumber?: number; reason?: string } = {},
  ): Promise<TaskInstance | null> {
    if (!TASK_STATES.includes(state))
      throw badArgument(`setTaskState: unknown task state ${JSON.stringify(state)}.`);
    return this.#write(`setting task "${key.taskId}" of run "${key.runId}" to ${state}`, () => {
      const row = this.#task(key);
      if (row === undefined) return null;
      if (options.from !== undefined && !options.from.includes(row.state)) return null;
      if (options.tryNumber !== undefined && options.tryNumber !== row.try_number) return null;
      const now = this.#clock();
      this.#setTask(row, state, row.try_number, null, null, options.reason ?? null, now, null);
      return toTaskInstance(this.#task(key) as TaskRow);
    });
  }

  async claim(key: TaskInstanceKey, owner: string, leaseMs: number): Promise<TaskInstance | null> {
    checkLease(owner, leaseMs);
    return this.#write(`claiming task "${key.taskId}" of run "${key.runId}"`, () => {
      const row = this.#task(key);
      if (row === undefined) return null;
      const now = this.#clock();
      if (row.state === "running") {
        if (row.lease_expires_at === null || row.lease_expires_at > now) return null;
        // The holder died: its try ends failed before the next one starts.
        this.#setTask(row, "failed", row.try_number, null, null, "lease expired", now, row.lease_owner);
        row.state = "failed";
      } else if (row.state !== "queued" && row.state !== "up_for_retry") {
        return null;
      }
      this.#setTask(row, "running", row.try_number + 1, owner, now + leaseMs, null, now, owner);
      return toTaskInstance(this.#task(key) as TaskRow);
    });
  }

  async heartbeat(key: TaskInstanceKey, owner: string, tryNumber: number, leaseMs: number): Promise<boolean> {
    checkLease(owner, leaseMs);
    return this.#write(`heartbeating task "${key.taskId}" of run "${key.runId}"`, () => {
      const now = this.#clock();
      const changed = this.#sql.extendLease.run(
        now + leaseMs,
        now,
        key.dagId,
        key.runId,
        key.taskId,
        owner,
        tryNumber,
        now,
      ).changes;
      return changed === 1;
    });
  }

  async finish(
    key: TaskInstanceKey,
    owner: string,
    tryNumber: number,
    outcome: TryOutcome,
    reason?: string,
  ): Promise<boolean> {
    if (!TRY_OUTCOMES.includes(outcome))
      throw badArgument(`finish: a try cannot end ${JSON.stringify(outcome)}.`);
    return this.#write(`finishing task "${key.taskId}" of run "${key.runId}"`, () => {
      const row = this.#task(key);
      const now = this.#clock();
      if (!holds(row, owner, tryNumber, now)) return false;
      this.#setTask(row as TaskRow, outcome, tryNumber, null, null, reason ?? null, now, owner);
      return true;
    });
  }

  async expiredLeases(now: Date): Promise<TaskInstance[]> {
    return this.#read("finding expired leases", () =>
      (this.#sql.expired.all(checkedMs(now, "now")) as TaskRow[]).map(toTaskInstance),
    );
  }

  async history(dagId: string, runId: string): Promise<Transition[]> {
    return this.#read("reading a run's history", () =>
      (this.#sql.transitions.all(dagId, runId) as TransitionRow[]).map((row) => ({
        dagId: row.dag_id,
        runId: row.run_id,
        taskId: row.task_id,
        from: row.from_state,
        to: row.to_state,
        tryNumber: row.try_number,
        owner: row.owner,
        reason: row.reason,
        at: new Date(row.at),
      })),
    );
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  #task(key: TaskInstanceKey): TaskRow | undefined {
    return this.#sql.task.get(key.dagId, key.runId, key.taskId) as TaskRow | undefined;
  }

  #setTask(
    row: TaskRow,
    state: TaskState,
    tryNumber: number,
    leaseOwner: string | null,
    leaseExpiresAt: number | null,
    reason: string | null,
    now: number,
    owner: string | null,
  ): void {
    this.#sql.updateTask.run(
      state,
      tryNumber,
      leaseOwner,
      leaseExpiresAt,
      reason,
      now,
      row.dag_id,
      row.run_id,
      row.task_id,
    );
    this.#sql.insertTransition.run(
      row.dag_id,
      row.run_id,
      row.task_id,
      row.state,
      state,
      tryNumber,
      owner,
      reason,
      now,
    );
  }

  #read<T>(during: string, work: () => T): T {
    this.#file.use();
    return this.#file.run(during, work);
  }

  #write<T>(during: string, work: () => T): T {
    const db = this.#file.use();
    const result = this.#file.run(during, () => db.transaction(work).immediate());
    this.#file.wrote();
    return result;
  }
}

/** Whether `owner` holds try `tryNumber` of the row at `now`. */
function holds(row: TaskRow | undefined, owner: string, tryNumber: number, now: number): boolean {
  return (
    row !== undefined &&
    row.state === "running" &&
    row.lease_owner === owner &&
    row.try_number === tryNumber &&
    row.lease_expires_at !== null &&
    row.lease_expires_at > now
  );
}

function prepare(db: Database.Database) {
  return {
    runByLogicalDate: db.prepare("SELECT * FROM dag_runs WHERE dag_id = ? AND logical_date = ?"),
    run: db.prepare("SELECT * FROM dag_runs WHERE dag_id = ? AND run_id = ?"),
    runsOfDag: db.prepare("SELECT * FROM dag_runs WHERE dag_id = ? ORDER BY logical_date"),
    runsOfDagIn: (() => {
      const made = new Map<number, Database.Statement>();
      return (count: number): Database.Statement => {
        let statement = made.get(count);
        if (statement === undefined) {
          const marks = Array.from({ length: count }, () => "?").join(", ");
          statement = db.prepare(
            `SELECT * FROM dag_runs WHERE dag_id = ? AND state IN (${marks}) ORDER BY logical_date`,
          );
          made.set(count, statement);
        }
        return statement;
      };
    })(),
    insertRun: db.prepare(
      `INSERT INTO dag_runs (dag_id, run_id, logical_date, interval_start, interval_end, run_type, state, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    ),
    updateRunState: db.prepare(
      "UPDATE dag_runs SET state = ?, updated_at = ? WHERE dag_id = ? AND run_id = ?",
    ),
    insertTask: db.prepare(
      `INSERT INTO task_instances (dag_id, run_id, task_id, ordinal, state, try_number, updated_at)
       VALUES (?, ?, ?, ?, 'queued', 0, ?)`,
    ),
    task: db.prepare("SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ?"),
    tasksOfRun: db.prepare("SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? ORDER BY ordinal"),
    updateTask: db.prepare(
      `UPDATE task_instances SET state = ?, try_number = ?, lease_owner = ?, lease_expires_at = ?, reason = ?, updated_at = ?
       WHERE dag_id = ? AND run_id = ? AND task_id = ?`,
    ),
    extendLease: db.prepare(
      `UPDATE task_instances SET lease_expires_at = ?, updated_at = ?
       WHERE dag_id = ? AND run_id = ? AND task_id = ? AND state = 'running' AND lease_owner = ? AND try_number = ?
         AND lease_expires_at > ?`,
    ),
    expired: db.prepare(
      `SELECT * FROM task_instances WHERE state = 'running' AND lease_expires_at <= ?
       ORDER BY lease_expires_at, dag_id, run_id, ordinal`,
    ),
    insertTransition: db.prepare(
      `INSERT INTO transitions (dag_id, run_id, task_id, from_state, to_state, try_number, owner, reason, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    transitions: db.prepare("SELECT * FROM transitions WHERE dag_id = ? AND run_id = ? ORDER BY seq"),
  };
}

function toRun(row: RunRow): DagRun {
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    logicalDate: new Date(row.logical_date),
    dataIntervalStart: new Date(row.interval_start),
    dataIntervalEnd: new Date(row.interval_end),
    runType: row.run_type,
    state: row.state,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toTaskInstance(row: TaskRow): TaskInstance {
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    taskId: row.task_id,
    state: row.state,
    tryNumber: row.try_number,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at === null ? null : new Date(row.lease_expires_at),
    reason: row.reason,
    updatedAt: new Date(row.updated_at),
  };
}

function checkedMs(date: Date, name: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw badArgument(`${name} must be a valid Date.`);
  return ms;
}

function checkLease(owner: string, leaseMs: number): void {
  if (typeof owner !== "string" || owner === "")
    throw badArgument("A lease owner must be a non-empty string.");
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) {
    throw badArgument(`A lease must last a whole number of milliseconds ≥ 1, got ${leaseMs}.`);
  }
}

function badArgument(message: string): OrchestrateError {
  return new OrchestrateError(OrchestrateErrorCode.badArgument, message);
}

function checkStates(states: readonly RunState[]): void {
  const unknown = states.find((state) => !RUN_STATES.includes(state));
  if (unknown !== undefined) throw badArgument(`listRuns: unknown run state ${JSON.stringify(unknown)}.`);
}
