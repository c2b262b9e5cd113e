// The window rows as every LiveStore backend handles them: each kind's metrics, a merged activity row as the store answers it, top pages merged over partitions.
import type { ActivityWindow, ActivityWindowRow, TopPagesRow } from "./index.ts";
import { compareText } from "./validate.ts";

export const ACTIVITY_METRICS = ["event_count", "unique_users", "sessions", "revenue_cents"] as const;
export const WIKI_METRICS = [
  "changes",
  "edits",
  "bot_edits",
  "human_edits",
  "new_pages",
  "byte_delta",
  "unique_editors",
] as const;

/** A merged activity row as the LiveStore answers it: revenue in currency units. */
export function toActivityWindow(
  row: Omit<ActivityWindowRow, "partition" | "final">,
  final: boolean,
): ActivityWindow {
  return {
    window_start: row.window_start,
    window_end: row.window_end,
    event_type: row.event_type,
    event_count: row.event_count,
    unique_users: row.unique_users,
    sessions: row.sessions,
    // Summed in integer cents and divided once, so merging partitions adds no rounding error.
    revenue: row.revenue_cents / 100,
    final,
  };
}

/** Top pages of one window merged over partitions: edits summed per page, most edited first, then by name. */
export function mergeTopPages(lists: Iterable<TopPagesRow["pages"]>, limit: number): TopPagesRow["pages"] {
  const edits = new Map<string, { wiki: string; title: string; edits: number }>();
  for (const pages of lists) {
    for (const page of pages) {
      const id = `${page.wiki}\u0000${page.title}`;
      const seen = edits.get(id);
      if (seen === undefined) edits.set(id, { wiki: page.wiki, title: page.title, edits: page.edits });
      else seen.edits += page.edits;
    }
  }
  return [...edits.values()]
    .sort((a, b) => b.edits - a.edits || compareText(a.wiki, b.wiki) || compareText(a.title, b.title))
    .slice(0, limit);
}
