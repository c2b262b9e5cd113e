// The embedded live store's reads: live windows merged over partitions in SQL, per-partition rows for the alerter, top pages, alerts, late events, checkpoints.
import type Database from "better-sqlite3";
import type {
  ActivityWindow,
  ActivityWindowRow,
  AlertRow,
  LateEventRow,
  LatestTopPages,
  StoredCheckpoint,
  TopPagesRow,
  WikiWindow,
  WikiWindowRow,
  WindowQuery,
  WindowRange,
  WindowRows,
} from "../index.ts";
import {
  checkDayRange,
  checkFinalStartsQuery,
  checkTopPagesQuery,
  checkLimit,
  checkWindowQuery,
  checkWindowRange,
  mergeTopPages,
  toActivityWindow,
} from "../validate.ts";
import { ACTIVITY_METRICS, WIKI_METRICS } from "./schema.ts";

function mergedWindowsSql(table: string, key: string, metrics: readonly string[]): string {
  return `WITH starts AS (
    SELECT DISTINCT window_start FROM ${table} WHERE window_ms = @windowMs ORDER BY window_start DESC LIMIT @last
  )
  SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${metrics.map((m) => `sum(${m}) AS ${m}`).join(", ")}, min(final) AS final
  FROM ${table}
  WHERE window_ms = @windowMs AND window_start >= (SELECT min(window_start) FROM starts)
  GROUP BY window_start, ${key}
  ORDER BY window_start, ${key}`;
}

/** Rows per partition of windows of one length starting in [from, to) (activityWindowRows, wikiWindowRows). */
function windowRowsSql(table: string, key: string, metrics: readonly string[]): string {
  return `SELECT window_start, window_start + window_ms AS window_end, ${key}, partition, ${metrics.join(", ")}, final
  FROM ${table} WHERE window_ms = ? AND window_start >= ? AND window_start < ?
  ORDER BY window_start, ${key}, partition`;
}

/** Per partition, the newest final window_start of one length from a start on (finalWindowStarts). */
function finalStartsSql(table: string): string {
  return `SELECT partition, max(window_start) AS start FROM ${table}
  WHERE window_ms = ? AND window_start >= ? AND final = 1 GROUP BY partition`;
}

function mergedDailySql(table: string, key: string, metrics: readonly string[]): string {
  return `SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${metrics.map((m) => `sum(${m}) AS ${m}`).join(", ")}, min(final) AS final
  FROM ${table}
  WHERE (@fromMs IS NULL OR window_start >= @fromMs) AND (@toMs IS NULL OR window_start < @toMs)
  GROUP BY window_start, window_ms, ${key}
  ORDER BY window_start, window_ms, ${key}`;
}

/** A row as SQLite gives it back: `final` as 0 or 1. */
type Stored<R extends { final: boolean }> = Omit<R, "final"> & { final: number };
type FinalStart = { partition: number; start: number };
type MergedActivity = Omit<ActivityWindow, "revenue" | "final"> & { revenue_cents: number; final: number };
type MergedWiki = Omit<WikiWindow, "final"> & { final: number };

