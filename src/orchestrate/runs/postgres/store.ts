// The RunStore in PostgreSQL: runs, task instances and transitions as tables that several schedulers share, each change in one transaction that locks the row it reads.
//
// Every change (a state change, claim, finish) is a READ COMMITTED transaction that reads the row with
// SELECT … FOR UPDATE, checks the contract's condition, and writes the row and its transition. The row
// lock serializes changes to one instance from any number of processes: the second waits, then reads the
// first's committed row.
//
// claim() reads with FOR UPDATE SKIP LOCKED instead: when another transaction holds the row (another
// scheduler claiming it, or its owner heartbeating or finishing), the claim returns null at once rather
// than queue behind it. Of concurrent claims exactly one reads the row and wins; a scheduler sweeping many
// instances never waits on one another is taking, and tries again on its next pass.
//
// Times are the store's clock's (RunStoreOptions.clock), passed as parameters; the server's now() is never
// used, so every process agrees with its own tests and a lease means the same to each.

import { Pool, type PoolClient, type QueryResultRow } from "pg";
import { OrchestrateError, OrchestrateErrorCode } from "../../../errors.ts";
import { displayPostgresUrl, isPostgresUrl } from "../../../postgres/url.ts";
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
import { toRunStoreError } from "./errors.ts";
import { DEFAULT_SCHEMA, SCHEMA_VERSION, schemaStatements } from "./schema.ts";

export interface PostgresRunStoreOptions extends RunStoreOptions {
  /** postgres:// or postgresql:// connection string of the database that holds the run store. */
  url: string;
  /** The schema the tables are in (created if missing); default "pulse_runs". */
  schema?: string;
  /** Connections the handle keeps at most (default 4); a change holds one for its transaction. */
  maxConnections?: number;
  /** How long opening a connection may take before PULSE_ORCHESTRATE_UNAVAILABLE (default 10 s). */
  connectTimeoutMs?: number;
}

interface RunRow {
  dag_id: string;
  run_id: string;
  logical_date: Date;
  interval_start: Date;
  interval_end: Date;
  run_type: DagRun["runType"];
  state: RunState;
  created_at: Date;
  updated_at: Date;
}

interface TaskRow {
  dag_id: string;
  run_id: string;
  task_id: string;
  state: TaskState;
  try_number: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  reason: string | null;
  updated_at: Date;
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
  at: Date;
}

const TRY_OUTCOMES: readonly TryOutcome[] = ["success", "failed", "up_for_retry", "skipped"];
const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** PostgreSQL cuts a longer name to this many bytes, silently; a schema name that long is refused. */
const MAX_NAME_BYTES = 63;

export class PostgresRunStore implements RunStore {
  /** The URL as messages show it, without its password. */
  readonly url: string;
  readonly #pool: Pool;
  readonly #clock: () => number;
  readonly #sql: ReturnType<typeof statements>;
  #closed = false;

  private constructor(pool: Pool, url: string, schema: string, clock: () => number) {
    this.url = url;
    this.#pool = pool;
    this.#clock = clock;
    this.#sql = statements(quoteName(schema));
  }

