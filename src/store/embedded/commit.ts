// The embedded live store's commit: one BEGIN IMMEDIATE transaction writes a batch's rows, its raw-lake rows and its checkpoints, or none of them.
import type Database from "better-sqlite3";
import type { EmbeddedRawLake } from "../../lake/embedded/index.ts";
import type { ActivityWindowRow, LateEventRow, StoreBatch, WikiWindowRow } from "../index.ts";
import {
  checkCheckpoint,
  checkpointConflict,
  checkpointWithoutState,
  checkPartition,
  windowLength,
} from "../validate.ts";
import { ACTIVITY_METRICS, WIKI_METRICS } from "../rows.ts";
import { windowKeySql } from "./schema.ts";

/** The window rows' kinds, as messages name them. */
type WindowKind = "activity" | "wiki";

/** Rows bound per INSERT: one native call for many rows is much cheaper than one call per row. */
const INSERT_CHUNK = 50;

function placeholders(rows: number, row: string): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

function tuple(columns: number): string {
  return `(${Array.from({ length: columns }, () => "?").join(", ")})`;
}

function upsertWindowSql(table: string, key: string, metrics: readonly string[], daily: boolean) {
  const columns = ["window_ms", "window_start", key, "partition", ...metrics, "final"];
  const updates = [...metrics, "final"].map((c) => `${c} = excluded.${c}`).join(", ");
  return (rows: number) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${placeholders(rows, tuple(columns.length))}
     ON CONFLICT (${windowKeySql(key, daily)}) DO UPDATE SET ${updates}`;
}

function prepareCommitStatements(db: Database.Database) {
  return {
    upsertTopPages: db.prepare(
      `INSERT INTO top_pages (window_ms, window_start, partition, pages, final) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (window_ms, window_start, partition) DO UPDATE SET pages = excluded.pages, final = excluded.final`,
    ),
    upsertAlert: db.prepare(
      `INSERT INTO alerts (series, window_start, window_end, observed, expected, score, kind, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (series, window_start) DO UPDATE SET window_end = excluded.window_end,
         observed = excluded.observed, expected = excluded.expected, score = excluded.score,
         kind = excluded.kind, created_at = excluded.created_at`,
    ),
    moveCheckpoint: db.prepare<[number, number, string, string, number]>(
      "UPDATE checkpoints SET next_offset = ?, updated_at = ? WHERE job = ? AND topic = ? AND partition = ?",
    ),
    upsertCheckpoint: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO checkpoints (job, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job, topic, partition) DO UPDATE SET next_offset = excluded.next_offset,
         updated_at = excluded.updated_at`,
    ),
    upsertCheckpointState: db.prepare<[string, string, number, Uint8Array]>(
      `INSERT INTO checkpoint_states (job, topic, partition, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (job, topic, partition) DO UPDATE SET state = excluded.state`,
    ),
    checkpointOffset: db.prepare<[string, string, number], { next_offset: number }>(
      "SELECT next_offset FROM checkpoints WHERE job = ? AND topic = ? AND partition = ?",
    ),
  };
}

/**
 * Writes rows with a reused multi-row statement of INSERT_CHUNK rows, and a lazily prepared one for
 * each tail size, into one reused argument array: the hot path allocates nothing per row.
 */
class ChunkedWriter<Row> {
  readonly #db: Database.Database;
  readonly #sql: (rows: number) => string;
  readonly #columns: number;
  readonly #bind: (args: unknown[], at: number, row: Row) => void;
  readonly #statements = new Map<number, Database.Statement>();
  readonly #args: unknown[][] = [];

  constructor(
    db: Database.Database,
    columns: number,
    sql: (rows: number) => string,
    bind: (args: unknown[], at: number, row: Row) => void,
  ) {
    this.#db = db;
    this.#columns = columns;
    this.#sql = sql;
    this.#bind = bind;
    this.#statement(INSERT_CHUNK);
  }

  write(rows: readonly Row[]): void {
    const n = rows.length;
    let i = 0;
    while (i < n) {
      const size = Math.min(INSERT_CHUNK, n - i);
      const statement = this.#statement(size);
      const args = this.#args[size];
      for (let j = 0; j < size; j++) this.#bind(args, j * this.#columns, rows[i + j]);
      statement.run(args);
      i += size;
    }
  }

  #statement(rows: number): Database.Statement {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      statement = this.#db.prepare(this.#sql(rows));
      this.#statements.set(rows, statement);
      this.#args[rows] = new Array(rows * this.#columns).fill(null);
    }
    return statement;
  }
}

/**
 * A batch's writes, run inside the store's commit transaction (`apply`): any throw rolls the whole
 * batch back, the lake's rows with it.
 */
export class StoreCommit {
  readonly #sql: ReturnType<typeof prepareCommitStatements>;
  readonly #lake: EmbeddedRawLake;
  readonly #activityWindows: ChunkedWriter<ActivityWindowRow | WikiWindowRow>;
  readonly #activityDaily: ChunkedWriter<ActivityWindowRow | WikiWindowRow>;
  readonly #wikiWindows: ChunkedWriter<ActivityWindowRow | WikiWindowRow>;
  readonly #wikiDaily: ChunkedWriter<ActivityWindowRow | WikiWindowRow>;
  readonly #lateEvents: ChunkedWriter<LateEventRow>;