function prepareQueries(db: Database.Database) {
  return {
    activityWindows: db.prepare<{ windowMs: number; last: number }, MergedActivity>(
      mergedWindowsSql("activity_windows", "event_type", ACTIVITY_METRICS),
    ),
    activityDaily: db.prepare<{ fromMs: number | null; toMs: number | null }, MergedActivity>(
      mergedDailySql("activity_daily", "event_type", ACTIVITY_METRICS),
    ),
    wikiWindows: db.prepare<{ windowMs: number; last: number }, MergedWiki>(
      mergedWindowsSql("wiki_windows", "wiki", WIKI_METRICS),
    ),
    activityWindowRows: db.prepare<[number, number, number], Stored<ActivityWindowRow>>(
      windowRowsSql("activity_windows", "event_type", ACTIVITY_METRICS),
    ),
    wikiWindowRows: db.prepare<[number, number, number], Stored<WikiWindowRow>>(
      windowRowsSql("wiki_windows", "wiki", WIKI_METRICS),
    ),
    activityFinalStarts: db.prepare<[number, number], FinalStart>(finalStartsSql("activity_windows")),
    wikiFinalStarts: db.prepare<[number, number], FinalStart>(finalStartsSql("wiki_windows")),
    latestTopPages: db
      .prepare<[number], number | null>("SELECT max(window_start) FROM top_pages WHERE window_ms = ?")
      .pluck(),
    topPagesAt: db
      .prepare<[number, number], string>(
        "SELECT pages FROM top_pages WHERE window_ms = ? AND window_start = ? ORDER BY partition",
      )
      .pluck(),
    alerts: db.prepare<[number], AlertRow>(
      `SELECT series, window_start, window_end, observed, expected, score, kind, created_at
       FROM alerts ORDER BY window_start DESC, series LIMIT ?`,
    ),
    lateEvents: db.prepare<[number], LateEventRow>(
      `SELECT topic, partition, offset, event_time, watermark, payload
       FROM late_events ORDER BY watermark DESC, topic, partition, offset DESC LIMIT ?`,
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
 * The reads as SQLite runs them, synchronously; each checks its arguments first. The store runs them
 * through its connection, which turns failures into StoreErrors.
 */
export class StoreQueries {
  readonly #sql: ReturnType<typeof prepareQueries>;

  constructor(db: Database.Database) {
    this.#sql = prepareQueries(db);
  }

  checkpoints(job: string, topic: string): StoredCheckpoint[] {
    return this.#sql.checkpoints.all(job, topic).map((row) => ({
      job,
      topic,
      partition: row.partition,
      nextOffset: row.next_offset,
      state: new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength),
      updatedAt: row.updated_at,
    }));
  }

  checkpointOffsets(job: string, topic: string): Map<number, number> {
    return new Map(
      this.#sql.checkpointOffsets.all(job, topic).map((row) => [row.partition, row.next_offset]),
    );
  }

  activityWindows(query: WindowQuery): ActivityWindow[] {
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#sql.activityWindows.all({ windowMs: query.windowMs, last: query.last }).map(fromSql);
  }

  activityDaily(range: { fromMs?: number; toMs?: number }): ActivityWindow[] {
    checkDayRange(range);
    return this.#sql.activityDaily
      .all({ fromMs: range.fromMs ?? null, toMs: range.toMs ?? null })
      .map(fromSql);
  }

  wikiWindows(query: WindowQuery): WikiWindow[] {
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#sql.wikiWindows
      .all({ windowMs: query.windowMs, last: query.last })
      .map((row) => ({ ...row, final: row.final === 1 }));
  }

  activityWindowRows(range: WindowRange): ActivityWindowRow[] {
    return windowRows(this.#sql.activityWindowRows, range);
  }

  wikiWindowRows(range: WindowRange): WikiWindowRow[] {
    return windowRows(this.#sql.wikiWindowRows, range);
  }

  finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Map<number, number> {
    checkFinalStartsQuery(rows, windowMs, fromMs);
    const statement = rows === "activity" ? this.#sql.activityFinalStarts : this.#sql.wikiFinalStarts;
    const starts = new Map<number, number>();
    for (const row of statement.all(windowMs, fromMs)) starts.set(row.partition, row.start);
    return starts;
  }

  topPages(windowMs: number, limit: number): LatestTopPages {
    checkTopPagesQuery(windowMs, limit);
    const start = this.#sql.latestTopPages.get(windowMs);
    if (start === null || start === undefined) return { window_start: 0, window_end: 0, pages: [] };
    const pages = mergeTopPages(
      this.#sql.topPagesAt.all(windowMs, start).map((text) => JSON.parse(text) as TopPagesRow["pages"]),
      limit,
    );
    return { window_start: start, window_end: start + windowMs, pages };
  }

  alerts(limit: number): AlertRow[] {
    checkLimit("alerts limit", limit);
    return this.#sql.alerts.all(limit);
  }

  lateEvents(limit: number): LateEventRow[] {
    checkLimit("lateEvents limit", limit);
    return this.#sql.lateEvents.all(limit);
  }
}

function windowRows<R extends { final: boolean }>(
  statement: Database.Statement<[number, number, number], Stored<R>>,
  range: WindowRange,
): R[] {
  checkWindowRange(range);
  return statement
    .all(range.windowMs, range.fromMs, range.toMs)
    .map((row) => ({ ...row, final: row.final === 1 }) as unknown as R);
}

function fromSql(row: MergedActivity): ActivityWindow {
  return toActivityWindow(row, row.final === 1);
}
