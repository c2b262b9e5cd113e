// The LiveStore contract's retention cases: what enforceRetention deletes and keeps, counted from the rows committed.
import { describe, expect, it } from "vitest";
import type { RawEventRow } from "../../src/lake/index.ts";
import {
  ACTIVITY_SERIES,
  type ActivityWindowRow,
  type AlertRow,
  type LateEventRow,
  type LiveStore,
  type TopPagesRow,
  WIKIMEDIA_SERIES,
  type WikiWindowRow,
} from "../../src/store/index.ts";
import { raw } from "./lake.ts";
import { activity as activityWindow, alert as alertRow, wiki as wikiWindow } from "./live-store-rows.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 28);
const TOPIC = "user-activity";
const OTHER = "wikimedia.recentchange";
/** Windows, alerts and late events committed, one a minute from T0. */
const MINUTES = 10;

export function runRetentionCases(getStore: () => LiveStore): void {
  describe("retention", () => {
    it("deletes window, top-page, alert and late-event rows before the cutoff, keeps the daily rows, and leaves the lake without a load state", async () => {
      const store = getStore();
      const activity: ActivityWindowRow[] = [];
      const wiki: WikiWindowRow[] = [];
      const top: TopPagesRow[] = [];
      const alerts: AlertRow[] = [];
      const late: LateEventRow[] = [];
      for (let k = 0; k < MINUTES; k++) {
        const start = T0 + k * MINUTE;
        for (const partition of [0, 1]) activity.push(activityRow(start, partition, MINUTE));
        wiki.push(wikiRow(start));
        top.push({ partition: 0, window_start: start, window_end: start + MINUTE, pages: [], final: true });
        alerts.push(alertRow({ window_start: start }));
        late.push(lateRow(k, start));
      }
      const daily = [activityRow(T0, 0, DAY), activityRow(T0 - DAY, 0, DAY)];
      const rawEvents = [raw({ partition: 0, offset: 0 }), raw({ partition: 0, offset: 1 })];
      await store.commit({
        windows: { activity, wikimedia: wiki },
        daily: { activity: daily },
        topPages: top,
        alerts,
        lateEvents: late,
        rawEvents,
        checkpoints: [
          { job: "job-a", topic: TOPIC, partition: 0, nextOffset: 2, state: Uint8Array.of(1), updatedAt: T0 },
        ],
      });
      const kept = 4;
      const beforeMs = T0 + kept * MINUTE;
      // Windows ending at or before the cutoff: the first `kept` minutes, 2 activity rows, 1 wiki and 1
      // top-pages row each.
      expect(await store.enforceRetention({ beforeMs })).toEqual({
        windows: kept * 4,
        alerts: kept,
        lateEvents: kept,
        rawBatches: 0,
        rawEvents: 0,
        rawPartitionsHeld: 0,
      });
      const windows = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 100 });
      expect(windows.map((w) => w.window_start)).toEqual(
        Array.from({ length: MINUTES - kept }, (_, i) => T0 + (kept + i) * MINUTE),
      );
      expect(await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 100 })).toHaveLength(
        MINUTES - kept,
      );
      expect((await store.topPages(MINUTE, 10)).window_start).toBe(T0 + (MINUTES - 1) * MINUTE);
      expect((await store.alerts(100)).map((a) => a.window_start)).toEqual(
        alerts
          .slice(kept)
          .map((a) => a.window_start)
          .reverse(),
      );
      expect((await store.lateEvents(100)).map((e) => e.offset).sort((a, b) => a - b)).toEqual(
        late.slice(kept).map((e) => e.offset),
      );
      expect((await store.daily(ACTIVITY_SERIES)).map((d) => d.window_start)).toEqual([T0 - DAY, T0]);
      expect(await store.lake.scanAfter(TOPIC, new Map(), 100)).toEqual(rawEvents);
      expect(await store.checkpointOffsets("job-a", TOPIC)).toEqual(new Map([[0, 2]]));
      // Nothing more to delete at the same cutoff.
      expect(await store.enforceRetention({ beforeMs })).toEqual({
        windows: 0,
        alerts: 0,
        lateEvents: 0,
        rawBatches: 0,
        rawEvents: 0,
        rawPartitionsHeld: 0,
      });
    });

    it("deletes each partition's loaded raw-lake batches before the cutoff, oldest first, and holds those not loaded", async () => {
      const store = getStore();
      // Five commits of ten offsets each in partitions 0 and 1 (a batch per partition and commit), the
      // event time of offset n being T0 + n seconds; one batch of another topic.
      for (let j = 0; j < 5; j++) {
        const rows: RawEventRow[] = [];
        for (const partition of [0, 1])
          for (let offset = 10 * j; offset < 10 * j + 10; offset++) rows.push(raw({ partition, offset }));
        await store.commit({ rawEvents: rows, checkpoints: [] });
      }
      await store.commit({
        rawEvents: [0, 1, 2].map((offset) => raw({ topic: OTHER, partition: 0, offset })),
        checkpoints: [],
      });
      // Batches wholly before T0 + 35 s: offsets 0–29 of each partition. Partition 0 is loaded to 49,
      // partition 1 to 14 (its batch 10–19 is past the cutoff but not loaded: held), OTHER not at all.
      const loaded = new Map([
        [
          TOPIC,
          new Map([
            [0, 49],
            [1, 14],
          ]),
        ],
      ]);
      expect(await store.enforceRetention({ beforeMs: T0 + 35_000, loaded })).toEqual({
        windows: 0,
        alerts: 0,
        lateEvents: 0,
        rawBatches: 3 + 1,
        rawEvents: 30 + 10,
        rawPartitionsHeld: 2,
      });
      const rows = await store.lake.scanAfter(TOPIC, new Map(), 1000);
      expect(rows.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual(range(30, 50));
      expect(rows.filter((r) => r.partition === 1).map((r) => r.offset)).toEqual(range(10, 50));
      expect(await store.lake.lastOffsets(TOPIC)).toEqual(
        new Map([
          [0, 49],
          [1, 49],
        ]),
      );
      expect((await store.lake.scanAfter(OTHER, new Map(), 10)).map((r) => r.offset)).toEqual([0, 1, 2]);
      // The lake goes on appending after what retention left.
      await store.commit({
        rawEvents: range(50, 55).map((offset) => raw({ partition: 0, offset })),
        checkpoints: [],
      });
      const after = await store.lake.scanAfter(TOPIC, new Map([[1, 49]]), 1000);
      expect(after.map((r) => r.offset)).toEqual(range(30, 55));
      // Once partition 1 is loaded, its held batches go too; OTHER is still held.
      const all = new Map([
        [
          TOPIC,
          new Map([
            [0, 54],
            [1, 49],
          ]),
        ],
      ]);
      expect(await store.enforceRetention({ beforeMs: T0 + 35_000, loaded: all })).toMatchObject({
        rawBatches: 2,
        rawEvents: 20,
        rawPartitionsHeld: 1,
      });
      expect((await store.lake.scanAfter(TOPIC, new Map([[0, 54]]), 1000)).map((r) => r.offset)).toEqual(
        range(30, 50),
      );
    });
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function lateRow(offset: number, eventTimeMs: number): LateEventRow {
  return {
    topic: TOPIC,
    partition: 0,
    offset,
    event_time: eventTimeMs,
    watermark: eventTimeMs + 5 * MINUTE,
    payload: JSON.stringify({ event_id: `late-${offset}` }),
  };
}

function activityRow(start: number, partition: number, lengthMs: number): ActivityWindowRow {
  return activityWindow({ window_start: start, window_end: start + lengthMs, partition, event_count: 2 });
}

function wikiRow(start: number): WikiWindowRow {
  return wikiWindow({ window_start: start, final: true });
}
