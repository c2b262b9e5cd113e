// The windowed operator: small cases by hand, then generated streams against a naive ground truth.

import { describe, expect, it } from "vitest";
import type { ActivityRow } from "./aggregates.ts";
import { type ActivityAggregator, createActivityAggregator } from "./aggregators.ts";
import { ProcessOutcome, type WindowedAggregatorOptions } from "./operator.ts";
import {
  type GeneratedEvent,
  type GenerateOptions,
  generateActivity,
  mergeFinals,
  naiveActivity,
  naiveCells,
} from "../../test/helpers/stream.ts";
import type { EventType, UserActivity } from "../contracts/types.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

const T0 = Date.UTC(2024, 0, 1, 22, 30);

function activity(
  id: string,
  user: string,
  t: number,
  type: EventType = "VIEW",
  amount?: number,
): UserActivity {
  return {
    event_id: id,
    user_id: user,
    session_id: `${user}-s`,
    event_type: type,
    event_time: t,
    page: "/",
    referrer: null,
    device: "MOBILE",
    country: null,
    amount: amount ?? null,
    currency: amount === undefined ? null : "USD",
  };
}

interface Collected {
  windows: ActivityRow[];
  days: ActivityRow[];
}

function drive(
  agg: ActivityAggregator,
  events: readonly GeneratedEvent[],
  flushEvery: number,
  into: Collected = { windows: [], days: [] },
): Collected {
  let i = 0;
  for (const { event, partition, offset } of events) {
    agg.process(event, partition, offset);
    if (++i % flushEvery === 0) {
      const out = agg.flush();
      into.windows.push(...out.windows);
      into.days.push(...out.days);
    }
  }
  return into;
}

function drain(agg: ActivityAggregator, into: Collected): Collected {
  agg.advanceToEnd();
  const out = agg.flush();
  into.windows.push(...out.windows);
  into.days.push(...out.days);
  return into;
}

const STREAM: GenerateOptions = {
  seed: 42,
  count: 300_000,
  partitions: 4,
  users: 20_000,
  startTimeMs: T0,
  meanGapMs: 20,
  duplicateShare: 0.03,
  outOfOrderShare: 0.1,
  maxLagMs: 25_000,
  veryLateShare: 0.01,
  veryLateLagMs: 120_000,
};

