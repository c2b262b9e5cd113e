// The MongoDB live store's retention of its query collections: window, top-page, alert and late-event documents before an event-time cutoff.
import type { Db } from "mongodb";
import { SERIES } from "../series.ts";

/**
 * Deletes window and top-page documents whose window ended at or before `beforeMs`, alerts whose window
 * did, and late events whose event time is before it. The daily collections are kept
 * (LiveStore.enforceRetention).
 */
export async function deleteExpiredDocuments(
  db: Db,
  beforeMs: number,
): Promise<{ windows: number; alerts: number; lateEvents: number }> {
  let windows = 0;
  for (const name of [...SERIES.map((series) => series.windowTable), "top_pages"]) {
    windows += (await db.collection(name).deleteMany({ window_end: { $lte: beforeMs } })).deletedCount;
  }
  const alerts = (await db.collection("alerts").deleteMany({ window_end: { $lte: beforeMs } })).deletedCount;
  const lateEvents = (await db.collection("late_events").deleteMany({ event_time: { $lt: beforeMs } }))
    .deletedCount;
  return { windows, alerts, lateEvents };
}
