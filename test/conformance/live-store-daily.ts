// The LiveStore conformance cases on Wikimedia's daily rows (wiki_daily): every measure merged over partitions, by hand.
import { describe, expect, it } from "vitest";
import {
  ACTIVITY_SERIES,
  type LiveStore,
  WIKIMEDIA_SERIES,
  type WikiWindowRow,
} from "../../src/store/index.ts";

const DAY = 86_400_000;
/** 2026-11-28T00:00:00Z. */
const T0 = Date.UTC(2026, 10, 28);

type Measures = Omit<WikiWindowRow, "partition" | "window_start" | "window_end" | "wiki" | "final">;

/** [changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors] as a row's measures. */
function measures(values: [number, number, number, number, number, number, number]): Measures {
  const [changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors] = values;
  return { changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors };
}

function day(d: number, wiki: string, partition: number, final: boolean, values: Measures): WikiWindowRow {
  return { partition, window_start: T0 + d * DAY, window_end: T0 + (d + 1) * DAY, wiki, ...values, final };
}

/** The daily cases, run inside runLiveStoreContract on its fresh store. */
export function runDailyCases(store: () => LiveStore): void {
  describe("Wikimedia daily rows", () => {
    it("sums every measure of a wiki's day over partitions, final only when every partition is, replaced by key", async () => {
      await store().commit({
        daily: {
          wikimedia: [
            day(0, "enwiki", 0, true, measures([5, 4, 1, 3, 1, 120, 3])),
            day(0, "enwiki", 1, false, measures([7, 6, 2, 4, 0, -30, 2])),
            day(0, "dewiki", 0, true, measures([2, 2, 0, 2, 2, 500, 1])),
            day(1, "enwiki", 0, false, measures([1, 1, 0, 1, 0, -7, 1])),
          ],
        },
        checkpoints: [],
      });
      // A later batch rewrites dewiki's day 0 on partition 0: it replaces the row, not adds to it.
      await store().commit({
        daily: { wikimedia: [day(0, "dewiki", 0, true, measures([3, 3, 0, 3, 2, 650, 2]))] },
        checkpoints: [],
      });
      const merged = (d: number, wiki: string, final: boolean, values: Measures) => ({
        window_start: T0 + d * DAY,
        window_end: T0 + (d + 1) * DAY,
        wiki,
        ...values,
        final,
      });
      // enwiki day 0: changes 5 + 7, edits 4 + 6, bot 1 + 2, human 3 + 4, new 1 + 0, bytes 120 − 30,
      // editors 3 + 2 (the topic is keyed by wiki, so a wiki's editors are one partition's in practice).
      const day0 = [
        merged(0, "dewiki", true, measures([3, 3, 0, 3, 2, 650, 2])),
        merged(0, "enwiki", false, measures([12, 10, 3, 7, 1, 90, 5])),
      ];
      const day1 = [merged(1, "enwiki", false, measures([1, 1, 0, 1, 0, -7, 1]))];
      expect(await store().daily(WIKIMEDIA_SERIES)).toEqual([...day0, ...day1]);
      expect(await store().daily(WIKIMEDIA_SERIES, { toMs: T0 + DAY })).toEqual(day0);
      expect(await store().daily(WIKIMEDIA_SERIES, { fromMs: T0 + 1, toMs: T0 + 2 * DAY })).toEqual(day1);
      expect(await store().daily(WIKIMEDIA_SERIES, { fromMs: T0 + 2 * DAY })).toEqual([]);
      // Their own table: neither windows nor activity days.
      expect(await store().windows(WIKIMEDIA_SERIES, { windowMs: DAY, last: 10 })).toEqual([]);
      expect(await store().daily(ACTIVITY_SERIES)).toEqual([]);
    });
  });
}