describe("WindowedAggregator, small cases", () => {
  const options: WindowedAggregatorOptions = {
    window: { sizeMs: 10_000, slideMs: 10_000 },
    outOfOrdernessMs: 0,
    allowedLatenessMs: 0,
  };

  it("emits updates as a window fills, then one final when the watermark passes its end", () => {
    const agg = createActivityAggregator(options);
    expect(agg.process(activity("a", "u1", T0 + 1_000, "PURCHASE", 10.1), 0, 0)).toBe(
      ProcessOutcome.accepted,
    );
    expect(agg.process(activity("b", "u2", T0 + 2_000, "PURCHASE", 0.2), 0, 1)).toBe(ProcessOutcome.accepted);
    let out = agg.flush();
    expect(out.windows).toEqual([
      {
        partition: 0,
        window_start: T0,
        window_end: T0 + 10_000,
        event_type: "PURCHASE",
        event_count: 2,
        unique_users: 2,
        sessions: 2,
        revenue_cents: 1030,
        revenue: 10.3,
        final: false,
      },
    ]);
    expect(out.days.map((r) => [r.window_start, r.event_count, r.final])).toEqual([
      [Date.UTC(2024, 0, 1), 2, false],
    ]);
    // Nothing changed: nothing to emit.
    expect(agg.flush().windows).toEqual([]);
    expect(agg.process(activity("c", "u1", T0 + 3_000, "PURCHASE", 1), 0, 2)).toBe(ProcessOutcome.accepted);
    expect(agg.process(activity("d", "u3", T0 + 12_000), 0, 3)).toBe(ProcessOutcome.accepted);
    out = agg.flush();
    expect(
      out.windows.map((r) => [r.window_start, r.event_type, r.event_count, r.unique_users, r.final]),
    ).toEqual([
      [T0, "PURCHASE", 3, 2, true],
      [T0 + 10_000, "VIEW", 1, 1, false],
    ]);
    // The first window is final: an event for it is late, counted, and joins nothing.
    expect(agg.process(activity("e", "u4", T0 + 9_999), 0, 4)).toBe(ProcessOutcome.late);
    // A repeat id inside the horizon is a duplicate; an old offset is a replay.
    expect(agg.process(activity("d", "u3", T0 + 12_000), 0, 5)).toBe(ProcessOutcome.duplicate);
    expect(agg.process(activity("z", "u9", T0 + 13_000), 0, 5)).toBe(ProcessOutcome.replayed);
    const progress = agg.progress();
    expect(progress).toMatchObject({ input: 6, accepted: 4, late: 1, duplicates: 1, replayed: 1 });
    expect(progress.partitions[0]!.lastOffset).toBe(5);
    expect(agg.nextOffset(0)).toBe(6);
    expect(agg.flush().windows).toEqual([]);
  });

  it("counts a late copy of an id it still holds as a duplicate, and a late event's own copies too", () => {
    // Windows of 10 s, no out-of-orderness or lateness: ids stay for late events until slice + 20 s.
    const agg = createActivityAggregator(options);
    expect(agg.process(activity("a", "u1", T0 + 1_000), 0, 0)).toBe(ProcessOutcome.accepted);
    expect(agg.process(activity("b", "u2", T0 + 15_000), 0, 1)).toBe(ProcessOutcome.accepted);
    agg.flush();
    // The window of "a" is final: its exact copy is late by time, but a duplicate.
    expect(agg.process(activity("a", "u1", T0 + 1_000), 0, 2)).toBe(ProcessOutcome.duplicate);
    // A late event never seen is late once; its copy is a duplicate.
    expect(agg.process(activity("c", "u3", T0 + 2_000), 0, 3)).toBe(ProcessOutcome.late);
    expect(agg.process(activity("c", "u3", T0 + 2_000), 0, 4)).toBe(ProcessOutcome.duplicate);
    // Past T0 + 20 s the first slice is forgotten: a copy of "a" is late, and goes to the late output.
    expect(agg.process(activity("d", "u4", T0 + 20_000), 0, 5)).toBe(ProcessOutcome.accepted);
    expect(agg.process(activity("a", "u1", T0 + 1_000), 0, 6)).toBe(ProcessOutcome.late);
    expect(agg.progress()).toMatchObject({ input: 7, accepted: 3, late: 2, duplicates: 2 });
  });

  it("keeps unflushed changes across a snapshot, so the next flush after restore emits them", () => {
    const agg = createActivityAggregator(options);
    agg.process(activity("a", "u1", T0 + 1_000), 2, 7);
    const resumed = createActivityAggregator(options);
    resumed.restore(2, agg.snapshot(2));
    expect(resumed.nextOffset(2)).toBe(8);
    expect(resumed.flush().windows.map((r) => [r.partition, r.event_count, r.final])).toEqual([
      [2, 1, false],
    ]);
    expect(resumed.flush().windows).toEqual([]);
  });

  it("judges lateness by the partition's own watermark; the job watermark is the min", () => {
    const agg = createActivityAggregator(options);
    agg.assign([0, 1]);
    agg.process(activity("a", "u1", T0 + 50_000), 0, 0);
    expect(agg.watermark()).toBe(Number.NEGATIVE_INFINITY);
    // Partition 1 has not moved: its event at T0 is on time there, though partition 0 is far ahead.
    expect(agg.process(activity("b", "u2", T0), 1, 0)).toBe(ProcessOutcome.accepted);
    expect(agg.watermark()).toBe(T0);
    expect(agg.process(activity("c", "u3", T0), 0, 1)).toBe(ProcessOutcome.late);
    expect(agg.partitionWatermark(0)).toBe(T0 + 50_000);
    agg.markIdle(1);
    expect(agg.watermark()).toBe(T0 + 50_000);
  });

  it("counts an event that missed some hops as partially late, in the open hops only", () => {
    const agg = createActivityAggregator({
      ...options,
      window: { sizeMs: 30_000, slideMs: 10_000 },
      daily: false,
    });
    agg.process(activity("a", "u1", T0 + 35_000), 0, 0);
    // T0+15s is in [T0, T0+30s) (closed at wm T0+35s), [T0+10s, T0+40s) and [T0+20s…): no, not the last.
    expect(agg.process(activity("b", "u2", T0 + 15_000), 0, 1)).toBe(ProcessOutcome.partiallyLate);
    agg.advanceToEnd();
    const finals = agg.flush().windows.map((r) => [r.window_start - T0, r.event_count]);
    expect(finals.sort((a, b) => a[0]! - b[0]!)).toEqual([
      [10_000, 2],
      [20_000, 1],
      [30_000, 1],
    ]);
    expect(agg.progress().partiallyLate).toBe(1);
  });

  it("compacts interned ids once a day closes, and keeps counting right afterwards", () => {
    const agg = createActivityAggregator({ ...options, window: { sizeMs: 60_000, slideMs: 60_000 } });
    const day2 = Date.UTC(2024, 0, 2);
    let offset = 0;
    for (let u = 0; u < 10_000; u++)
      agg.process(activity(`d1-${u}`, `u${u}`, day2 - 50_000 + u), 0, offset++);
    agg.flush();
    expect(agg.progress().partitions[0]!.internedIds).toBe(20_000);
    for (let u = 0; u < 10; u++)
      agg.process(activity(`d2-${u}`, `u${u * 1_000}`, day2 + 61_000 + u), 0, offset++);
    const closing = agg.flush();
    expect(closing.days.filter((r) => r.final).map((r) => r.unique_users)).toEqual([10_000]);
    // Users and sessions of day 1 only are gone; the 10 of day 2 remain, renumbered.
    expect(agg.progress().partitions[0]!.internedIds).toBe(20);
    agg.process(activity("d2-x", "u0", day2 + 62_000), 0, offset++);
    agg.process(activity("d2-y", "new-user", day2 + 63_000), 0, offset++);
    agg.advanceToEnd();
    const end = agg.flush();
    expect(end.days.map((r) => [r.window_start, r.event_count, r.unique_users, r.final])).toEqual([
      [day2, 12, 11, true],
    ]);
  });
});

