// The LiveStore reads as every backend answers them: the store open, the arguments checked and the empty answers given alike, then the backend's query.
import type * as Live from "./index.ts";
import {
  checkDayRange,
  checkFinalStartsQuery,
  checkLimit,
  checkTopPagesQuery,
  checkWindowQuery,
  checkWindowRange,
} from "./validate.ts";

/**
 * Each backend's queries (src/store/embedded/queries.ts, src/store/mongo/queries.ts) extend this with the
 * protected queries below, which get checked arguments only; the store extends those with its commit.
 */
export abstract class LiveStoreReads {
  async activityWindows(query: Live.WindowQuery): Promise<Live.ActivityWindow[]> {
    this.requireOpen();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.latestActivityWindows(query);
  }

  async activityDaily(range: { fromMs?: number; toMs?: number } = {}): Promise<Live.ActivityWindow[]> {
    this.requireOpen();
    checkDayRange(range);
    return this.dailyActivity(range);
  }

  async wikiWindows(query: Live.WindowQuery): Promise<Live.WikiWindow[]> {
    this.requireOpen();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.latestWikiWindows(query);
  }

  async activityWindowRows(range: Live.WindowRange): Promise<Live.ActivityWindowRow[]> {
    this.requireOpen();
    checkWindowRange(range);
    return this.windowRows("activity", range) as Promise<Live.ActivityWindowRow[]>;
  }

  async wikiWindowRows(range: Live.WindowRange): Promise<Live.WikiWindowRow[]> {
    this.requireOpen();
    checkWindowRange(range);
    return this.windowRows("wikimedia", range) as Promise<Live.WikiWindowRow[]>;
  }

  async finalWindowStarts(
    rows: Live.WindowRows,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>> {
    this.requireOpen();
    checkFinalStartsQuery(rows, windowMs, fromMs);
    return this.finalStarts(rows, windowMs, fromMs);
  }

  async topPages(windowMs: number, limit: number): Promise<Live.LatestTopPages> {
    this.requireOpen();
    checkTopPagesQuery(windowMs, limit);
    return this.latestTopPages(windowMs, limit);
  }

  async alerts(limit: number): Promise<Live.AlertRow[]> {
    this.requireOpen();
    checkLimit("alerts limit", limit);
    if (limit === 0) return [];
    return this.newestAlerts(limit);
  }

  async lateEvents(limit: number): Promise<Live.LateEventRow[]> {
    this.requireOpen();
    checkLimit("lateEvents limit", limit);
    if (limit === 0) return [];
    return this.newestLateEvents(limit);
  }

  /** Fails with PULSE_STORE_CLOSED once the store is closed. */
  protected abstract requireOpen(): void;
  protected abstract latestActivityWindows(query: Live.WindowQuery): Promise<Live.ActivityWindow[]>;
  protected abstract dailyActivity(range: { fromMs?: number; toMs?: number }): Promise<Live.ActivityWindow[]>;
  protected abstract latestWikiWindows(query: Live.WindowQuery): Promise<Live.WikiWindow[]>;
  protected abstract windowRows(
    rows: Live.WindowRows,
    range: Live.WindowRange,
  ): Promise<Array<Live.ActivityWindowRow | Live.WikiWindowRow>>;
  protected abstract finalStarts(
    rows: Live.WindowRows,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>>;
  protected abstract latestTopPages(windowMs: number, limit: number): Promise<Live.LatestTopPages>;
  protected abstract newestAlerts(limit: number): Promise<Live.AlertRow[]>;
  protected abstract newestLateEvents(limit: number): Promise<Live.LateEventRow[]>;
}
