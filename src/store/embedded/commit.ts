// The embedded live store's commit: one BEGIN IMMEDIATE transaction writes a batch's rows, its raw-lake rows and its checkpoints, or none of them.
import type Database from "better-sqlite3";
import type { EmbeddedRawLake } from "../../lake/embedded/index.ts";
import type { LateEventRow, StoreBatch, WindowRowKey } from "../index.ts";
import { checkSeriesRows, SERIES, type Series } from "../series.ts";
import {
  checkCheckpoint,
  checkpointConflict,
  checkpointWithoutState,
  checkPartition,
  windowLength,
} from "../validate.ts";
import { windowKeySql } from "./schema.ts";

/** Rows bound per INSERT: one native call for many rows is much cheaper than one call per row. */
const INSERT_CHUNK = 50;

function placeholders(rows: number, row: string): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

function tuple(columns: number): string {
  return `(${Array.from({ length: columns }, () => "?").join(", ")})`;
}

/** The columns of a series' tables, in order: what upsertWindowSql inserts and windowBinder binds. */
function windowColumns(series: Series): string[] {
  return ["window_ms", "window_start", series.key, "partition", ...series.metricColumns, "final"];
}

function upsertWindowSql(series: Series, daily: boolean) {
  const columns = windowColumns(series);
  const updates = [...series.metricColumns, "final"].map((c) => `${c} = excluded.${c}`).join(", ");
  const table = daily ? series.dailyTable : series.windowTable;
  return (rows: number) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${placeholders(rows, tuple(columns.length))}
     ON CONFLICT (${windowKeySql(series.key, daily)}) DO UPDATE SET ${updates}`;
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
  readonly #bind: Binder<Row>;
  readonly #statements = new Map<number, Database.Statement>();
  readonly #args: unknown[][] = [];

  constructor(db: Database.Database, columns: number, sql: (rows: number) => string, bind: Binder<Row>) {
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
  /** Per series (in SERIES order), the writers of its window and daily rows. */
  readonly #series: ReadonlyArray<{
    name: string;
    windows: ChunkedWriter<WindowRowKey>;
    daily: ChunkedWriter<WindowRowKey>;
  }>;
  readonly #lateEvents: ChunkedWriter<LateEventRow>;

  constructor(db: Database.Database, lake: EmbeddedRawLake) {
    this.#sql = prepareCommitStatements(db);
    this.#lake = lake;
    this.#series = SERIES.map((series) => {
      // One binder per series, compiled here, shared by its two tables.
      const bind = windowBinder(series);
      const columns = windowColumns(series).length;
      return {
        name: series.name,
        windows: new ChunkedWriter<WindowRowKey>(db, columns, upsertWindowSql(series, false), bind),
        daily: new ChunkedWriter<WindowRowKey>(db, columns, upsertWindowSql(series, true), bind),
      };
    });
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
    const { windows, daily } = batch;
    checkSeriesRows(windows, "windows");
    checkSeriesRows(daily, "daily");
    for (const series of this.#series) {
      const windowRows = (windows as SeriesRowsByName | undefined)?.[series.name];
      if (windowRows?.length) series.windows.write(windowRows);
      const dailyRows = (daily as SeriesRowsByName | undefined)?.[series.name];
      if (dailyRows?.length) series.daily.write(dailyRows);
    }
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

/** StoreBatch.windows or .daily read by a series' name. */
type SeriesRowsByName = Readonly<Record<string, readonly WindowRowKey[] | undefined>>;

/** Binds one row's values at `at` of a multi-row statement's arguments. */
type Binder<Row> = (args: unknown[], at: number, row: Row) => void;

/**
 * A series' binder: a window row bound at `at` in its tables' column order (windowColumns): its length,
 * start, key and partition, the length and partition checked, then its metrics, then final. It runs for
 * every row of every commit, so it is compiled once per series into straight-line code, one property
 * read per column, rather than looping over the metric names for each row. The names it is built from
 * are identifiers (defineSeries checks them).
 */
export function windowBinder(series: Series): Binder<WindowRowKey> {
  const label = JSON.stringify(series.label);
  const lines = [
    `args[at] = windowLength(row, ${label});`,
    "args[at + 1] = row.window_start;",
    `args[at + 3] = checkPartition(row.partition, ${label});`,
    `args[at + 2] = row.${series.key};`,
    ...series.metricColumns.map((column, i) => `args[at + ${4 + i}] = row.${column};`),
    `args[at + ${4 + series.metricColumns.length}] = row.final ? 1 : 0;`,
  ];
  const compile = new Function(
    "windowLength",
    "checkPartition",
    `return function bind_${series.name}(args, at, row) {\n  ${lines.join("\n  ")}\n};`,
  );
  return compile(windowLength, checkPartition) as Binder<WindowRowKey>;
}

function bindLateEvent(args: unknown[], at: number, row: LateEventRow): void {
  args[at] = row.topic;
  args[at + 1] = checkPartition(row.partition, "lateEvents");
  args[at + 2] = row.offset;
  args[at + 3] = row.event_time;
  args[at + 4] = row.watermark;
  args[at + 5] = row.payload;
}
