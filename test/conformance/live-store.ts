// The LiveStore conformance suite: every LiveStore implementation (embedded SQLite, MongoDB) runs these cases.
import { describe, expect, it } from "vitest";
import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import type { RawEventRow } from "../../src/lake/index.ts";
import {
  ACTIVITY_SERIES,
  type ActivityWindowRow,
  type AlertRow,
  type Checkpoint,
  type LateEventRow,
  type LiveStore,
  type StoreBatch,
  type TopPagesRow,
  WIKIMEDIA_SERIES,
  type WikiWindowRow,
} from "../../src/store/index.ts";
import { freshSubjectPerTest } from "../helpers/subjects.ts";
import { raw, runsOf } from "./lake.ts";
import { runDailyCases } from "./live-store-daily.ts";
import { runRetentionCases } from "./live-store-retention.ts";
import { activity, alert, wiki } from "./live-store-rows.ts";
import { runSeriesCases } from "./live-store-series.ts";

export interface LiveStoreContractSubject {
  store: LiveStore;
  cleanup: () => Promise<void>;
}

const MINUTE = 60_000;
const FIVE_MINUTES = 5 * MINUTE;
const DAY = 86_400_000;
/** 2026-11-28T00:00:00Z: realistic epoch-ms magnitudes, well past 2^32. */
const T0 = Date.UTC(2026, 10, 28);

/*
 * Every case gets a fresh, empty store from makeStore and releases it afterwards: reads such as
 * alerts(limit) or windows(series, …) see the whole store, so cases must not share one. A server-backed
 * factory should create a uniquely named database per call and drop it in cleanup. The suite relies on
 * the LiveStore interface only, plus the PULSE_STORE_* codes of the error catalog.
 */
