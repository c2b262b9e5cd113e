// The embedded live store's SQLite schema (version 4): window, alert, late-event and checkpoint tables, the raw lake's tables, and the conversions of older files.
import type Database from "better-sqlite3";
import { LAKE_SCHEMA, upgradeLakeTables } from "../../lake/embedded/index.ts";
import { type Series, SERIES } from "../series.ts";

/*
 * For each series (src/store/series.ts), its window and daily tables:
 *   activity_windows(window_ms, window_start, event_type, partition, event_count, unique_users, sessions, revenue_cents, final)
 *   activity_daily  (same columns)
 *   wiki_windows    (window_ms, window_start, wiki, partition, changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors, final)
 *   wiki_daily      (same columns)
 * and then:
 *   top_pages       (window_ms, window_start, partition, pages JSON text, final)
 *   alerts          (series, window_start, window_end, observed, expected, score, kind, created_at)
 *   late_events     (topic, partition, offset, event_time, watermark, payload)
 *   raw_topics, raw_batches, raw_segments: the raw lake (src/lake/embedded/schema.ts)
 *   checkpoints     (job, topic, partition, next_offset, updated_at)
 *   checkpoint_states (job, topic, partition, state BLOB)
 *
 * A window row stores its length, window_ms = window_end − window_start (> 0), instead of its end.
 * The key (window_start, window_end, key, partition) of the LiveStore contract is then the same key
 * as (window_ms, window_start, key, partition), and the window tables are WITHOUT ROWID tables with
 * that primary key: "the latest N windows of length L" is a backward walk of one key prefix, merging
 * partitions is a GROUP BY in key order, and no secondary index slows the hot upsert path. The daily
 * tables put window_start first instead, because they are read by a range of day starts. top_pages is
 * keyed (window_ms, window_start, partition) for the same reason as the window tables.
 *
 * A checkpoint's state (megabytes: the dedup ids and distinct-user sets of the watermark horizon) has a
 * table of its own: SQLite rewrites a whole row on UPDATE, overflow pages included, so with the state in
 * the checkpoints row every offset-only checkpoint (most batches; see Checkpoint.state) copied it.
 * Schemas 1 and 2 kept it there; opening such a file moves it.
 *
 * Invariants:
 *   - every write of one StoreBatch, checkpoints and raw-lake rows included, happens in one BEGIN
 *     IMMEDIATE transaction, so a crash leaves all of a batch or none of it, and a checkpoint never runs
 *     ahead of its rows;
 *   - every row write is an upsert on the row's contract key, so re-applying a batch changes nothing.
 */
export const SCHEMA_VERSION = 4;

/** A window table's primary key: by length then start, or (daily tables) by start then length. */
export function windowKeySql(key: string, daily: boolean): string {
  return daily ? `window_start, window_ms, ${key}, partition` : `window_ms, window_start, ${key}, partition`;
}

function windowTableSql(series: Series, daily: boolean): string {
  return `CREATE TABLE IF NOT EXISTS ${daily ? series.dailyTable : series.windowTable} (
  window_ms INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  ${series.key} TEXT NOT NULL,
  partition INTEGER NOT NULL,
  ${series.metricColumns.map((m) => `${m} NOT NULL`).join(",\n  ")},
  final INTEGER NOT NULL,
  PRIMARY KEY (${windowKeySql(series.key, daily)})
) WITHOUT ROWID;`;
}

export const SCHEMA = `
${SERIES.map((series) => `${windowTableSql(series, false)}\n${windowTableSql(series, true)}\n`).join("")}CREATE TABLE IF NOT EXISTS top_pages (
  window_ms INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  pages TEXT NOT NULL,
  final INTEGER NOT NULL,
  PRIMARY KEY (window_ms, window_start, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  series TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  observed REAL NOT NULL,
  expected REAL NOT NULL,
  score REAL NOT NULL,
  kind TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (series, window_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_newest ON alerts (window_start DESC, series);
CREATE TABLE IF NOT EXISTS late_events (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  event_time INTEGER NOT NULL,
  watermark INTEGER NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS late_events_newest ON late_events (watermark DESC, topic, partition, offset DESC);${LAKE_SCHEMA}CREATE TABLE IF NOT EXISTS checkpoints (
  job TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_states (
  job TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  state BLOB NOT NULL,
  PRIMARY KEY (job, topic, partition)
);
`;

/** Converts a file written with an older schema (openSqliteFile calls it after SCHEMA ran, in its transaction). */
export function upgradeSchema(db: Database.Database, fromVersion: number): void {
  upgradeLakeTables(db, fromVersion);
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('checkpoints')").all();
  if (fromVersion < 3 && columns.some((c) => c.name === "state")) {
    db.exec(`INSERT INTO checkpoint_states (job, topic, partition, state)
      SELECT job, topic, partition, state FROM checkpoints;
      ALTER TABLE checkpoints DROP COLUMN state;`);
  }
}
