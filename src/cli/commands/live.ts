// `pulse live activity|wikimedia`: the latest windows in the live store, as a table or JSON.

import { openStore } from "../../app/backends.ts";
import { UsageError } from "../../errors.ts";
import {
  ACTIVITY_SERIES,
  type ActivityWindow,
  WIKIMEDIA_SERIES,
  type WikiWindow,
} from "../../store/index.ts";
import { configFromFlags, durationFlag, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";

/** The same bound as the HTTP API: one command cannot ask the store for unbounded work. */
const MAX_LAST = 100_000;

export const liveCommand: Command = {
  summary: "print the latest live windows from the store (activity per event type, Wikimedia per wiki)",
  usage:
    "pulse live activity|wikimedia [--last N] [--window 1m] [--json] [--data-dir <dir>] [--config <file>]",
  async run(argv) {
    const { values, positionals } = parseCommandArgs("live", argv, valueFlags("last", "window"));
    const what = positionals[0];
    if (what !== "activity" && what !== "wikimedia") {
      throw new UsageError("pulse live needs 'activity' or 'wikimedia', e.g. pulse live activity --last 5");
    }
    const last = numberFlag("last", values.last, { integer: true, min: 1 }) ?? 10;
    if (last > MAX_LAST) throw new UsageError(`--last must be at most ${MAX_LAST}, got ${last}`);
    const windowMs = durationFlag("window", values.window) ?? 60_000;
    const store = await openStore(configFromFlags(values));
    try {
      const windows =
        what === "activity"
          ? await store.windows(ACTIVITY_SERIES, { windowMs, last })
          : await store.windows(WIKIMEDIA_SERIES, { windowMs, last });
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ window_ms: windowMs, windows })}\n`);
        return 0;
      }
      if (windows.length === 0) {
        process.stdout.write("no windows yet; run 'pulse stream' (or 'pulse up') first\n");
        return 0;
      }
      for (const line of what === "activity"
        ? activityTable(windows as ActivityWindow[])
        : wikiTable(windows as WikiWindow[])) {
        process.stdout.write(`${line}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};

function activityTable(rows: ActivityWindow[]): string[] {
  const lines = [
    `${"window (UTC)".padEnd(24)}${"event_type".padEnd(18)}${"events".padStart(9)}${"users".padStart(9)}${"sessions".padStart(10)}${"revenue".padStart(12)}  state`,
  ];
  for (const r of rows) {
    lines.push(
      `${iso(r.window_start).padEnd(24)}${r.event_type.padEnd(18)}${String(r.event_count).padStart(9)}${String(r.unique_users).padStart(9)}` +
        `${String(r.sessions).padStart(10)}${r.revenue.toFixed(2).padStart(12)}  ${r.final ? "final" : "open"}`,
    );
  }
  return lines;
}

function wikiTable(rows: WikiWindow[]): string[] {
  const lines = [
    `${"window (UTC)".padEnd(24)}${"wiki".padEnd(18)}${"edits".padStart(8)}${"bot".padStart(7)}${"human".padStart(7)}${"new".padStart(6)}${"bytes".padStart(10)}${"editors".padStart(9)}  state`,
  ];
  for (const r of rows) {
    lines.push(
      `${iso(r.window_start).padEnd(24)}${r.wiki.padEnd(18)}${String(r.edits).padStart(8)}${String(r.bot_edits).padStart(7)}${String(r.human_edits).padStart(7)}` +
        `${String(r.new_pages).padStart(6)}${String(r.byte_delta).padStart(10)}${String(r.unique_editors).padStart(9)}  ${r.final ? "final" : "open"}`,
    );
  }
  return lines;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}
