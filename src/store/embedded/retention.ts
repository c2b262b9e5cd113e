// The embedded live store's retention of its query tables: window, top-page, alert and late-event rows before an event-time cutoff.
import type Database from "better-sqlite3";
import { SERIES } from "../series.ts";
import { windowKeySql } from "./schema.ts";

/** Rows deleted per transaction, so the stream job's commits never wait long for the write lock. */
const STEP_ROWS = 5000;

/** A table, its primary key (the tables are WITHOUT ROWID) and what makes one of its rows expired. */
interface Expiry {
  table: string;
  key: string;
  expired: string;
}

const WINDOW_EXPIRIES: readonly Expiry[] = [
  ...SERIES.map((series) => ({
    table: series.windowTable,
    key: windowKeySql(series.key, false),
    expired: "window_start + window_ms <= @beforeMs",
  })),
  {
    table: "top_pages",
    key: "window_ms, window_start, partition",
    expired: "window_start + window_ms <= @beforeMs",
  },
];
const ALERTS: Expiry = { table: "alerts", key: "series, window_start", expired: "window_end <= @beforeMs" };
const LATE_EVENTS: Expiry = {
  table: "late_events",
  key: "topic, partition, offset",
  expired: "event_time < @beforeMs",
};

/**
 * Deletes window and top-page rows whose window ended at or before `beforeMs`, alerts whose window did,
 * and late events whose event time is before it, a bounded step per BEGIN IMMEDIATE transaction. The
 * daily tables are kept (LiveStore.enforceRetention).
 */
export function deleteExpiredRows(
  db: Database.Database,
  beforeMs: number,
): { windows: number; alerts: number; lateEvents: number } {
  let windows = 0;
  for (const expiry of WINDOW_EXPIRIES) windows += deleteInSteps(db, expiry, beforeMs);
  return {
    windows,
    alerts: deleteInSteps(db, ALERTS, beforeMs),
    lateEvents: deleteInSteps(db, LATE_EVENTS, beforeMs),
  };
}

function deleteInSteps(db: Database.Database, { table, key, expired }: Expiry, beforeMs: number): number {
  const statement = db.prepare<{ beforeMs: number }>(
    `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${expired} LIMIT ${STEP_ROWS})`,
  );
  let deleted = 0;
  for (;;) {
    const changes = db.transaction(() => statement.run({ beforeMs }).changes).immediate();
    deleted += changes;
    if (changes < STEP_ROWS) return deleted;
  }
}
