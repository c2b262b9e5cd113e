// The run store's tables in a PostgreSQL schema: dag_runs (one per DAG and logical date), task_instances (the current try and its lease), transitions (the history).

/** The version the schema_version table records; bump it, with an upgrade, when the tables change. */
export const SCHEMA_VERSION = 1;

/** The schema the tables go in unless the caller names another. */
export const DEFAULT_SCHEMA = "pulse_runs";

/**
 * Times are timestamptz, always the store's clock's, never the server's now(). A run is unique per
 * (dag_id, logical_date). A task instance's row holds its current state and try; its lease (owner, expiry)
 * is set only while it is running, and the row's lock (SELECT … FOR UPDATE) is what serializes claims.
 * transitions is append-only, ordered by seq: one row per change of a run's (task_id NULL) or task's
 * state. There are no foreign keys: a key check would share-lock the run's row and make every claim wait
 * for a run's state change.
 *
 * `schema` is already quoted. Every statement is idempotent; open() runs them under an advisory lock, so
 * two processes opening a new database at once do not race on the catalog.
 */
export function schemaStatements(schema: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${schema}.dag_runs (
      dag_id         text        NOT NULL,
      run_id         text        NOT NULL,
      logical_date   timestamptz NOT NULL,
      interval_start timestamptz NOT NULL,
      interval_end   timestamptz NOT NULL,
      run_type       text        NOT NULL,
      state          text        NOT NULL,
      created_at     timestamptz NOT NULL,
      updated_at     timestamptz NOT NULL,
      PRIMARY KEY (dag_id, run_id),
      UNIQUE (dag_id, logical_date)
    )`,
    `CREATE TABLE IF NOT EXISTS ${schema}.task_instances (
      dag_id           text        NOT NULL,
      run_id           text        NOT NULL,
      task_id          text        NOT NULL,
      ordinal          integer     NOT NULL,
      state            text        NOT NULL,
      try_number       integer     NOT NULL,
      lease_owner      text,
      lease_expires_at timestamptz,
      reason           text,
      updated_at       timestamptz NOT NULL,
      PRIMARY KEY (dag_id, run_id, task_id)
    )`,
    `CREATE INDEX IF NOT EXISTS task_instances_by_lease ON ${schema}.task_instances (lease_expires_at)
      WHERE state = 'running'`,
    `CREATE TABLE IF NOT EXISTS ${schema}.transitions (
      seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      dag_id     text        NOT NULL,
      run_id     text        NOT NULL,
      task_id    text,
      from_state text,
      to_state   text        NOT NULL,
      try_number integer     NOT NULL,
      owner      text,
      reason     text,
      at         timestamptz NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS transitions_by_run ON ${schema}.transitions (dag_id, run_id, seq)`,
    `CREATE TABLE IF NOT EXISTS ${schema}.schema_version (version integer NOT NULL)`,
  ];
}