  /**
   * Connects to the URL's database and creates the schema and its tables if they are missing; several
   * processes may open one database at once. PULSE_ORCHESTRATE_UNAVAILABLE (retriable) when the server
   * cannot be reached or refuses the session, PULSE_ORCHESTRATE_BAD_ARGUMENT for a URL that is not
   * PostgreSQL's or a bad option, PULSE_ORCHESTRATE_STORAGE when the tables are of a newer version.
   */
  static async open(options: PostgresRunStoreOptions): Promise<PostgresRunStore> {
    const url = displayPostgresUrl(options.url);
    if (!isPostgresUrl(options.url)) {
      throw badArgument(
        `'${url}' is not a PostgreSQL URL; write postgres://user:password@host:port/database.`,
      );
    }
    const schema = options.schema ?? DEFAULT_SCHEMA;
    checkSchemaName(schema);
    const pool = new Pool({
      connectionString: options.url,
      max: positiveInteger(options.maxConnections, DEFAULT_MAX_CONNECTIONS, "maxConnections"),
      connectionTimeoutMillis: positiveInteger(
        options.connectTimeoutMs,
        DEFAULT_CONNECT_TIMEOUT_MS,
        "connectTimeoutMs",
      ),
      application_name: "pulse-runs",
    });
    // An idle connection the server drops is reported here; the next query opens another (or fails as
    // unavailable). Without a listener it would crash the process.
    pool.on("error", () => undefined);
    const store = new PostgresRunStore(pool, url, schema, options.clock ?? Date.now);
    try {
      await store.#createSchema(schema);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return store;
  }

  async #createSchema(schema: string): Promise<void> {
    await this.#transaction(`creating the run store's tables in schema "${schema}"`, async (db) => {
      // Two processes creating the tables at once would race on the catalog (a duplicate key in pg_type);
      // the lock, released at commit, makes the second find them made.
      await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`pulse run store ${schema}`]);
      const found = await db.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
      // Not CREATE SCHEMA IF NOT EXISTS: it needs the CREATE privilege even when the schema is there.
      if (found.rowCount === 0) await db.query(`CREATE SCHEMA ${quoteName(schema)}`);
      let version = await this.#schemaVersion(db, schema);
      // Tables already made are left alone: CREATE INDEX IF NOT EXISTS share-locks its table before it
      // looks, and would deadlock with another scheduler already writing runs and transitions.
      if (version === undefined || version < SCHEMA_VERSION) {
        for (const statement of schemaStatements(quoteName(schema))) await db.query(statement);
        version = (await db.query<{ version: number }>(this.#sql.version)).rows[0]?.version;
      }
      if (version === undefined) {
        await db.query(this.#sql.insertVersion, [SCHEMA_VERSION]);
      } else if (version > SCHEMA_VERSION) {
        throw new OrchestrateError(
          OrchestrateErrorCode.storage,
          `The run store in schema "${schema}" at ${this.url} has version ${version}, newer than this Pulse's ${SCHEMA_VERSION}; upgrade Pulse or use another schema.`,
          { details: { version } },
        );
      }
    });
  }

  /** The version the schema's schema_version table records; undefined when the table or its row is not there. */
  async #schemaVersion(db: PoolClient, schema: string): Promise<number | undefined> {
    const table = await db.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [
      `${quoteName(schema)}.schema_version`,
    ]);
    if (table.rows[0]?.present !== true) return undefined;
    return (await db.query<{ version: number }>(this.#sql.version)).rows[0]?.version;
  }

  async createRun(run: NewRun): Promise<{ run: DagRun; created: boolean }> {
    const ids = new Set(run.taskIds);
    if (ids.size !== run.taskIds.length)
      throw badArgument(`createRun: task ids of DAG "${run.dagId}" repeat.`);
    const logicalDate = checkedDate(run.logicalDate, "logicalDate");
    const intervalStart = checkedDate(run.dataIntervalStart, "dataIntervalStart");
    const intervalEnd = checkedDate(run.dataIntervalEnd, "dataIntervalEnd");
    return this.#transaction(`creating a run of DAG "${run.dagId}"`, async (db) => {
      const sql = this.#sql;
      const now = new Date(this.#clock());
      const runId = runIdOf(run.runType, run.logicalDate);
      // A concurrent insert of the same run waits on the unique index, then does nothing.
      const inserted = await db.query<RunRow>(sql.insertRun, [
        run.dagId,
        runId,
        logicalDate,
        intervalStart,
        intervalEnd,
        run.runType,
        now,
      ]);
      const created = inserted.rows[0];
      if (created === undefined) {
        const existing = await db.query<RunRow>(sql.runByLogicalDate, [run.dagId, logicalDate]);
        const row = existing.rows[0];
        if (row === undefined) {
          throw new OrchestrateError(
            OrchestrateErrorCode.storage,
            `createRun: run "${runId}" of DAG "${run.dagId}" clashes with a run of another logical date.`,
          );
        }
        return { run: toRun(row), created: false };
      }
      await db.query(sql.insertRunTransition, [run.dagId, runId, null, "queued", null, now]);
      await db.query(sql.insertTasks, [run.dagId, runId, [...run.taskIds], now]);
      return { run: toRun(created), created: true };
    });
  }

  async getRun(dagId: string, runId: string): Promise<DagRun | null> {
    const row = (await this.#read<RunRow>("reading a run", this.#sql.run, [dagId, runId]))[0];
    return row === undefined ? null : toRun(row);
  }

  async listRuns(dagId: string, options: { states?: readonly RunState[] } = {}): Promise<DagRun[]> {
    const states = options.states;
    if (states === undefined)
      return (await this.#read<RunRow>("listing runs", this.#sql.runsOfDag, [dagId])).map(toRun);
    const unknown = states.find((state) => !RUN_STATES.includes(state));
    if (unknown !== undefined) throw badArgument(`listRuns: unknown run state ${JSON.stringify(unknown)}.`);
    if (states.length === 0) return [];
    return (await this.#read<RunRow>("listing runs", this.#sql.runsOfDagIn, [dagId, [...states]])).map(toRun);
  }

  async setRunState(dagId: string, runId: string, state: RunState, reason?: string): Promise<DagRun | null> {
    if (!RUN_STATES.includes(state))
      throw badArgument(`setRunState: unknown run state ${JSON.stringify(state)}.`);
    return this.#transaction(`setting run "${runId}" of DAG "${dagId}" to ${state}`, async (db) => {
      const row = (await db.query<RunRow>(this.#sql.runForUpdate, [dagId, runId])).rows[0];
      if (row === undefined) return null;
      const now = new Date(this.#clock());
      const updated = await db.query<RunRow>(this.#sql.updateRunState, [dagId, runId, state, now]);
      await db.query(this.#sql.insertRunTransition, [dagId, runId, row.state, state, reason ?? null, now]);
      return toRun(updated.rows[0]!);
    });
  }

  async taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    return (await this.#read<TaskRow>("reading task instances", this.#sql.tasksOfRun, [dagId, runId])).map(
      toTaskInstance,
    );
  }

  async getTaskInstance(key: TaskInstanceKey): Promise<TaskInstance | null> {
    const rows = await this.#read<TaskRow>("reading a task instance", this.#sql.task, keyParams(key));
    return rows[0] === undefined ? null : toTaskInstance(rows[0]);
  }

  async setTaskState(
    key: TaskInstanceKey,
    state: TaskState,
    options: { from?: readonly TaskState[]; tryNumber?: number; reason?: string } = {},
  ): Promise<TaskInstance | null> {
    if (!TASK_STATES.includes(state))
      throw badArgument(`setTaskState: unknown task state ${JSON.stringify(state)}.`);
    return this.#transaction(`setting task "${key.taskId}" of run "${key.runId}" to ${state}`, async (db) => {
      const row = (await db.query<TaskRow>(this.#sql.taskForUpdate, keyParams(key))).rows[0];
      if (row === undefined) return null;
      if (options.from !== undefined && !options.from.includes(row.state)) return null;
      if (options.tryNumber !== undefined && options.tryNumber !== row.try_number) return null;
      const now = new Date(this.#clock());
      const set = { state, tryNumber: row.try_number, reason: options.reason ?? null, owner: null };
      return toTaskInstance(await this.#setTask(db, row, set, now));
    });
  }

  async claim(key: TaskInstanceKey, owner: string, leaseMs: number): Promise<TaskInstance | null> {
    checkLease(owner, leaseMs);
    return this.#transaction(`claiming task "${key.taskId}" of run "${key.runId}"`, async (db) => {
      let row = (await db.query<TaskRow>(this.#sql.taskToClaim, keyParams(key))).rows[0];
      // No row: there is no such instance, or another transaction holds it (SKIP LOCKED).
      if (row === undefined) return null;
      const now = new Date(this.#clock());
      if (row.state === "running") {
        if (row.lease_expires_at === null || row.lease_expires_at.getTime() > now.getTime()) return null;
        // The holder died: its try ends failed before the next one starts.
        const expired = { state: "failed", tryNumber: row.try_number, reason: "lease expired" } as const;
        row = await this.#setTask(db, row, { ...expired, owner: row.lease_owner }, now);
      } else if (row.state !== "queued" && row.state !== "up_for_retry") {
        return null;
      }
      const lease = { owner, expiresAt: new Date(now.getTime() + leaseMs) };
      const next = { state: "running", tryNumber: row.try_number + 1, reason: null, owner, lease } as const;
      return toTaskInstance(await this.#setTask(db, row, next, now));
    });
  }

  async heartbeat(key: TaskInstanceKey, owner: string, tryNumber: number, leaseMs: number): Promise<boolean> {
    checkLease(owner, leaseMs);
    const now = this.#clock();
    // One UPDATE: it waits for any transaction on the row and checks the lease on the row as committed.
    const changed = await this.#run(
      `heartbeating task "${key.taskId}" of run "${key.runId}"`,
      this.#sql.extendLease,
      [...keyParams(key), owner, tryNumber, new Date(now), new Date(now + leaseMs)],
    );
    return changed === 1;
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
    return this.#transaction(`finishing task "${key.taskId}" of run "${key.runId}"`, async (db) => {
      const row = (await db.query<TaskRow>(this.#sql.taskForUpdate, keyParams(key))).rows[0];
      const now = new Date(this.#clock());
      if (row === undefined || !holds(row, owner, tryNumber, now.getTime())) return false;
      await this.#setTask(db, row, { state: outcome, tryNumber, reason: reason ?? null, owner }, now);
      return true;
    });
  }

  async expiredLeases(now: Date): Promise<TaskInstance[]> {
    const at = checkedDate(now, "now");
    return (await this.#read<TaskRow>("finding expired leases", this.#sql.expired, [at])).map(toTaskInstance);
  }

  async history(dagId: string, runId: string): Promise<Transition[]> {
    const rows = await this.#read<TransitionRow>("reading a run's history", this.#sql.transitions, [
      dagId,
      runId,
    ]);
    return rows.map((row) => ({
      dagId: row.dag_id,
      runId: row.run_id,
      taskId: row.task_id,
      from: row.from_state,
      to: row.to_state,
      tryNumber: row.try_number,
      owner: row.owner,
      reason: row.reason,
      at: row.at,
    }));
  }

  /** Ends the handle's connections; closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end().catch(() => undefined);
  }

  /** Writes the instance's new state (and lease, or none) and its transition; returns the row as written. */
  async #setTask(
    db: PoolClient,
    row: TaskRow,
    set: {
      state: TaskState;
      tryNumber: number;
      reason: string | null;
      owner: string | null;
      lease?: { owner: string; expiresAt: Date };
    },
    now: Date,
  ): Promise<TaskRow> {
    const result = await db.query<TaskRow>(this.#sql.updateTask, [
      row.dag_id,
      row.run_id,
      row.task_id,
      set.state,
      set.tryNumber,
      set.lease?.owner ?? null,
      set.lease?.expiresAt ?? null,
      set.reason,
      now,
      row.state,
      set.owner,
    ]);
    return result.rows[0]!;
  }

  #check(): void {
    if (this.#closed) {
      throw new OrchestrateError(
        OrchestrateErrorCode.closed,
        `The run store at ${this.url} is closed; open a new PostgresRunStore.`,
      );
    }
  }

  async #read<R extends QueryResultRow>(during: string, sql: string, params: unknown[]): Promise<R[]> {
    this.#check();
    try {
      return (await this.#pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw this.#failure(error, during);
    }
  }

  /** Runs one statement on its own (autocommit); returns the rows it changed. */
  async #run(during: string, sql: string, params: unknown[]): Promise<number> {
    this.#check();
    try {
      return (await this.#pool.query(sql, params)).rowCount ?? 0;
    } catch (error) {
      throw this.#failure(error, during);
    }
  }

  /** Runs `work` between BEGIN and COMMIT on one connection, ROLLBACK when it throws. */
  async #transaction<T>(during: string, work: (db: PoolClient) => Promise<T>): Promise<T> {
    this.#check();
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#failure(error, during);
    }
    // A connection whose ROLLBACK failed is in no known state: closed, not reused.
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw this.#failure(error, during);
    } finally {
      client.release(broken);
    }
  }

  #failure(error: unknown, during: string): OrchestrateError {
    return toRunStoreError(error, during, this.url);
  }
}