export function runLiveStoreContract(name: string, makeStore: () => Promise<LiveStoreContractSubject>): void {
  describe(`LiveStore contract: ${name}`, () => {
    let store: LiveStore;
    freshSubjectPerTest(makeStore, (subject) => {
      store = subject.store;
    });

    runSeriesCases(() => store);
    runDailyCases(() => store);
    runRetentionCases(() => store);

    describe("commit and read back", () => {
      it("reads back every kind of row from one batch", async () => {
        const batch = fullBatch();
        await store.commit(batch);

        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).toEqual([
          {
            window_start: T0,
            window_end: T0 + MINUTE,
            event_type: "CLICK",
            event_count: 10,
            unique_users: 4,
            sessions: 3,
            revenue: 0,
            final: true,
          },
          {
            window_start: T0,
            window_end: T0 + MINUTE,
            event_type: "PURCHASE",
            event_count: 2,
            unique_users: 2,
            sessions: 2,
            revenue: 123.45,
            final: true,
          },
        ]);
        expect(await store.daily(ACTIVITY_SERIES)).toEqual([
          {
            window_start: T0,
            window_end: T0 + DAY,
            event_type: "CLICK",
            event_count: 100,
            unique_users: 40,
            sessions: 30,
            revenue: 0,
            final: false,
          },
        ]);
        expect(await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 10 })).toEqual([
          {
            window_start: T0,
            window_end: T0 + MINUTE,
            wiki: "enwiki",
            changes: 12,
            edits: 9,
            bot_edits: 2,
            human_edits: 7,
            new_pages: 1,
            byte_delta: -345,
            unique_editors: 6,
            final: false,
          },
        ]);
        expect(await store.topPages(MINUTE, 10)).toEqual({
          window_start: T0,
          window_end: T0 + MINUTE,
          pages: [
            { wiki: "enwiki", title: "Main Page", edits: 5 },
            { wiki: "enwiki", title: "Zürich", edits: 2 },
          ],
        });
        expect(await store.alerts(10)).toEqual(batch.alerts);
        expect(await store.lateEvents(10)).toEqual(batch.lateEvents);
        expect(await store.lake.scanAfter("user-activity", new Map(), 10)).toEqual(batch.rawEvents);
        expect(await store.checkpoints("job-a", "user-activity")).toEqual(batch.checkpoints);
      });

      it("applies the same batch twice without changing anything", async () => {
        const batch = fullBatch();
        await store.commit(batch);
        const first = await readEverything(store);
        await store.commit(batch);
        expect(await readEverything(store)).toEqual(first);
        expect(first.raw).toHaveLength(batch.rawEvents!.length);
        expect(first.late).toHaveLength(batch.lateEvents!.length);
        expect(first.alerts).toHaveLength(batch.alerts!.length);
      });

      it("replaces a row written again with the same key", async () => {
        await store.commit({
          windows: {
            activity: [activity({ partition: 0, event_count: 1, unique_users: 1, final: false })],
            wikimedia: [wiki({ partition: 0, edits: 1, final: false })],
          },
          topPages: [topPages({ partition: 0, pages: [{ wiki: "enwiki", title: "A", edits: 1 }] })],
          alerts: [alert({ series: "activity.CLICK", observed: 10, kind: "spike" })],
          lateEvents: [late({ offset: 3, payload: '{"v":1}' })],
          rawEvents: [raw({ partition: 0, offset: 0, value: utf8('{"v":1}') })],
          checkpoints: [checkpoint({ partition: 0, nextOffset: 1, state: bytes(1, 2, 3) })],
        });
        await store.commit({
          windows: {
            activity: [activity({ partition: 0, event_count: 7, unique_users: 5, final: true })],
            wikimedia: [wiki({ partition: 0, edits: 4, final: true })],
          },
          topPages: [topPages({ partition: 0, pages: [{ wiki: "enwiki", title: "B", edits: 9 }] })],
          alerts: [alert({ series: "activity.CLICK", observed: 2, kind: "drop" })],
          lateEvents: [late({ offset: 3, payload: '{"v":2}' })],
          rawEvents: [raw({ partition: 0, offset: 0, value: utf8('{"v":2}') })],
          checkpoints: [checkpoint({ partition: 0, nextOffset: 9, state: bytes(9) })],
        });

        const [window] = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 });
        expect(window).toMatchObject({ event_count: 7, unique_users: 5, final: true });
        expect(await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
          { edits: 4, final: true },
        ]);
        expect((await store.topPages(MINUTE, 5)).pages).toEqual([{ wiki: "enwiki", title: "B", edits: 9 }]);
        expect(await store.alerts(5)).toMatchObject([{ observed: 2, kind: "drop" }]);
        expect(await store.lateEvents(5)).toMatchObject([{ offset: 3, payload: '{"v":2}' }]);
        expect(await store.lake.scanAfter("user-activity", new Map(), 5)).toMatchObject([
          { offset: 0, value: utf8('{"v":2}') },
        ]);
        const [saved] = await store.checkpoints("job-a", "user-activity");
        expect(saved.nextOffset).toBe(9);
        expect(hex(saved.state)).toBe("09");
      });

      it("later rows of one batch replace earlier rows with the same key", async () => {
        await store.commit({
          windows: { activity: [activity({ event_count: 1 }), activity({ event_count: 2 })] },
          checkpoints: [],
        });
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
          { event_count: 2 },
        ]);
      });

      it("accepts a batch holding only checkpoints, and an empty batch", async () => {
        await store.commit({ checkpoints: [] });
        await store.commit({ checkpoints: [checkpoint({ partition: 2, nextOffset: 42 })] });
        expect(await store.checkpoints("job-a", "user-activity")).toMatchObject([
          { partition: 2, nextOffset: 42 },
        ]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).toEqual([]);
        expect(await store.lake.scanAfter("user-activity", new Map(), 5)).toEqual([]);
      });

      it("rejects a batch with an invalid row and writes none of it", async () => {
        await store.commit({
          windows: { activity: [activity({ event_count: 1 })] },
          checkpoints: [checkpoint({ partition: 0, nextOffset: 1 })],
        });
        const before = await readEverything(store);
        const good = fullBatch();
        // One bad row among good ones, in the first kind of row and in the last (checkpoints).
        for (const bad of [
          {
            ...good,
            windows: {
              ...good.windows,
              activity: [...good.windows!.activity!, activity({ window_start: T0, window_end: T0 })],
            },
          },
          { ...good, checkpoints: [...good.checkpoints, checkpoint({ partition: 9, nextOffset: -1 })] },
          // A raw value that is text, not the record's bytes.
          {
            ...good,
            rawEvents: [
              ...good.rawEvents!,
              { ...raw({ partition: 5, offset: 0 }), value: '{"v":1}' as unknown as Uint8Array },
            ],
          },
        ]) {
          await expect(store.commit(bad)).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
          expect(await readEverything(store)).toEqual(before);
        }
        expect(await store.checkpoints("job-a", "user-activity")).toMatchObject([
          { partition: 0, nextOffset: 1 },
        ]);
      });
    });

    describe("merging partitions", () => {
      it("sums every measure over partitions and is final only when every partition is", async () => {
        await store.commit({
          windows: {
            activity: [
              activity({
                partition: 0,
                event_count: 5,
                unique_users: 3,
                sessions: 2,
                revenue_cents: 1999,
                final: true,
              }),
              activity({
                partition: 1,
                event_count: 7,
                unique_users: 4,
                sessions: 4,
                revenue_cents: 1,
                final: false,
              }),
              activity({
                partition: 2,
                event_count: 1,
                unique_users: 1,
                sessions: 1,
                revenue_cents: 10,
                final: true,
              }),
              activity({ partition: 0, window_start: T0 + MINUTE, event_count: 2, final: true }),
              activity({ partition: 3, window_start: T0 + MINUTE, event_count: 3, final: true }),
            ],
            wikimedia: [
              wiki({ partition: 0, changes: 3, edits: 2, bot_edits: 1, byte_delta: 100, final: true }),
              wiki({ partition: 1, changes: 4, edits: 3, bot_edits: 0, byte_delta: -50, final: false }),
            ],
          },
          checkpoints: [],
        });
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).toEqual([
          {
            window_start: T0,
            window_end: T0 + MINUTE,
            event_type: "CLICK",
            event_count: 13,
            unique_users: 8,
            sessions: 7,
            revenue: 20.1,
            final: false,
          },
          {
            window_start: T0 + MINUTE,
            window_end: T0 + 2 * MINUTE,
            event_type: "CLICK",
            event_count: 5,
            unique_users: 2,
            sessions: 2,
            revenue: 0,
            final: true,
          },
        ]);
        expect(await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 10 })).toMatchObject([
          { changes: 7, edits: 5, bot_edits: 1, byte_delta: 50, final: false },
        ]);

        // The last partition's row turning final makes the merged window final.
        await store.commit({
          windows: {
            activity: [
              activity({
                partition: 1,
                event_count: 7,
                unique_users: 4,
                sessions: 4,
                revenue_cents: 1,
                final: true,
              }),
            ],
          },
          checkpoints: [],
        });
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).toMatchObject([
          { window_start: T0, event_count: 13, final: true },
          { window_start: T0 + MINUTE, final: true },
        ]);
      });

      it("keeps event types and wikis apart and orders by window_start, then key", async () => {
        await store.commit({
          windows: {
            activity: [
              activity({ window_start: T0 + MINUTE, event_type: "VIEW", event_count: 1 }),
              activity({ window_start: T0, event_type: "VIEW", event_count: 2 }),
              activity({ window_start: T0, event_type: "ADD_TO_CART", event_count: 3, partition: 1 }),
              activity({ window_start: T0, event_type: "ADD_TO_CART", event_count: 4, partition: 0 }),
            ],
            wikimedia: [
              wiki({ wiki: "frwiki", edits: 1 }),
              wiki({ wiki: "dewiki", edits: 2 }),
              wiki({ wiki: "dewiki", edits: 3, window_start: T0 - MINUTE }),
            ],
          },
          checkpoints: [],
        });
        expect(
          (await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).map((w) => [
            w.window_start - T0,
            w.event_type,
            w.event_count,
          ]),
        ).toEqual([
          [0, "ADD_TO_CART", 7],
          [0, "VIEW", 2],
          [MINUTE, "VIEW", 1],
        ]);
        expect(
          (await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 10 })).map((w) => [
            w.window_start - T0,
            w.wiki,
            w.edits,
          ]),
        ).toEqual([
          [-MINUTE, "dewiki", 3],
          [0, "dewiki", 2],
          [0, "frwiki", 1],
        ]);
      });
    });

    describe("window selection", () => {
      it("returns the latest N window starts of the asked length only", async () => {
        const rows: ActivityWindowRow[] = [];
        const wikiRows: WikiWindowRow[] = [];
        for (let i = 0; i < 6; i++) {
          // Two partitions per minute window, so "latest N" counts window starts, not rows.
          for (const partition of [0, 1]) {
            rows.push(activity({ partition, window_start: T0 + i * MINUTE, event_count: i + 1 }));
            wikiRows.push(wiki({ partition, window_start: T0 + i * MINUTE, edits: i + 1 }));
          }
        }
        // Five-minute windows, some starting later than every minute window.
        for (let i = 0; i < 3; i++) {
          rows.push(
            activity({
              window_start: T0 + i * FIVE_MINUTES,
              window_end: T0 + (i + 1) * FIVE_MINUTES,
              event_count: 100 + i,
            }),
          );
          wikiRows.push(
            wiki({
              window_start: T0 + i * FIVE_MINUTES,
              window_end: T0 + (i + 1) * FIVE_MINUTES,
              edits: 100 + i,
            }),
          );
        }
        // A two-minute hop starting at a minute window's start must not count as a minute window.
        rows.push(activity({ window_start: T0 + 5 * MINUTE, window_end: T0 + 7 * MINUTE, event_count: 999 }));
        await store.commit({ windows: { activity: rows, wikimedia: wikiRows }, checkpoints: [] });

        const last2 = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 2 });
        expect(last2.map((w) => [w.window_start - T0, w.window_end - w.window_start, w.event_count])).toEqual(
          [
            [4 * MINUTE, MINUTE, 10],
            [5 * MINUTE, MINUTE, 12],
          ],
        );
        const all = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1000 });
        expect(all.map((w) => w.event_count)).toEqual([2, 4, 6, 8, 10, 12]);
        const fives = await store.windows(ACTIVITY_SERIES, { windowMs: FIVE_MINUTES, last: 2 });
        expect(fives.map((w) => [w.window_start - T0, w.window_end - T0, w.event_count])).toEqual([
          [FIVE_MINUTES, 2 * FIVE_MINUTES, 101],
          [2 * FIVE_MINUTES, 3 * FIVE_MINUTES, 102],
        ]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: 2 * MINUTE, last: 5 })).toMatchObject([
          { event_count: 999 },
        ]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: 30_000, last: 5 })).toEqual([]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 0 })).toEqual([]);

        expect(
          (await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 3 })).map((w) => w.edits),
        ).toEqual([8, 10, 12]);
        expect(
          (await store.windows(WIKIMEDIA_SERIES, { windowMs: FIVE_MINUTES, last: 1 })).map((w) => w.edits),
        ).toEqual([102]);
      });

      it("reads window rows per partition, as committed, for window starts in [fromMs, toMs)", async () => {
        const rows: ActivityWindowRow[] = [];
        const wikiRows: WikiWindowRow[] = [];
        for (let i = 0; i < 4; i++) {
          for (const partition of [1, 0]) {
            rows.push(
              activity({
                partition,
                window_start: T0 + i * MINUTE,
                event_count: 10 * i + partition,
                final: i < 2,
              }),
            );
            wikiRows.push(wiki({ partition, window_start: T0 + i * MINUTE, edits: 10 * i + partition }));
          }
        }
        rows.push(activity({ partition: 0, window_start: T0 + MINUTE, event_type: "VIEW", event_count: 99 }));
        // Another length, inside the range: not read for minute windows.
        rows.push(activity({ window_start: T0 + MINUTE, window_end: T0 + 6 * MINUTE, event_count: 500 }));
        await store.commit({ windows: { activity: rows, wikimedia: wikiRows }, checkpoints: [] });

        const read = await store.windowRows(ACTIVITY_SERIES, {
          windowMs: MINUTE,
          fromMs: T0 + MINUTE,
          toMs: T0 + 3 * MINUTE,
        });
        expect(
          read.map((r) => [r.window_start - T0, r.event_type, r.partition, r.event_count, r.final]),
        ).toEqual([
          [MINUTE, "CLICK", 0, 10, true],
          [MINUTE, "CLICK", 1, 11, true],
          [MINUTE, "VIEW", 0, 99, true],
          [2 * MINUTE, "CLICK", 0, 20, false],
          [2 * MINUTE, "CLICK", 1, 21, false],
        ]);
        expect(read[0]).toEqual(
          activity({ partition: 0, window_start: T0 + MINUTE, event_count: 10, final: true }),
        );
        const wikis = await store.windowRows(WIKIMEDIA_SERIES, {
          windowMs: MINUTE,
          fromMs: T0 + 3 * MINUTE,
          toMs: T0 + 9 * MINUTE,
        });
        expect(wikis).toEqual([
          wiki({ partition: 0, window_start: T0 + 3 * MINUTE, edits: 30 }),
          wiki({ partition: 1, window_start: T0 + 3 * MINUTE, edits: 31 }),
        ]);
        expect(
          await store.windowRows(ACTIVITY_SERIES, {
            windowMs: MINUTE,
            fromMs: T0 + 4 * MINUTE,
            toMs: T0 + 9 * MINUTE,
          }),
        ).toEqual([]);
        await expect(
          store.windowRows(ACTIVITY_SERIES, { windowMs: MINUTE, fromMs: 0.5, toMs: 1 }),
        ).rejects.toMatchObject({
          code: StoreErrorCode.badArgument,
        });
      });

      it("finds each partition's newest final window start of a length, from a start on", async () => {
        await store.commit({
          windows: {
            activity: [
              activity({ partition: 0, window_start: T0, final: true }),
              activity({ partition: 0, window_start: T0 + MINUTE, event_type: "VIEW", final: true }),
              activity({ partition: 0, window_start: T0 + 2 * MINUTE, final: false }),
              activity({ partition: 1, window_start: T0, final: true }),
              activity({ partition: 2, window_start: T0 + MINUTE, final: false }),
              // Another length: not counted for minute windows.
              activity({
                partition: 2,
                window_start: T0 + 5 * MINUTE,
                window_end: T0 + 10 * MINUTE,
                final: true,
              }),
            ],
            wikimedia: [wiki({ partition: 3, window_start: T0 + 4 * MINUTE, final: true })],
          },
          checkpoints: [],
        });
        expect(await store.finalWindowStarts(ACTIVITY_SERIES, MINUTE, T0)).toEqual(
          new Map([
            [0, T0 + MINUTE],
            [1, T0],
          ]),
        );
        expect(await store.finalWindowStarts(ACTIVITY_SERIES, MINUTE, T0 + 1)).toEqual(
          new Map([[0, T0 + MINUTE]]),
        );
        expect(await store.finalWindowStarts(ACTIVITY_SERIES, FIVE_MINUTES, 0)).toEqual(
          new Map([[2, T0 + 5 * MINUTE]]),
        );
        expect(await store.finalWindowStarts(WIKIMEDIA_SERIES, MINUTE, 0)).toEqual(
          new Map([[3, T0 + 4 * MINUTE]]),
        );
        expect(await store.finalWindowStarts(WIKIMEDIA_SERIES, FIVE_MINUTES, 0)).toEqual(new Map());
        await expect(store.finalWindowStarts(ACTIVITY_SERIES, 0, 0)).rejects.toMatchObject({
          code: StoreErrorCode.badArgument,
        });
      });

      it("bounds daily rows by day start, inclusive from and exclusive to", async () => {
        const days = [0, 1, 2, 3].map((d) =>
          activity({ window_start: T0 + d * DAY, window_end: T0 + (d + 1) * DAY, event_count: d + 1 }),
        );
        days.push(
          activity({ partition: 1, window_start: T0 + DAY, window_end: T0 + 2 * DAY, event_count: 10 }),
          activity({
            event_type: "VIEW",
            window_start: T0 + DAY,
            window_end: T0 + 2 * DAY,
            event_count: 20,
          }),
        );
        await store.commit({ daily: { activity: days }, checkpoints: [] });
        const summary = (rows: { window_start: number; event_type: string; event_count: number }[]) =>
          rows.map((r) => [(r.window_start - T0) / DAY, r.event_type, r.event_count]);
        expect(summary(await store.daily(ACTIVITY_SERIES))).toEqual([
          [0, "CLICK", 1],
          [1, "CLICK", 12],
          [1, "VIEW", 20],
          [2, "CLICK", 3],
          [3, "CLICK", 4],
        ]);
        expect(summary(await store.daily(ACTIVITY_SERIES, { fromMs: T0 + DAY, toMs: T0 + 3 * DAY }))).toEqual(
          [
            [1, "CLICK", 12],
            [1, "VIEW", 20],
            [2, "CLICK", 3],
          ],
        );
        expect(summary(await store.daily(ACTIVITY_SERIES, { fromMs: T0 + 3 * DAY }))).toEqual([
          [3, "CLICK", 4],
        ]);
        expect(summary(await store.daily(ACTIVITY_SERIES, { toMs: T0 + DAY }))).toEqual([[0, "CLICK", 1]]);
        // Daily rows are their own table: they never show up as windows.
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: DAY, last: 10 })).toEqual([]);
      });

      it("rejects a window length or count that is not a whole number with PULSE_STORE_BAD_ARGUMENT", async () => {
        for (const query of [
          { windowMs: 0, last: 1 },
          { windowMs: -MINUTE, last: 1 },
          { windowMs: 1.5, last: 1 },
          { windowMs: MINUTE, last: -1 },
          { windowMs: MINUTE, last: Number.NaN },
        ]) {
          await expect(store.windows(ACTIVITY_SERIES, query)).rejects.toMatchObject({
            code: StoreErrorCode.badArgument,
          });
          await expect(store.windows(WIKIMEDIA_SERIES, query)).rejects.toMatchObject({
            code: StoreErrorCode.badArgument,
          });
        }
        await expect(store.alerts(-1)).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
        await expect(store.topPages(0, 5)).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
      });
    });

    describe("top pages", () => {
      it("merges the latest window's partition lists exactly, ranked by edits, then wiki, then title", async () => {
        await store.commit({
          topPages: [
            // An older window with a page that would otherwise win.
            topPages({ window_start: T0 - MINUTE, pages: [{ wiki: "enwiki", title: "Old", edits: 1000 }] }),
            topPages({
              partition: 0,
              pages: [
                { wiki: "enwiki", title: "B", edits: 7 },
                { wiki: "enwiki", title: "A", edits: 7 },
                { wiki: "enwiki", title: "C", edits: 2 },
              ],
            }),
            topPages({
              partition: 1,
              pages: [
                { wiki: "dewiki", title: "Z", edits: 7 },
                { wiki: "dewiki", title: "Y", edits: 9 },
                { wiki: "dewiki", title: "X", edits: 1 },
              ],
            }),
            topPages({ partition: 2, pages: [] }),
            // Another window length starting later must not be picked.
            topPages({
              window_start: T0 + MINUTE,
              window_end: T0 + MINUTE + FIVE_MINUTES,
              pages: [{ wiki: "enwiki", title: "Five", edits: 50 }],
            }),
          ],
          checkpoints: [],
        });
        expect(await store.topPages(MINUTE, 4)).toEqual({
          window_start: T0,
          window_end: T0 + MINUTE,
          pages: [
            { wiki: "dewiki", title: "Y", edits: 9 },
            { wiki: "dewiki", title: "Z", edits: 7 },
            { wiki: "enwiki", title: "A", edits: 7 },
            { wiki: "enwiki", title: "B", edits: 7 },
          ],
        });
        expect((await store.topPages(MINUTE, 100)).pages).toHaveLength(6);
        expect((await store.topPages(MINUTE, 0)).pages).toEqual([]);
        expect(await store.topPages(FIVE_MINUTES, 3)).toEqual({
          window_start: T0 + MINUTE,
          window_end: T0 + MINUTE + FIVE_MINUTES,
          pages: [{ wiki: "enwiki", title: "Five", edits: 50 }],
        });
      });

      it("returns no pages, and window 0..0, when no window of that length exists", async () => {
        expect(await store.topPages(MINUTE, 10)).toEqual({ window_start: 0, window_end: 0, pages: [] });
      });
    });

    describe("checkpoints", () => {
      it("reads a job's checkpoint offsets per partition without their state, for that job and topic only", async () => {
        await store.commit({
          checkpoints: [
            checkpoint({ partition: 0, nextOffset: 10, state: bytes(1, 2) }),
            checkpoint({ partition: 3, nextOffset: 30, state: bytes(3) }),
            checkpoint({ job: "job-b", partition: 1, nextOffset: 99, state: bytes(4) }),
            checkpoint({ topic: "wikimedia.recentchange", partition: 2, nextOffset: 7, state: bytes(5) }),
          ],
        });
        await store.commit({ checkpoints: [checkpoint({ partition: 0, nextOffset: 12, state: undefined })] });
        expect(await store.checkpointOffsets("job-a", "user-activity")).toEqual(
          new Map([
            [0, 12],
            [3, 30],
          ]),
        );
        expect(await store.checkpointOffsets("job-c", "user-activity")).toEqual(new Map());
      });

      it("keeps the stored state under a checkpoint without one, fenced or not, and refuses a first one without state", async () => {
        await store.commit({
          checkpoints: [
            checkpoint({ partition: 0, nextOffset: 10, state: bytes(1, 2), updatedAt: T0 }),
            checkpoint({ partition: 1, nextOffset: 20, state: bytes(3), updatedAt: T0 }),
          ],
        });
        await store.commit({
          windows: { activity: [activity({ partition: 0, event_count: 4 })] },
          checkpoints: [
            checkpoint({ partition: 0, nextOffset: 15, state: undefined, updatedAt: T0 + 1 }),
            checkpoint({
              partition: 1,
              nextOffset: 25,
              state: undefined,
              updatedAt: T0 + 1,
              expectedNextOffset: 20,
            }),
          ],
        });
        let saved = await store.checkpoints("job-a", "user-activity");
        expect(saved.map((c) => [c.partition, c.nextOffset, hex(c.state), c.updatedAt])).toEqual([
          [0, 15, "0102", T0 + 1],
          [1, 25, "03", T0 + 1],
        ]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
          { event_count: 4 },
        ]);
        // A stale fence refuses the whole batch, as with state.
        await expect(
          store.commit({
            windows: { activity: [activity({ partition: 0, event_count: 9 })] },
            checkpoints: [
              checkpoint({ partition: 1, nextOffset: 30, state: undefined, expectedNextOffset: 20 }),
            ],
          }),
        ).rejects.toMatchObject({ code: StoreErrorCode.conflict });
        // A partition with nothing stored has no state to keep.
        await expect(
          store.commit({ checkpoints: [checkpoint({ partition: 2, nextOffset: 1, state: undefined })] }),
        ).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
        // A new state replaces the old one.
        await store.commit({ checkpoints: [checkpoint({ partition: 0, nextOffset: 16, state: bytes(7) })] });
        saved = await store.checkpoints("job-a", "user-activity");
        expect(saved.map((c) => [c.partition, c.nextOffset, hex(c.state)])).toEqual([
          [0, 16, "07"],
          [1, 25, "03"],
        ]);
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
          { event_count: 4 },
        ]);
      });

      it("round-trips state bytes intact per job, topic and partition, ordered by partition", async () => {
        const everyByte = new Uint8Array(256).map((_, i) => i);
        const large = new Uint8Array(1 << 20).map((_, i) => (i * 31 + 7) & 0xff);
        await store.commit({
          checkpoints: [
            checkpoint({ partition: 3, nextOffset: 30, state: everyByte, updatedAt: T0 + 1 }),
            checkpoint({ partition: 0, nextOffset: 0, state: new Uint8Array(0), updatedAt: T0 + 2 }),
            checkpoint({ partition: 1, nextOffset: 2 ** 40, state: large, updatedAt: T0 + 3 }),
            checkpoint({ topic: "wikimedia.recentchange", partition: 0, nextOffset: 5, state: bytes(5) }),
            checkpoint({ job: "job-b", partition: 0, nextOffset: 6, state: bytes(6) }),
          ],
        });
        const saved = await store.checkpoints("job-a", "user-activity");
        expect(saved.map((c) => [c.job, c.topic, c.partition, c.nextOffset, c.updatedAt])).toEqual([
          ["job-a", "user-activity", 0, 0, T0 + 2],
          ["job-a", "user-activity", 1, 2 ** 40, T0 + 3],
          ["job-a", "user-activity", 3, 30, T0 + 1],
        ]);
        expect(saved.every((c) => c.state instanceof Uint8Array)).toBe(true);
        expect(saved[0].state.byteLength).toBe(0);
        expect(hex(saved[1].state)).toBe(hex(large));
        expect(hex(saved[2].state)).toBe(hex(everyByte));
        expect(await store.checkpoints("job-a", "wikimedia.recentchange")).toMatchObject([
          { partition: 0, nextOffset: 5 },
        ]);
        expect(await store.checkpoints("job-b", "user-activity")).toMatchObject([
          { partition: 0, nextOffset: 6 },
        ]);
        expect(await store.checkpoints("job-c", "user-activity")).toEqual([]);
      });

      it("overwrites a partition's checkpoint and leaves the others", async () => {
        await store.commit({
          checkpoints: [
            checkpoint({ partition: 0, nextOffset: 10, state: bytes(1, 1, 1, 1) }),
            checkpoint({ partition: 1, nextOffset: 20, state: bytes(2) }),
          ],
        });
        await store.commit({
          checkpoints: [checkpoint({ partition: 0, nextOffset: 15, state: bytes(3), updatedAt: T0 + 99 })],
        });
        const saved = await store.checkpoints("job-a", "user-activity");
        expect(saved.map((c) => [c.partition, c.nextOffset, hex(c.state)])).toEqual([
          [0, 15, "03"],
          [1, 20, "02"],
        ]);
        expect(saved[0].updatedAt).toBe(T0 + 99);
      });

      it("fences: a batch whose expected checkpoint moved is refused whole with PULSE_STORE_CONFLICT", async () => {
        await store.commit({ checkpoints: [checkpoint({ partition: 0, nextOffset: 10, state: bytes(1) })] });
        // Expected as seen: applied. Null expects no checkpoint yet.
        await store.commit({
          windows: { activity: [activity({ partition: 0, event_count: 5 })] },
          checkpoints: [
            checkpoint({ partition: 0, nextOffset: 12, state: bytes(2), expectedNextOffset: 10 }),
            checkpoint({ partition: 1, nextOffset: 3, state: bytes(3), expectedNextOffset: null }),
          ],
        });
        // Another member moved partition 1 (it is at 3, not 0): nothing of this batch is written.
        const refused = await store
          .commit({
            windows: { activity: [activity({ partition: 0, event_count: 99 })] },
            rawEvents: [raw({ partition: 0, offset: 12 })],
            checkpoints: [
              checkpoint({ partition: 0, nextOffset: 20, state: bytes(4), expectedNextOffset: 12 }),
              checkpoint({ partition: 1, nextOffset: 9, state: bytes(5), expectedNextOffset: 0 }),
            ],
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(refused).toBeInstanceOf(StoreError);
        expect((refused as StoreError).code).toBe(StoreErrorCode.conflict);
        expect((refused as StoreError).message).toContain("user-activity[1]");
        const saved = await store.checkpoints("job-a", "user-activity");
        expect(saved.map((c) => [c.partition, c.nextOffset, hex(c.state)])).toEqual([
          [0, 12, "02"],
          [1, 3, "03"],
        ]);
        const windows = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 });
        expect(windows.map((w) => w.event_count)).toEqual([5]);
        expect(await store.lake.scanAfter("user-activity", new Map(), 10)).toEqual([]);
        // Without expectations the last writer wins, as before.
        await store.commit({ checkpoints: [checkpoint({ partition: 1, nextOffset: 1, state: bytes(6) })] });
        expect((await store.checkpoints("job-a", "user-activity"))[1].nextOffset).toBe(1);
      });
    });

    // The raw lake's own cases are in test/conformance/lake.ts; this one is about the whole batch.
    describe("raw-lake runs in a batch", () => {
      it("rejects a malformed run with PULSE_STORE_BAD_ARGUMENT and writes none of its batch", async () => {
        const good = runsOf([raw({ partition: 0, offset: 1 }), raw({ partition: 0, offset: 2 })])[0]!;
        const descending = Buffer.from(good.bytes);
        // The second record's offset (after the 5-byte header and the first record) goes below the first.
        const second = 5 + 28 + descending.readUInt32LE(5 + 24);
        descending.writeDoubleLE(0, second);
        const truncated = Buffer.from(good.bytes).subarray(0, good.bytes.length - 3);
        for (const bytes of [descending, truncated, Buffer.from([2, 0, 0, 0, 0])]) {
          const error = await store
            .commit({
              windows: { activity: [activity()] },
              rawRuns: [{ ...good, bytes }],
              checkpoints: [],
            })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          expect(error).toBeInstanceOf(StoreError);
          expect((error as StoreError).code).toBe(StoreErrorCode.badArgument);
          expect((error as StoreError).message).toMatch(/raw run of topic "user-activity" partition 0/);
        }
        expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).toEqual([]);
        expect(await store.lake.scanAfter("user-activity", new Map(), 10)).toEqual([]);
      });
    });

    describe("alerts and late events", () => {
      it("lists alerts newest window first, then by series, up to the limit", async () => {
        await store.commit({
          alerts: [
            alert({ series: "activity.VIEW", window_start: T0 }),
            alert({ series: "activity.CLICK", window_start: T0 + 2 * MINUTE }),
            alert({ series: "wikimedia.enwiki", window_start: T0 + MINUTE, kind: "drop", score: -4.5 }),
            alert({ series: "activity.CLICK", window_start: T0 }),
          ],
          checkpoints: [],
        });
        const order = (rows: AlertRow[]) => rows.map((a) => [a.series, a.window_start - T0]);
        expect(order(await store.alerts(10))).toEqual([
          ["activity.CLICK", 2 * MINUTE],
          ["wikimedia.enwiki", MINUTE],
          ["activity.CLICK", 0],
          ["activity.VIEW", 0],
        ]);
        expect(order(await store.alerts(2))).toEqual([
          ["activity.CLICK", 2 * MINUTE],
          ["wikimedia.enwiki", MINUTE],
        ]);
        expect(await store.alerts(0)).toEqual([]);
        expect((await store.alerts(10))[1]).toEqual(
          alert({ series: "wikimedia.enwiki", window_start: T0 + MINUTE, kind: "drop", score: -4.5 }),
        );
      });

      it("lists late events newest first (highest watermark), up to the limit", async () => {
        await store.commit({
          lateEvents: [
            late({ partition: 0, offset: 1, watermark: T0 + 10 }),
            late({ partition: 1, offset: 1, watermark: T0 + 30 }),
            late({ partition: 0, offset: 2, watermark: T0 + 20 }),
          ],
          checkpoints: [],
        });
        await store.commit({
          lateEvents: [late({ partition: 1, offset: 9, watermark: T0 + 40 })],
          checkpoints: [],
        });
        const order = (rows: LateEventRow[]) => rows.map((e) => [e.partition, e.offset, e.watermark - T0]);
        expect(order(await store.lateEvents(10))).toEqual([
          [1, 9, 40],
          [1, 1, 30],
          [0, 2, 20],
          [0, 1, 10],
        ]);
        expect(order(await store.lateEvents(1))).toEqual([[1, 9, 40]]);
        expect(await store.lateEvents(0)).toEqual([]);
      });

      it("lists a topic's late events by event time range, by partition and offset", async () => {
        await store.commit({
          lateEvents: [
            late({ partition: 1, offset: 4, event_time: T0 }),
            late({ partition: 0, offset: 7, event_time: T0 + MINUTE - 1 }),
            late({ partition: 0, offset: 2, event_time: T0 + MINUTE }),
            late({ partition: 0, offset: 5, event_time: T0 - 1 }),
            late({ topic: "wikimedia.recentchange", partition: 0, offset: 3, event_time: T0 }),
          ],
          checkpoints: [],
        });
        const rows = await store.lateEventsBetween("user-activity", { fromMs: T0, toMs: T0 + MINUTE });
        expect(rows.map((e) => [e.topic, e.partition, e.offset, e.event_time - T0])).toEqual([
          ["user-activity", 0, 7, MINUTE - 1],
          ["user-activity", 1, 4, 0],
        ]);
        expect(rows[1]).toEqual(late({ partition: 1, offset: 4, event_time: T0 }));
        expect(
          await store.lateEventsBetween("user-activity", { fromMs: T0 + 2 * MINUTE, toMs: T0 + 3 * MINUTE }),
        ).toEqual([]);
      });
    });
  });
}

