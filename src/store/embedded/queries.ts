// The embedded live store's reads: each series' windows merged over partitions in SQL, per-partition rows for the alerter, top pages, alerts, late events, checkpoints.
import type Database from "better-sqlite3";
import type { SqliteFile } from "../../sqlite/lifecycle.ts";
import type * as Live from "../index.ts";
import { LiveStoreReads } from "../reads.ts";
import { type MergedRow, type MetricMerge, SERIES, type Series } from "../series.ts";
import { mergeTopPages } from "../top-pages.ts";

/** Each way a metric merges over partitions, as an SQL aggregate. */
const MERGE_SQL: Record<MetricMerge, string> = { sum: "sum" };

/** The merged metrics of a series, in table order. */
function mergedMetricsSql(series: Series): string {
  return series.metricColumns.map((m) => `${MERGE_SQL[series.metrics[m]!]}(${m}) AS ${m}`).join(", ");
}

function mergedWindowsSql(series: Series): string {
  const { windowTable: table, key } = series;
  return `WITH starts AS (
    SELECT DISTINCT window_start FROM ${table} WHERE window_ms = @windowMs ORDER BY window_start DESC LIMIT @last
  )
  SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${mergedMetricsSql(series)}, min(final) AS final
  FROM ${table}
  WHERE window_ms = @windowMs AND window_start >= (SELECT min(window_start) FROM starts)
  GROUP BY window_start, ${key}
  ORDER BY window_start, ${key}`;
}

/** Rows per partition of windows of one length starting in [from, to) (windowRows). */
function windowRowsSql(series: Series): string {
  const { windowTable: table, key } = series;
  return `SELECT window_start, window_start + window_ms AS window_end, ${key}, partition, ${series.metricColumns.join(", ")}, final
  FROM ${table} WHERE window_ms = ? AND window_start >= ? AND window_start < ?
  ORDER BY window_start, ${key}, partition`;
}

/** Per partition, the newest final window_start of one length from a start on (finalWindowStarts). */
function finalStartsSql(series: Series): string {
  return `SELECT partition, max(window_start) AS start FROM ${series.windowTable}
  WHERE window_ms = ? AND window_start >= ? AND final = 1 GROUP BY partition`;
}

function mergedDailySql(series: Series): string {
  const { dailyTable: table, key } = series;
  return `SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${mergedMetricsSql(series)}, min(final) AS final
  FROM ${table}
  WHERE (@fromMs IS NULL OR window_start >= @fromMs) AND (@toMs IS NULL OR window_start < @toMs)
  GROUP BY window_start, window_ms, ${key}
  ORDER BY window_start, window_ms, ${key}`;
}

/** A row as SQLite gives it back: `final` as 0 or 1. */
type Stored<R extends { final: boolean }> = Omit<R, "final"> & { final: number | boolean };
type FinalStart = { partition: number; start: number };

/** A series' read statements. */
function prepareSeriesQueries(db: Database.Database, series: Series) {
  return {
    windows: db.prepare<{ windowMs: number; last: number }, Stored<MergedRow>>(mergedWindowsSql(series)),
    daily: db.prepare<{ fromMs: number | null; toMs: number | null }, Stored<MergedRow>>(
      mergedDailySql(series),
    ),
    windowRows: db.prepare<[number, number, number], Stored<Live.WindowRowKey>>(windowRowsSql(series)),
    finalStarts: db.prepare<[number, number], FinalStart>(finalStartsSql(series)),
  };
}

function prepareQueries(db: Database.Database) {
  return {
    latestTopPages: db
      .prepare<[number], number | null>("SELECT max(window_start) FROM top_pages WHERE window_ms = ?")
      .pluck(),
    topPagesAt: db
      .prepare<[number, number], string>(
        "SELECT pages FROM top_pages WHERE window_ms = ? AND window_start = ? ORDER BY partition",
      )
      .pluck(),
    alerts: db.prepare<[number], Live.AlertRow>(
      `SELECT series, window_start, window_end, observed, expected, score, kind, created_at
       FROM alerts ORDER BY window_start DESC, series LIMIT ?`,
    ),
    lateEvents: db.prepare<[number], Live.LateEventRow>(
      `SELECT topic, partition, offset, event_time, watermark, payload
       FROM late_events ORDER BY watermark DESC, topic, partition, offset DESC LIMIT ?`,
    ),
    lateEventsIn: db.prepare<[string, number, number], Live.LateEventRow>(
      `SELECT topic, partition, offset, event_time, watermark, payload
       FROM late_events WHERE topic = ? AND event_time >= ? AND event_time < ? ORDER BY partition, offset`,
    ),
    checkpointOffsets: db.prepare<[string, string], { partition: number; next_offset: number }>(
      "SELECT partition, next_offset FROM checkpoints WHERE job = ? AND topic = ?",
    ),
    checkpoints: db.prepare<
      [string, string],
      { partition: number; next_offset: number; state: Buffer; updated_at: number }
    >(
      "SELECT c.partition, c.next_offset, s.state, c.updated_at FROM checkpoints c JOIN checkpoint_states s USING (job, topic, partition) WHERE c.job = ? AND c.topic = ? ORDER BY c.partition",
    ),
  };
}

