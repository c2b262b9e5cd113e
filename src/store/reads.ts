// The LiveStore reads as every backend answers them: the store open, the arguments checked and the empty answers given alike, then the backend's query.
import type * as Live from "./index.ts";
import { checkSeries, type RowOf, type Series, type WindowOf } from "./series.ts";
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
  async windows<S extends Series>(series: S, query: Live.WindowQuery): Promise<WindowOf<S>[]> {
    this.requireOpen();
    checkSeries(series);
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return (await this.latestWindows(series, query)) as WindowOf<S>[];
  }

  async daily<S extends Series>(series: S, range: Live.DayRange = {}): Promise<WindowOf<S>[]> {
    this.requireOpen();
    checkSeries(series);
    checkDayRange(range);
    return (await this.mergedDaily(series, range)) as WindowOf<S>[];
  }

  async windowRows<S extends Series>(series: S, range: Live.WindowRange): Promise<RowOf<S>[]> {
    this.requireOpen();
    checkSeries(series);
    checkWindowRange(range);
    return (await this.partitionRows(series, range)) as RowOf<S>[];
  }

  async finalWindowStarts(series: Series, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    this.requireOpen();
    checkSeries(series);
    checkFinalStartsQuery(windowMs, fromMs);
    return this.finalStarts(series, windowMs, fromMs);
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

  async lateEventsBetween(topic: string, range: Required<Live.DayRange>): Promise<Live.LateEventRow[]> {
    this.requireOpen();
    checkDayRange(range);
    return this.lateEventsIn(topic, range.fromMs, range.toMs);
  }

  /** Fails with PULSE_STORE_CLOSED once the store is closed. */
  protected abstract requireOpen(): void;
  /** The latest windows of a series, merged and presented (series.present). */
  protected abstract latestWindows(series: Series, query: Live.WindowQuery): Promise<unknown[]>;
  /** A series' per-day rows, merged and presented. */
  protected abstract mergedDaily(series: Series, range: Live.DayRange): Promise<unknown[]>;
  /** A series' window rows per partition, as committed. */
  protected abstract partitionRows(series: Series, range: Live.WindowRange): Promise<Live.WindowRowKey[]>;
  protected abstract finalStarts(
    series: Series,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>>;
  protected abstract latestTopPages(windowMs: number, limit: number): Promise<Live.LatestTopPages>;
  protected abstract newestAlerts(limit: number): Promise<Live.AlertRow[]>;
  protected abstract newestLateEvents(limit: number): Promise<Live.LateEventRow[]>;
  /** A topic's late events with event time in [fromMs, toMs), by partition and offset. */
  protected abstract lateEventsIn(topic: string, fromMs: number, toMs: number): Promise<Live.LateEventRow[]>;
}