describe("WindowedAggregator against a naive ground truth", () => {
  for (const window of [
    { sizeMs: 60_000, slideMs: 60_000 },
    { sizeMs: 60_000, slideMs: 20_000 },
  ]) {
    it(`${window.sizeMs / 1000}s windows sliding by ${window.slideMs / 1000}s: exact finals on ${STREAM.count.toLocaleString("en")} events with defects`, () => {
      const events = generateActivity(STREAM);
      const options = { window, outOfOrdernessMs: 5_000, allowedLatenessMs: 10_000 };
      const truth = naiveActivity(events, { ...window, outOfOrdernessMs: 5_000, allowedLatenessMs: 10_000 });
      // The stream must exercise every path for the comparison to mean something.
      expect(truth.late).toBeGreaterThan(1_000);
      expect(truth.duplicates).toBeGreaterThan(5_000);
      if (window.slideMs < window.sizeMs) expect(truth.partiallyLate).toBeGreaterThan(100);
      expect(new Set([...truth.days.keys()].map((k) => k.split("|")[0])).size).toBe(2);

      const agg = createActivityAggregator(options);
      const collected = drain(agg, drive(agg, events, 1_000));
      const windows = mergeFinals(collected.windows);
      const days = mergeFinals(collected.days);
      expect(windows.twice).toEqual([]);
      expect(days.twice).toEqual([]);
      expect(windows.cells).toEqual(naiveCells(truth.windows));
      expect(days.cells).toEqual(naiveCells(truth.days));
      expect(agg.progress()).toMatchObject({
        input: STREAM.count,
        late: truth.late,
        duplicates: truth.duplicates,
        partiallyLate: truth.partiallyLate,
        accepted: truth.accepted,
        windowsInState: 0,
        rowsInState: 0,
      });

      // Updates come before the single final of each (window, key, partition), never after it, and
      // never exceed it.
      const finals = new Map<string, ActivityRow>();
      for (const row of collected.windows) {
        const id = `${row.window_start}|${row.event_type}|${row.partition}`;
        expect(finals.has(id)).toBe(false);
        if (row.final) finals.set(id, row);
      }
      for (const row of collected.windows) {
        if (row.final) continue;
        const final = finals.get(`${row.window_start}|${row.event_type}|${row.partition}`)!;
        expect(row.event_count).toBeLessThanOrEqual(final.event_count);
        expect(row.unique_users).toBeLessThanOrEqual(final.unique_users);
      }
      expect(collected.windows.some((r) => !r.final)).toBe(true);
    });
  }

  it("restores a mid-stream snapshot and ends with the same finals as an uninterrupted run", () => {
    const events = generateActivity({ ...STREAM, count: 120_000, seed: 9 });
    const options = {
      window: { sizeMs: 60_000, slideMs: 30_000 },
      outOfOrdernessMs: 5_000,
      allowedLatenessMs: 10_000,
    };
    const straight = createActivityAggregator(options);
    const expected = drain(straight, drive(straight, events, 997));

    const first = createActivityAggregator(options);
    const cut = 61_234;
    const got = drive(first, events.slice(0, cut), 997);
    // A checkpoint may be taken between flushes: dirty windows must still be emitted after restore.
    const snapshots = new Map(first.partitions().map((p) => [p, first.snapshot(p)]));
    const resumed = createActivityAggregator(options);
    for (const [p, bytes] of snapshots) resumed.restore(p, bytes);
    // Same counters, clocks and state; only the byte estimate differs (restored arrays are exact-sized).
    const counters = (agg: ActivityAggregator): unknown => {
      const { stateBytes: _total, partitions, ...rest } = agg.progress();
      return { ...rest, partitions: partitions.map(({ stateBytes: _bytes, ...p }) => p) };
    };
    expect(counters(resumed)).toEqual(counters(first));
    // The source rewinds a little past the checkpoint (committed offsets lag): replays are skipped.
    drain(resumed, drive(resumed, events.slice(cut - 5_000), 997, got));
    expect(resumed.progress().replayed).toBe(5_000);

    const finalsOf = (rows: ActivityRow[]): ActivityRow[] =>
      rows
        .filter((r) => r.final)
        .sort(
          (a, b) =>
            a.window_start - b.window_start ||
            a.partition - b.partition ||
            (a.event_type < b.event_type ? -1 : 1),
        );
    expect(finalsOf(got.windows)).toEqual(finalsOf(expected.windows));
    expect(finalsOf(got.days)).toEqual(finalsOf(expected.days));
    const { partitions: _p, stateBytes: _b, ...totals } = straight.progress();
    expect(resumed.progress()).toMatchObject({ ...totals, replayed: 5_000 });
  });

  it("refuses a snapshot from other window options, another partition, or cut short", () => {
    const agg = createActivityAggregator({
      window: { sizeMs: 60_000, slideMs: 60_000 },
      outOfOrdernessMs: 0,
      allowedLatenessMs: 0,
    });
    agg.process(activity("a", "u1", T0), 3, 0);
    const bytes = agg.snapshot(3);
    const other = createActivityAggregator({
      window: { sizeMs: 30_000, slideMs: 30_000 },
      outOfOrdernessMs: 0,
      allowedLatenessMs: 0,
    });
    const codeOf = (f: () => void): string | undefined => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(StreamError);
        return (e as StreamError).code;
      }
      return undefined;
    };
    expect(codeOf(() => other.restore(3, bytes))).toBe(StreamErrorCode.snapshotMismatch);
    expect(codeOf(() => agg.restore(4, bytes))).toBe(StreamErrorCode.snapshotMismatch);
    expect(codeOf(() => agg.restore(3, bytes.subarray(0, bytes.length - 3)))).toBe(
      StreamErrorCode.snapshotCorrupt,
    );
    expect(codeOf(() => agg.restore(3, new Uint8Array([1, 2, 3])))).toBe(StreamErrorCode.snapshotCorrupt);
  });
});
