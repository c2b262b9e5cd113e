// pulse up's retention round: the log's, then the live store's by the stream job's watermark, raw-lake batches only once the warehouse has loaded them.

import type { PulseConfig } from "../config/index.ts";
import { LOAD_STATE, RAW_TABLES, readLoadState } from "../load/index.ts";
import type { Log } from "../log/index.ts";
import type { LiveStore, StoreRetentionResult } from "../store/index.ts";
import { withWarehouse } from "./backends.ts";

const HOUR_MS = 3_600_000;
/** The least store retention the daily DAG works with: yesterday's rows must outlive its reconciliation. */
export const MIN_STORE_HOURS_WITH_SCHEDULER = 48;

/**
 * A warning when the store retention deletes what the built-in daily DAG needs, else undefined: it
 * reconciles yesterday against the live store's daily totals and late events, so with
 * retention.store_hours under 48 those rows can be gone before its run (or a catch-up run) reads them,
 * and the reconciliation then fails. A warning, not a refusal: a short retention with the scheduler on
 * is what a soak test wants.
 */
export function retentionSchedulerWarning(config: PulseConfig): string | undefined {
  const hours = config.retention.store_hours;
  if (config.orchestrator.scheduler !== "on" || hours <= 0 || hours >= MIN_STORE_HOURS_WITH_SCHEDULER)
    return undefined;
  return `retention.store_hours is ${hours}: the daily_metrics DAG reconciles each day against the live store's daily totals and late events, and a retention under ${MIN_STORE_HOURS_WITH_SCHEDULER} hours deletes them before it runs, so its reconcile task will fail. Set retention.store_hours (PULSE_STORE_RETENTION_HOURS) to ${MIN_STORE_HOURS_WITH_SCHEDULER} or more, or 0 to keep every row, or turn the scheduler off (orchestrator.scheduler: off).`;
}

export interface RetentionRound {
  /** Log records deleted. */
  logRecords: number;
  /** The live store's result; undefined when store retention is off or the job has no watermark yet. */
  store?: StoreRetentionResult;
  /** Why the raw lake was left alone this round, when it was. */
  lakeSkipped?: string;
}

export interface RetentionParts {
  log: Log;
  store: LiveStore;
  /** The stream job's event-time watermark; null before its first event. */
  watermarkMs: number | null;
  /**
   * True while a task try may hold the warehouse: an embedded DuckDB file takes one process at a time,
   * so the round then does not open it (failing the task) and uses `lastLoaded` instead.
   */
  warehouseBusy: () => boolean;
  /**
   * The load state the last round read, kept by the caller between rounds. A load only moves it
   * forward, so an older copy is a safe lower bound: a round that cannot read it deletes no more than
   * was loaded then.
   */
  lastLoaded?: { offsets?: Map<string, Map<number, number>> };
}

/** One round: the log's retention, then (retention.store_hours > 0) the live store's. */
export async function runRetentionRound(config: PulseConfig, parts: RetentionParts): Promise<RetentionRound> {
  const logRecords = await parts.log.enforceRetention();
  const hours = config.retention.store_hours;
  if (hours <= 0 || parts.watermarkMs === null) return { logRecords };
  let lakeSkipped: string | undefined;
  let loaded: Map<string, Map<number, number>> | undefined;
  if (!parts.warehouseBusy()) {
    try {
      loaded = await loadedOffsets(config);
      if (parts.lastLoaded !== undefined) parts.lastLoaded.offsets = loaded;
    } catch (error) {
      lakeSkipped = `the warehouse's load state could not be read (${(error as Error).message})`;
    }
  }
  if (loaded === undefined) {
    loaded = parts.lastLoaded?.offsets;
    if (loaded === undefined) lakeSkipped ??= "a batch task holds the warehouse";
    else lakeSkipped = undefined;
  }
  const store = await parts.store.enforceRetention({ beforeMs: parts.watermarkMs - hours * HOUR_MS, loaded });
  return { logRecords, store, ...(lakeSkipped !== undefined && { lakeSkipped }) };
}

/** topic → partition → last loaded offset, from the warehouse's load state (empty before the first load). */
export async function loadedOffsets(config: PulseConfig): Promise<Map<string, Map<number, number>>> {
  return withWarehouse(config, async (warehouse) => {
    const out = new Map<string, Map<number, number>>();
    const relations = await warehouse.relations(LOAD_STATE.schema);
    if (!relations.some((relation) => relation.name === LOAD_STATE.name)) return out;
    for (const table of RAW_TABLES) {
      const state = await readLoadState(warehouse, table.topic);
      out.set(table.topic, new Map([...state].map(([partition, s]) => [partition, s.lastOffset])));
    }
    return out;
  });
}

/** The round as one line for pulse up's output; undefined when it deleted and held nothing. */
export function describeRetentionRound(round: RetentionRound): string | undefined {
  const store = round.store;
  const parts: string[] = [];
  if (round.logRecords > 0) parts.push(`log ${round.logRecords} records`);
  if (store !== undefined) {
    if (store.windows + store.alerts + store.lateEvents > 0)
      parts.push(
        `store ${store.windows} window rows, ${store.alerts} alerts, ${store.lateEvents} late events`,
      );
    if (store.rawBatches > 0) parts.push(`raw lake ${store.rawBatches} batches (${store.rawEvents} events)`);
  }
  const notes: string[] = [];
  if (store !== undefined && store.rawPartitionsHeld > 0)
    notes.push(
      `${store.rawPartitionsHeld} raw-lake partitions hold batches past retention that the warehouse has not loaded yet (kept)`,
    );
  if (round.lakeSkipped !== undefined) notes.push(`raw lake left for the next round: ${round.lakeSkipped}`);
  if (parts.length === 0 && notes.length === 0) return undefined;
  return `retention: ${parts.length > 0 ? `deleted ${parts.join("; ")}` : "nothing deleted"}${notes.length > 0 ? `; ${notes.join("; ")}` : ""}`;
}
