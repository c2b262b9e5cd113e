// The run store file's tables: dag_runs (one per DAG and logical date), task_instances (the current try and its lease), transitions (the history).

/** The file's user_version; bump it, with an upgrade, when SCHEMA changes. */
export const SCHEMA_VERSION = 1;

/**
 * Times are milliseconds since the epoch. A run is unique per (dag_id, logical_date). A task instance's
 * row holds its current state and try; its lease (owner, expiry) is set only while it is running. The
 * transitions table is append-only: one row per change of a run's (task_id NULL) or task's state.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS dag_runs (
  dag_id         TEXT    NOT NULL,
  run_id         TEXT    NOT NULL,
  logical_date   INTEGER NOT NULL,
  interval_start INTEGER NOT NULL,
  interval_end   INTEGER NOT NULL,
  run_type       TEXT    NOT NULL,
  state          TEXT    NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (dag_id, run_id),
  UNIQUE (dag_id, logical_date)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS task_instances (
  dag_id           TEXT    NOT NULL,
  run_id           TEXT    NOT NULL,
  task_id          TEXT    NOT NULL,
  ordinal          INTEGER NOT NULL,
  state            TEXT    NOT NULL,
  try_number       INTEGER NOT NULL,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  reason           TEXT,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS task_instances_by_lease ON task_instances (state, lease_expires_at);

CREATE TABLE IF NOT EXISTS transitions (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  dag_id     TEXT    NOT NULL,
  run_id     TEXT    NOT NULL,
  task_id    TEXT,
  from_state TEXT,
  to_state   TEXT    NOT NULL,
  try_number INTEGER NOT NULL,
  owner      TEXT,
  reason     TEXT,
  at         INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS transitions_by_run ON transitions (dag_id, run_id, seq);
`;
