// Window and alert rows for the LiveStore conformance cases: a valid row at T0, any field overridden.

import type { ActivityWindowRow, AlertRow, WikiWindowRow } from "../../src/store/index.ts";

const MINUTE = 60_000;
/** 2026-11-28T00:00:00Z: realistic epoch-ms magnitudes, well past 2^32. */
const T0 = Date.UTC(2026, 10, 28);

export function activity(overrides: Partial<ActivityWindowRow> = {}): ActivityWindowRow {
  const window_start = overrides.window_start ?? T0;
  return {
    partition: 0,
    window_start,
    window_end: window_start + MINUTE,
    event_type: "CLICK",
    event_count: 1,
    unique_users: 1,
    sessions: 1,
    revenue_cents: 0,
    final: true,
    ...overrides,
  };
}

export function wiki(overrides: Partial<WikiWindowRow> = {}): WikiWindowRow {
  const window_start = overrides.window_start ?? T0;
  return {
    partition: 0,
    window_start,
    window_end: window_start + MINUTE,
    wiki: "enwiki",
    changes: 1,
    edits: 1,
    bot_edits: 0,
    human_edits: 1,
    new_pages: 0,
    byte_delta: 10,
    unique_editors: 1,
    final: false,
    ...overrides,
  };
}

export function alert(overrides: Partial<AlertRow> = {}): AlertRow {
  const window_start = overrides.window_start ?? T0;
  return {
    series: "activity.CLICK",
    window_start,
    window_end: window_start + MINUTE,
    observed: 420,
    expected: 100.25,
    score: 6.75,
    kind: "spike",
    created_at: window_start + 2 * MINUTE,
    ...overrides,
  };
}
