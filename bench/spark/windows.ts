// The Spark bench's final windows from each side (DuckDB over the CSV, Pulse's live store, Spark's sink) and their comparison.

import { readFileSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
import Database from "better-sqlite3";
import { WINDOW_MS } from "./input.ts";

/** One final window: events after deduplication and exact distinct users, per (window start, event type). */
export interface WindowCounts {
  eventCount: number;
  uniqueUsers: number;
}

/** Keyed `${windowStartMs}|${eventType}`, event types as Pulse names them (VIEW, ADD_TO_CART, …). */
export type Windows = Map<string, WindowCounts>;

function key(windowStartMs: number, eventType: string): string {
  return `${windowStartMs}|${eventType}`;
}

/**
 * The reference, computed apart from both engines: DuckDB SQL over the whole CSV. Exact duplicate rows
 * share event_id, so DISTINCT on (event_id, event_time, …) keeps one of each; the window is the event
 * time truncated to the minute (1-minute tumbling windows from the epoch, as both engines align them).
 */
export async function referenceWindows(csv: string): Promise<Windows> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`
      WITH events AS (
        SELECT DISTINCT event_id, user_id, event_type,
          strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') AS event_time
        FROM read_csv('${csv.replaceAll("'", "''")}', header = true, all_varchar = true)
      )
      SELECT
        epoch_ms(time_bucket(INTERVAL '${WINDOW_MS / 1000} seconds', event_time))::BIGINT AS window_start,
        CASE event_type WHEN 'view' THEN 'VIEW' WHEN 'cart' THEN 'ADD_TO_CART'
          WHEN 'remove_from_cart' THEN 'REMOVE_FROM_CART' WHEN 'purchase' THEN 'PURCHASE' END AS event_type,
        count(*)::BIGINT AS event_count,
        count(DISTINCT user_id)::BIGINT AS unique_users
      FROM events GROUP BY ALL`);
    const windows: Windows = new Map();
    for (const [start, type, count, users] of reader.getRows()) {
      windows.set(key(Number(start), String(type)), {
        eventCount: Number(count),
        uniqueUsers: Number(users),
      });
    }
    return windows;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Pulse's final windows from its embedded live store: one row per (window, type, partition), summed over
 * partitions (the topic is keyed by user_id, so a user's events share a partition and the partitions'
 * distinct users add up).
 */
export function pulseWindows(storePath: string): Windows {
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare<
        [number],
        { window_start: number; event_type: string; events: number; users: number; open: number }
      >(
        `SELECT window_start, event_type, SUM(event_count) AS events, SUM(unique_users) AS users,
           SUM(final = 0) AS open
         FROM activity_windows WHERE window_ms = ? GROUP BY window_start, event_type`,
      )
      .all(WINDOW_MS);
    const windows: Windows = new Map();
    for (const r of rows) {
      if (r.open > 0) throw new Error(`Pulse's window ${r.window_start} ${r.event_type} is not final`);
      windows.set(key(r.window_start, r.event_type), { eventCount: r.events, uniqueUsers: r.users });
    }
    return windows;
  } finally {
    db.close();
  }
}

/** One row of the Spark job's sink (bench/spark/job.py): a final window and when its batch wrote it. */
export interface SparkSinkRow {
  window_start: number;
  event_type: string;
  event_count: number;
  unique_users: number;
  batch: number;
  written_ms: number;
}

export function readSparkSink(path: string): SparkSinkRow[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as SparkSinkRow);
}

/** Spark's final windows; a window written twice is an error (append mode writes each once). */
export function sparkWindows(rows: readonly SparkSinkRow[]): Windows {
  const windows: Windows = new Map();
  for (const r of rows) {
    const k = key(r.window_start, r.event_type);
    if (windows.has(k)) throw new Error(`Spark wrote window ${k} twice`);
    windows.set(k, { eventCount: r.event_count, uniqueUsers: r.unique_users });
  }
  return windows;
}

/** Null when `actual` equals `expected`; else what differs, the first few differences named. */
export function compareWindows(expected: Windows, actual: Windows): string | null {
  const diffs: string[] = [];
  let count = 0;
  for (const [k, e] of expected) {
    const a = actual.get(k);
    if (a === undefined || a.eventCount !== e.eventCount || a.uniqueUsers !== e.uniqueUsers) {
      count++;
      if (diffs.length < 5)
        diffs.push(
          `${k}: expected ${e.eventCount} events / ${e.uniqueUsers} users, got ${a === undefined ? "no window" : `${a.eventCount} / ${a.uniqueUsers}`}`,
        );
    }
  }
  for (const k of actual.keys()) {
    if (!expected.has(k)) {
      count++;
      if (diffs.length < 5) diffs.push(`${k}: not in the reference`);
    }
  }
  return count === 0 ? null : `${count} of ${expected.size} windows differ: ${diffs.join("; ")}`;
}

/** Events over all windows (after deduplication). */
export function totalEvents(windows: Windows): number {
  let n = 0;
  for (const w of windows.values()) n += w.eventCount;
  return n;
}