/** A batch holding one or more rows of every kind, with partitions to merge. */
function fullBatch(): StoreBatch & {
  alerts: AlertRow[];
  lateEvents: LateEventRow[];
  rawEvents: RawEventRow[];
  checkpoints: Checkpoint[];
} {
  return {
    windows: {
      activity: [
        activity({ partition: 0, event_count: 6, unique_users: 3, sessions: 2 }),
        activity({ partition: 1, event_count: 4, unique_users: 1, sessions: 1 }),
        activity({ partition: 0, event_type: "PURCHASE", event_count: 1, revenue_cents: 10_000 }),
        activity({ partition: 2, event_type: "PURCHASE", event_count: 1, revenue_cents: 2_345 }),
      ],
      wikimedia: [
        wiki({
          partition: 0,
          changes: 12,
          edits: 9,
          bot_edits: 2,
          human_edits: 7,
          new_pages: 1,
          byte_delta: -345,
          unique_editors: 6,
          final: false,
        }),
      ],
    },
    daily: {
      activity: [
        activity({ window_end: T0 + DAY, event_count: 60, unique_users: 25, sessions: 20, final: false }),
        activity({
          partition: 1,
          window_end: T0 + DAY,
          event_count: 40,
          unique_users: 15,
          sessions: 10,
          final: false,
        }),
      ],
      wikimedia: [wiki({ window_end: T0 + DAY, edits: 90 })],
    },
    topPages: [
      topPages({
        partition: 0,
        pages: [
          { wiki: "enwiki", title: "Main Page", edits: 5 },
          { wiki: "enwiki", title: "Zürich", edits: 2 },
        ],
      }),
    ],
    alerts: [alert({ series: "activity.PURCHASE", window_start: T0 })],
    lateEvents: [late({ partition: 1, offset: 17 })],
    rawEvents: [
      raw({ partition: 0, offset: 0 }),
      raw({ partition: 0, offset: 1 }),
      raw({ partition: 3, offset: 0 }),
    ],
    checkpoints: [
      checkpoint({ partition: 0, nextOffset: 2, state: bytes(0, 1, 254, 255) }),
      checkpoint({ partition: 3, nextOffset: 1, state: bytes(7) }),
    ],
  };
}

