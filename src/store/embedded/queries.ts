// The embedded live store's reads: live windows merged over partitions in SQL, per-partition rows for the alerter, top pages, alerts, late events, checkpoints.
import type Database from "better-sqlite3";
import type { SqliteFile } from "../../sqlite/lifecycle.ts";
import type * as Live from "../index.ts";
import { LiveStoreReads } from "../reads.ts";
import { ACTIVITY_METRICS, mergeTopPages, toActivityWindow, WIKI_METRICS } from "../rows.ts";

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
type StoredWindowRow = Stored<Live.ActivityWindowRow | Live.WikiWindowRow>;
type MergedActivity = Omit<Live.ActivityWindow, "revenue" | "final"> & {
  revenue_cents: number;
  final: number;
};
type MergedWiki = Omit<Live.WikiWindow, "final"> & { final: number };

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
    activityWindowRows: db.prepare<[number, number, number], Stored<Live.ActivityWindowRow>>(
      windowRowsSql("activity_windows", "event_type", ACTIVITY_METRICS),
    ),
    wikiWindowRows: db.prepare<[number, number, number], Stored<Live.WikiWindowRow>>(
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
    alerts: db.prepare<[number], Live.AlertRow>(
      `SELECT series, window_start, window_end, observed, expected, score, kind, created_at
       FROM alerts ORDER BY window_start DESC, series LIMIT ?`,
    ),
    lateEvents: db.prepare<[number], Live.LateEventRow>(
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
 * The read half of the embedded LiveStore, which EmbeddedLiveStore extends with its commit and lifecycle:
 * SQL run through the store's file (SqliteFile), which turns failures into StoreErrors.
 */
export class EmbeddedQueries extends LiveStoreReads {
  readonly #file: SqliteFile;
  readonly #sql: ReturnType<typeof prepareQueries>;

  constructor(file: SqliteFile) {
    super();
    this.#file = file;
    this.#sql = prepareQueries(file.use());
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

  protected async latestActivityWindows(query: Live.WindowQuery): Promise<Live.ActivityWindow[]> {
    return this.#read("reading activity windows", () =>
      this.#sql.activityWindows.all({ windowMs: query.windowMs, last: query.last }).map(fromSql),
    );
  }

  protected async dailyActivity(range: { fromMs?: number; toMs?: number }): Promise<Live.ActivityWindow[]> {
    return this.#read("reading daily activity", () =>
      this.#sql.activityDaily.all({ fromMs: range.fromMs ?? null, toMs: range.toMs ?? null }).map(fromSql),
    );
  }

  protected async latestWikiWindows(query: Live.WindowQuery): Promise<Live.WikiWindow[]> {
    return this.#read("reading wiki windows", () =>
      this.#sql.wikiWindows
        .all({ windowMs: query.windowMs, last: query.last })
        .map((row) => ({ ...row, final: row.final === 1 })),
    );
  }

  protected async windowRows(
    rows: Live.WindowRows,
    range: Live.WindowRange,
  ): Promise<Array<Live.ActivityWindowRow | Live.WikiWindowRow>> {
    const activity = rows === "activity";
    const statement: Database.Statement<[number, number, number], StoredWindowRow> = activity
      ? this.#sql.activityWindowRows
      : this.#sql.wikiWindowRows;
    return this.#read(`reading ${activity ? "activity" : "wiki"} window rows`, () =>
      statement
        .all(range.windowMs, range.fromMs, range.toMs)
        .map((row) => ({ ...row, final: row.final === 1 }) as unknown as Live.ActivityWindowRow),
    );
  }

  protected async finalStarts(
    rows: Live.WindowRows,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>> {
    const statement = rows === "activity" ? this.#sql.activityFinalStarts : this.#sql.wikiFinalStarts;
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

  #read<T>(during: string, read: () => T): T {
    this.#file.use();
    return this.#file.run(during, read);
  }
}

function fromSql(row: MergedActivity): Live.ActivityWindow {
  return toActivityWindow(row, row.final === 1);
}