/** Whether `owner` holds try `tryNumber` of the row at `nowMs`. */
function holds(row: TaskRow, owner: string, tryNumber: number, nowMs: number): boolean {
  return (
    row.state === "running" &&
    row.lease_owner === owner &&
    row.try_number === tryNumber &&
    row.lease_expires_at !== null &&
    row.lease_expires_at.getTime() > nowMs
  );
}

/** The store's statements on the tables of `schema` (quoted). */
function statements(schema: string) {
  const runs = `${schema}.dag_runs`;
  const tasks = `${schema}.task_instances`;
  const transitions = `${schema}.transitions`;
  const taskByKey = `SELECT * FROM ${tasks} WHERE dag_id = $1 AND run_id = $2 AND task_id = $3`;
  return {
    version: `SELECT version FROM ${schema}.schema_version`,
    insertVersion: `INSERT INTO ${schema}.schema_version (version) VALUES ($1)`,
    run: `SELECT * FROM ${runs} WHERE dag_id = $1 AND run_id = $2`,
    runForUpdate: `SELECT * FROM ${runs} WHERE dag_id = $1 AND run_id = $2 FOR UPDATE`,
    runByLogicalDate: `SELECT * FROM ${runs} WHERE dag_id = $1 AND logical_date = $2`,
    runsOfDag: `SELECT * FROM ${runs} WHERE dag_id = $1 ORDER BY logical_date`,
    runsOfDagIn: `SELECT * FROM ${runs} WHERE dag_id = $1 AND state = ANY($2::text[]) ORDER BY logical_date`,
    insertRun: `INSERT INTO ${runs}
        (dag_id, run_id, logical_date, interval_start, interval_end, run_type, state, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)
      ON CONFLICT DO NOTHING
      RETURNING *`,
    updateRunState: `UPDATE ${runs} SET state = $3, updated_at = $4 WHERE dag_id = $1 AND run_id = $2 RETURNING *`,
    insertRunTransition: `INSERT INTO ${transitions}
        (dag_id, run_id, task_id, from_state, to_state, try_number, owner, reason, at)
      VALUES ($1, $2, NULL, $3, $4, 0, NULL, $5, $6)`,
    // The run's task instances, queued, and their transitions, in the order of the ids.
    insertTasks: `WITH ids AS (SELECT id, ordinal FROM unnest($3::text[]) WITH ORDINALITY AS t (id, ordinal)),
      inserted AS (
        INSERT INTO ${tasks} (dag_id, run_id, task_id, ordinal, state, try_number, updated_at)
        SELECT $1::text, $2::text, id, ordinal - 1, 'queued', 0, $4::timestamptz FROM ids
      )
      INSERT INTO ${transitions} (dag_id, run_id, task_id, from_state, to_state, try_number, owner, reason, at)
      SELECT $1::text, $2::text, id, NULL, 'queued', 0, NULL, NULL, $4::timestamptz FROM ids ORDER BY ordinal`,
    task: taskByKey,
    taskForUpdate: `${taskByKey} FOR UPDATE`,
    taskToClaim: `${taskByKey} FOR UPDATE SKIP LOCKED`,
    tasksOfRun: `SELECT * FROM ${tasks} WHERE dag_id = $1 AND run_id = $2 ORDER BY ordinal`,
    // $10 is the state before, $11 who made the change.
    updateTask: `WITH updated AS (
        UPDATE ${tasks}
        SET state = $4, try_number = $5, lease_owner = $6, lease_expires_at = $7, reason = $8, updated_at = $9
        WHERE dag_id = $1 AND run_id = $2 AND task_id = $3
        RETURNING *
      ),
      logged AS (
        INSERT INTO ${transitions} (dag_id, run_id, task_id, from_state, to_state, try_number, owner, reason, at)
        SELECT dag_id, run_id, task_id, $10::text, state, try_number, $11::text, reason, updated_at FROM updated
      )
      SELECT * FROM updated`,
    extendLease: `UPDATE ${tasks} SET lease_expires_at = $7, updated_at = $6
      WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND state = 'running' AND lease_owner = $4
        AND try_number = $5 AND lease_expires_at > $6`,
    expired: `SELECT * FROM ${tasks} WHERE state = 'running' AND lease_expires_at <= $1
      ORDER BY lease_expires_at, dag_id, run_id, ordinal`,
    transitions: `SELECT * FROM ${transitions} WHERE dag_id = $1 AND run_id = $2 ORDER BY seq`,
  };
}