/**
 * The read half of the embedded LiveStore, which EmbeddedLiveStore extends with its commit and lifecycle:
 * SQL run through the store's file (SqliteFile), which turns failures into StoreErrors.
 */
export class EmbeddedQueries extends LiveStoreReads {
  readonly #file: SqliteFile;
  readonly #sql: ReturnType<typeof prepareQueries>;
  /** Each series' statements, by name. */
  readonly #series: Map<string, ReturnType<typeof prepareSeriesQueries>>;

  constructor(file: SqliteFile) {
    super();
    this.#file = file;
    const db = file.use();
    this.#sql = prepareQueries(db);
    this.#series = new Map(SERIES.map((series) => [series.name, prepareSeriesQueries(db, series)]));
  }

  async checkpoints(job: string, topic: string): Promise<Live.StoredCheckpoint[]> {
    return this.#read("reading checkpoints", () =>
      this.#sql.checkpoints.all(job, topic).map((row) => ({
        job,
        topic,
        partition: row.partition,
        nextOffset: row.next_offset,
        state: new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength),
        updatedAt: row.updated_at,
      })),
    );
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    return this.#read(
      "reading checkpoint offsets",
      () =>
        new Map(this.#sql.checkpointOffsets.all(job, topic).map((row) => [row.partition, row.next_offset])),
    );
  }

  protected requireOpen(): void {
    this.#file.use();
  }

  protected async latestWindows(series: Series, query: Live.WindowQuery): Promise<unknown[]> {
    const statement = this.#statements(series).windows;
    return this.#read(`reading ${series.label} windows`, () =>
      statement.all({ windowMs: query.windowMs, last: query.last }).map((row) => presented(series, row)),
    );
  }

  protected async mergedDaily(series: Series, range: Live.DayRange): Promise<unknown[]> {
    const statement = this.#statements(series).daily;
    return this.#read(`reading daily ${series.label}`, () =>
      statement
        .all({ fromMs: range.fromMs ?? null, toMs: range.toMs ?? null })
        .map((row) => presented(series, row)),
    );
  }

  protected async partitionRows(series: Series, range: Live.WindowRange): Promise<Live.WindowRowKey[]> {
    const statement = this.#statements(series).windowRows;
    return this.#read(`reading ${series.label} window rows`, () =>
      statement.all(range.windowMs, range.fromMs, range.toMs).map(withFinal),
    );
  }

  protected async finalStarts(
    series: Series,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>> {
    const statement = this.#statements(series).finalStarts;
    return this.#read("reading final windows", () => {
      const starts = new Map<number, number>();
      for (const row of statement.all(windowMs, fromMs)) starts.set(row.partition, row.start);
      return starts;
    });
  }

  protected async latestTopPages(windowMs: number, limit: number): Promise<Live.LatestTopPages> {
    return this.#read("reading top pages", () => {
      const start = this.#sql.latestTopPages.get(windowMs);
      if (start === null || start === undefined) return { window_start: 0, window_end: 0, pages: [] };
      const pages = mergeTopPages(
        this.#sql.topPagesAt
          .all(windowMs, start)
          .map((text) => JSON.parse(text) as Live.TopPagesRow["pages"]),
        limit,
      );
      return { window_start: start, window_end: start + windowMs, pages };
    });
  }

  protected async newestAlerts(limit: number): Promise<Live.AlertRow[]> {
    return this.#read("reading alerts", () => this.#sql.alerts.all(limit));
  }

  protected async newestLateEvents(limit: number): Promise<Live.LateEventRow[]> {
    return this.#read("reading late events", () => this.#sql.lateEvents.all(limit));
  }

  protected async lateEventsIn(topic: string, fromMs: number, toMs: number): Promise<Live.LateEventRow[]> {
    return this.#read("reading late events", () => this.#sql.lateEventsIn.all(topic, fromMs, toMs));
  }

  #read<T>(during: string, read: () => T): T {
    this.#file.use();
    return this.#file.run(during, read);
  }

  #statements(series: Series): ReturnType<typeof prepareSeriesQueries> {
    return this.#series.get(series.name)!;
  }
}

/** A stored row with `final` as a boolean: SQLite gives it back as 0 or 1. */
function withFinal<R extends { final: boolean }>(row: Stored<R>): R {
  row.final = row.final === 1;
  return row as R;
}

/** A merged row as the series presents it. */
function presented(series: Series, row: Stored<MergedRow>): unknown {
  return series.present(withFinal(row));
}