async function readEverything(store: LiveStore) {
  return {
    activity: await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1000 }),
    daily: await store.daily(ACTIVITY_SERIES),
    wiki: await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 1000 }),
    top: await store.topPages(MINUTE, 1000),
    alerts: await store.alerts(1000),
    late: await store.lateEvents(1000),
    raw: await store.lake.scanAfter("user-activity", new Map(), 1000),
    checkpoints: (await store.checkpoints("job-a", "user-activity")).map((c) => ({
      ...c,
      state: hex(c.state),
    })),
  };
}

function topPages(overrides: Partial<TopPagesRow> = {}): TopPagesRow {
  const window_start = overrides.window_start ?? T0;
  return {
    partition: 0,
    window_start,
    window_end: window_start + MINUTE,
    pages: [],
    final: false,
    ...overrides,
  };
}

function late(overrides: Partial<LateEventRow> = {}): LateEventRow {
  return {
    topic: "user-activity",
    partition: 0,
    offset: 0,
    event_time: T0 - 10 * MINUTE,
    watermark: T0,
    payload: JSON.stringify({ event_id: `late-${overrides.partition ?? 0}-${overrides.offset ?? 0}` }),
    ...overrides,
  };
}

function utf8(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

function checkpoint(overrides: Partial<Checkpoint> = {}): Checkpoint {
  return {
    job: "job-a",
    topic: "user-activity",
    partition: 0,
    nextOffset: 0,
    state: bytes(1),
    updatedAt: T0,
    ...overrides,
  };
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function hex(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
}
