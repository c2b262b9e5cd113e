// The Live page's pure figures: alerts as chart bands, and Wikimedia windows summed over wikis (no DOM, so tests run them in Node).

import type { Alert, WikiWindow } from "../api.ts";
import type { Band } from "../charts.ts";

/**
 * The alerts of one source's series (`<prefix>.<key>.<metric>`: `activity.VIEW.event_count`,
 * `wikimedia.all.edits`) as bands over their windows, labelled with the kind and the key.
 */
export function alertBands(alerts: readonly Alert[], prefix: "activity" | "wikimedia"): Band[] {
  return alerts
    .filter((a) => a.series.startsWith(`${prefix}.`))
    .map((a) => ({
      fromSec: a.window_start / 1000,
      toSec: a.window_end / 1000,
      kind: a.kind,
      label: `${a.kind} ${a.series.split(".")[1] ?? ""}`,
    }));
}

export interface WindowTotals {
  window_start: number;
  window_end: number;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  byte_delta: number;
  final: boolean;
}

/** Each window's figures summed over wikis, oldest first; `final` when every wiki's row is. */
export function windowTotals(windows: readonly WikiWindow[]): WindowTotals[] {
  const byStart = new Map<number, WindowTotals>();
  for (const w of windows) {
    let t = byStart.get(w.window_start);
    if (t === undefined) {
      t = {
        window_start: w.window_start,
        window_end: w.window_end,
        edits: 0,
        bot_edits: 0,
        human_edits: 0,
        new_pages: 0,
        byte_delta: 0,
        final: true,
      };
      byStart.set(w.window_start, t);
    }
    t.edits += w.edits;
    t.bot_edits += w.bot_edits;
    t.human_edits += w.human_edits;
    t.new_pages += w.new_pages;
    t.byte_delta += w.byte_delta;
    t.final &&= w.final;
  }
  return [...byStart.values()].sort((a, b) => a.window_start - b.window_start);
}

/** The `count` wikis with the most edits over `windows`, most first (ties by name). */
export function topWikis(windows: readonly WikiWindow[], count: number): string[] {
  const byWiki = new Map<string, number>();
  for (const w of windows) byWiki.set(w.wiki, (byWiki.get(w.wiki) ?? 0) + w.edits);
  return [...byWiki]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, count)
    .map(([wiki]) => wiki);
}