  constructor(db: Database.Database, lake: EmbeddedRawLake) {
    this.#sql = prepareCommitStatements(db);
    this.#lake = lake;
    const windows = (
      table: string,
      kind: WindowKind,
      key: string,
      metrics: readonly string[],
      daily: boolean,
    ) =>
      new ChunkedWriter<ActivityWindowRow | WikiWindowRow>(
        db,
        5 + metrics.length,
        upsertWindowSql(table, key, metrics, daily),
        (args, at, row) => bindWindow(args, at, row, kind),
      );
    this.#activityWindows = windows("activity_windows", "activity", "event_type", ACTIVITY_METRICS, false);
    this.#activityDaily = windows("activity_daily", "activity", "event_type", ACTIVITY_METRICS, true);
    this.#wikiWindows = windows("wiki_windows", "wiki", "wiki", WIKI_METRICS, false);
    this.#wikiDaily = windows("wiki_daily", "wiki", "wiki", WIKI_METRICS, true);
    this.#lateEvents = new ChunkedWriter<LateEventRow>(
      db,
      6,
      (rows) =>
        `INSERT INTO late_events (topic, partition, offset, event_time, watermark, payload)
         VALUES ${placeholders(rows, tuple(6))}
         ON CONFLICT (topic, partition, offset) DO UPDATE SET event_time = excluded.event_time,
           watermark = excluded.watermark, payload = excluded.payload`,
      bindLateEvent,
    );
  }

  apply(batch: StoreBatch): void {
    // Fenced checkpoints first: a refused batch writes nothing.
    for (const checkpoint of batch.checkpoints) {
      if (checkpoint.expectedNextOffset === undefined) continue;
      const stored = this.#sql.checkpointOffset.get(checkpoint.job, checkpoint.topic, checkpoint.partition);
      const current = stored === undefined ? null : stored.next_offset;
      if (current !== checkpoint.expectedNextOffset) throw checkpointConflict(checkpoint, current);
    }
    if (batch.activityWindows?.length) this.#activityWindows.write(batch.activityWindows);
    if (batch.activityDaily?.length) this.#activityDaily.write(batch.activityDaily);
    if (batch.wikiWindows?.length) this.#wikiWindows.write(batch.wikiWindows);
    if (batch.wikiDaily?.length) this.#wikiDaily.write(batch.wikiDaily);
    for (const row of batch.topPages ?? []) {
      this.#sql.upsertTopPages.run(
        windowLength(row, "topPages"),
        row.window_start,
        checkPartition(row.partition, "topPages"),
        JSON.stringify(row.pages),
        row.final ? 1 : 0,
      );
    }
    for (const row of batch.alerts ?? []) {
      this.#sql.upsertAlert.run(
        row.series,
        row.window_start,
        row.window_end,
        row.observed,
        row.expected,
        row.score,
        row.kind,
        row.created_at,
      );
    }
    if (batch.lateEvents?.length) this.#lateEvents.write(batch.lateEvents);
    this.#lake.append(batch);
    for (const checkpoint of batch.checkpoints) {
      checkCheckpoint(checkpoint);
      if (checkpoint.state === undefined) {
        const moved = this.#sql.moveCheckpoint.run(
          checkpoint.nextOffset,
          checkpoint.updatedAt,
          checkpoint.job,
          checkpoint.topic,
          checkPartition(checkpoint.partition, "checkpoints"),
        );
        if (moved.changes === 0) throw checkpointWithoutState(checkpoint);
        continue;
      }
      this.#sql.upsertCheckpoint.run(
        checkpoint.job,
        checkpoint.topic,
        checkpoint.partition,
        checkpoint.nextOffset,
        checkpoint.updatedAt,
      );
      this.#sql.upsertCheckpointState.run(
        checkpoint.job,
        checkpoint.topic,
        checkpoint.partition,
        checkpoint.state,
      );
    }
  }
}

/**
 * Binds a window row at `at` in its table's column order (upsertWindowSql): its length, start, key and
 * partition, checked, then the kind's metrics (ACTIVITY_METRICS, WIKI_METRICS), then final. Written out
 * per kind rather than looped over the metric names: this runs for every row of every commit.
 */
function bindWindow(
  args: unknown[],
  at: number,
  row: ActivityWindowRow | WikiWindowRow,
  kind: WindowKind,
): void {
  args[at] = windowLength(row, kind);
  args[at + 1] = row.window_start;
  args[at + 3] = checkPartition(row.partition, kind);
  if (kind === "activity") {
    const activity = row as ActivityWindowRow;
    args[at + 2] = activity.event_type;
    args[at + 4] = activity.event_count;
    args[at + 5] = activity.unique_users;
    args[at + 6] = activity.sessions;
    args[at + 7] = activity.revenue_cents;
    args[at + 8] = activity.final ? 1 : 0;
    return;
  }
  const wiki = row as WikiWindowRow;
  args[at + 2] = wiki.wiki;
  args[at + 4] = wiki.changes;
  args[at + 5] = wiki.edits;
  args[at + 6] = wiki.bot_edits;
  args[at + 7] = wiki.human_edits;
  args[at + 8] = wiki.new_pages;
  args[at + 9] = wiki.byte_delta;
  args[at + 10] = wiki.unique_editors;
  args[at + 11] = wiki.final ? 1 : 0;
}

function bindLateEvent(args: unknown[], at: number, row: LateEventRow): void {
  args[at] = row.topic;
  args[at + 1] = checkPartition(row.partition, "lateEvents");
  args[at + 2] = row.offset;
  args[at + 3] = row.event_time;
  args[at + 4] = row.watermark;
  args[at + 5] = row.payload;
}