function keyParams(key: TaskInstanceKey): [string, string, string] {
  return [key.dagId, key.runId, key.taskId];
}

function toRun(row: RunRow): DagRun {
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    logicalDate: row.logical_date,
    dataIntervalStart: row.interval_start,
    dataIntervalEnd: row.interval_end,
    runType: row.run_type,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
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
    leaseExpiresAt: row.lease_expires_at,
    reason: row.reason,
    updatedAt: row.updated_at,
  };
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function checkSchemaName(schema: string): void {
  if (typeof schema !== "string" || schema === "" || schema.includes("\0")) {
    throw badArgument(
      `The run store's schema must be a non-empty name without NUL, got ${JSON.stringify(schema)}.`,
    );
  }
  if (Buffer.byteLength(schema, "utf8") > MAX_NAME_BYTES) {
    throw badArgument(
      `The run store's schema ${JSON.stringify(schema)} is longer than ${MAX_NAME_BYTES} bytes, which PostgreSQL would cut; use a shorter one.`,
    );
  }
}

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw badArgument(`PostgresRunStore ${what} must be a whole number > 0, got ${value}.`);
  }
  return value;
}

function checkedDate(date: Date, name: string): Date {
  if (!(date instanceof Date) || Number.isNaN(date.getTime()))
    throw badArgument(`${name} must be a valid Date.`);
  return date;
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
