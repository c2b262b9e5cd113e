// The Live page's pure figures: which alerts shade which chart, and Wikimedia windows summed over wikis.

import { describe, expect, it } from "vitest";
import type { Alert, WikiWindow } from "../../web/src/api.ts";
import { alertBands, topWikis, windowTotals } from "../../web/src/live/series.ts";

const T = Date.UTC(2024, 0, 1, 12);
const M = 60_000;

function alert(series: string, windowStart: number, kind: "spike" | "drop"): Alert {
  return {
    series,
    window_start: windowStart,
    window_end: windowStart + M,
    observed: 1,
    expected: 2,
    score: 3,
    kind,
    created_at: 0,
  };
}

function wiki(windowStart: number, name: string, edits: number, final = true): WikiWindow {
  return {
    window_start: windowStart,
    window_end: windowStart + M,
    wiki: name,
    changes: edits,
    edits,
    bot_edits: 1,
    human_edits: edits - 1,
    new_pages: 1,
    byte_delta: -10,
    unique_editors: 1,
    final,
  };
}

describe("the Live page's figures", () => {
  it("shades each source's alerts on its own charts, over the alert's window, labelled with kind and key", () => {
    const alerts = [
      alert("activity.VIEW.event_count", T, "spike"),
      alert("wikimedia.enwiki.edits", T + M, "drop"),
      alert("activity.all.event_count", T + 2 * M, "drop"),
    ];
    expect(alertBands(alerts, "activity")).toEqual([
      { fromSec: T / 1000, toSec: (T + M) / 1000, kind: "spike", label: "spike VIEW" },
      { fromSec: (T + 2 * M) / 1000, toSec: (T + 3 * M) / 1000, kind: "drop", label: "drop all" },
    ]);
    expect(alertBands(alerts, "wikimedia")).toEqual([
      { fromSec: (T + M) / 1000, toSec: (T + 2 * M) / 1000, kind: "drop", label: "drop enwiki" },
    ]);
  });

  it("sums each window over wikis, final only when every wiki's row is, and ranks wikis by edits", () => {
    const windows = [
      wiki(T + M, "dewiki", 4, false),
      wiki(T, "enwiki", 5),
      wiki(T, "dewiki", 2),
      wiki(T + M, "enwiki", 1),
    ];
    expect(windowTotals(windows)).toEqual([
      {
        window_start: T,
        window_end: T + M,
        edits: 7,
        bot_edits: 2,
        human_edits: 5,
        new_pages: 2,
        byte_delta: -20,
        final: true,
      },
      {
        window_start: T + M,
        window_end: T + 2 * M,
        edits: 5,
        bot_edits: 2,
        human_edits: 3,
        new_pages: 2,
        byte_delta: -20,
        final: false,
      },
    ]);
    expect(topWikis(windows, 10)).toEqual(["dewiki", "enwiki"]);
    expect(topWikis([...windows, wiki(T, "frwiki", 6)], 2)).toEqual(["dewiki", "enwiki"]);
    expect(topWikis([...windows, wiki(T, "frwiki", 7)], 1)).toEqual(["frwiki"]);
  });
});
