// The deduplicator: event ids seen within the watermark horizon, forgotten as slices pass.

import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "./binary.ts";
import { Deduplicator } from "./dedup.ts";
import { InternKey } from "./interner.ts";
import { prng } from "../../test/helpers/stream.ts";
import { StreamError } from "../errors.ts";

describe("Deduplicator", () => {
  it("answers exactly within the horizon, whatever the event time of the copy", () => {
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 5_000 });
    expect(d.firstSeen("a", 10_500)).toBe(true);
    expect(d.firstSeen("a", 10_500)).toBe(false);
    expect(d.firstSeen("a", 14_000)).toBe(false);
    expect(d.firstSeen("b", 9_999)).toBe(true);
    expect(d.size).toBe(2);
    expect(d.sliceCount).toBe(2);
  });

  it("forgets a slice exactly when the watermark reaches its start + retainMs", () => {
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 5_000 });
    d.firstSeen("a", 10_000);
    d.firstSeen("b", 10_999);
    d.firstSeen("c", 11_000);
    expect(d.evict(14_999)).toBe(0);
    expect(d.evict(15_000)).toBe(2);
    expect(d.firstSeen("a", 10_000)).toBe(true);
    expect(d.firstSeen("c", 11_000)).toBe(false);
    expect(d.evict(Number.POSITIVE_INFINITY)).toBe(2);
    expect(d.size).toBe(0);
    expect(d.evicted).toBe(4);
  });

  it("holds only the ids of the horizon on a long stream, and equals an unbounded Set inside it", () => {
    const random = prng(3);
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 10_000 });
    const originals: { id: string; t: number }[] = [];
    let max = 0;
    let peak = 0;
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      const repeat = random() < 0.1 && originals.length > 0;
      let id: string;
      let t: number;
      if (repeat) {
        // A copy of one of the last 200 originals: mostly inside the horizon, sometimes beyond it.
        const o = originals[originals.length - 1 - Math.floor(random() * Math.min(originals.length, 200))]!;
        id = o.id;
        t = o.t;
      } else {
        id = `id-${i}`;
        t = i * 10 - Math.floor(random() * 2_000);
        originals.push({ id, t });
      }
      max = Math.max(max, t);
      const wm = max - 2_000;
      // The caller only asks inside the horizon: the same test the aggregator makes before dedup.
      if (Math.floor(t / 1_000) * 1_000 + 10_000 <= wm) continue;
      if (d.firstSeen(id, t) === repeat) mismatches++;
      if (i % 100 === 0) d.evict(wm);
      peak = Math.max(peak, d.size);
    }
    expect(mismatches).toBe(0);
    // 10 ms apart: the horizon is retainMs + sliceMs + out-of-orderness + one flush interval ≈ 1,400 ids.
    expect(peak).toBeLessThan(1_500);
    expect(d.evicted).toBeGreaterThan(170_000);
  });

  it("given the watermark with each lookup, forgets passed slices itself, with the same answers", () => {
    const random = prng(5);
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 10_000 });
    const seen = new Set<string>();
    let max = 0;
    let peakSlices = 0;
    let mismatches = 0;
    for (let i = 0; i < 100_000; i++) {
      // Every 20th event copies the one 30 events back (300 ms earlier): inside the horizon.
      const id = i % 20 === 19 ? `id-${i - 30}` : `id-${i}`;
      const t = (i % 20 === 19 ? i - 30 : i) * 10 - Math.floor(random() * 2_000);
      max = Math.max(max, t);
      const wm = max - 2_000;
      if (Math.floor(t / 1_000) * 1_000 + 10_000 <= wm) continue;
      if (d.firstSeen(id, t, wm) !== !seen.has(id)) mismatches++;
      seen.add(id);
      peakSlices = Math.max(peakSlices, d.sliceCount);
    }
    expect(mismatches).toBe(0);
    // Never evict() called: the lookups kept the tables to the horizon (10 s retained + 2 s skew + 1).
    expect(peakSlices).toBeLessThanOrEqual(14);
    expect(d.evicted).toBeGreaterThan(90_000);
  });

  it("round-trips through a snapshot", () => {
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 5_000 });
    d.firstSeen("x", 1_000);
    d.firstSeen("y", 7_000);
    d.evict(6_500);
    const w = new ByteWriter();
    d.write(w);
    const back = new Deduplicator({ sliceMs: 1_000, retainMs: 5_000 });
    back.read(new ByteReader(w.finish()));
    expect(back.size).toBe(1);
    expect(back.evicted).toBe(1);
    expect(back.firstSeen("y", 7_000)).toBe(false);
    expect(back.evict(12_000)).toBe(1);
  });

  it("answers like a Set for UUIDs, the nil UUID and other spellings, across growth and a snapshot", () => {
    const random = prng(17);
    const hex = (n: number) =>
      Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
    const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
    const ids: string[] = ["00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"];
    for (let i = 0; i < 20_000; i++) {
      const u = uuid();
      // Non-canonical spellings of the same UUID are other ids, kept verbatim.
      ids.push(
        u,
        ...(i % 50 === 0 ? [u.toUpperCase(), u.replace(/-/g, "")] : []),
        ...(i % 7 === 0 ? [`evt-${i}`] : []),
      );
    }
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 60_000 });
    const truth = new Set<string>();
    let mismatches = 0;
    for (let i = 0; i < ids.length * 2; i++) {
      // Every id once, then a second pass of random picks (mostly repeats), over several slices.
      const id = i < ids.length ? ids[i]! : ids[Math.floor(random() * ids.length)]!;
      const t = (i % 5) * 1_000;
      if (d.firstSeen(id, t) !== !truth.has(id)) mismatches++;
      truth.add(id);
    }
    expect(mismatches).toBe(0);
    expect(d.size).toBe(truth.size);
    const w = new ByteWriter();
    d.write(w);
    const back = new Deduplicator({ sliceMs: 1_000, retainMs: 60_000 });
    back.read(new ByteReader(w.finish()));
    expect(back.size).toBe(truth.size);
    for (const id of truth) expect(back.firstSeen(id, 0)).toBe(false);
    expect(back.firstSeen(uuid(), 0)).toBe(true);
  });

  it("keeps a slice lateRetainMs longer for late events only, and remembers a late event's own id", () => {
    const d = new Deduplicator({ sliceMs: 1_000, retainMs: 5_000, lateRetainMs: 3_000 });
    const key = (id: string) => new InternKey().set(id);
    expect(d.firstSeen("a", 10_000, 0)).toBe(true);
    // At 15,000 slice 10 is no longer live: firstSeenKey no longer finds "a", firstSeenLateKey does.
    expect(d.firstSeenLateKey(key("a"), 10_000, 15_000)).toBe(false);
    expect(d.size).toBe(1);
    // A late id never seen is remembered in its slice while that slice is kept, so its copy is a duplicate.
    expect(d.firstSeenLateKey(key("b"), 10_500, 15_000)).toBe(true);
    expect(d.firstSeenLateKey(key("b"), 10_500, 17_999)).toBe(false);
    expect(d.size).toBe(2);
    // A slice past its late horizon (9,000 + 5,000 + 3,000 ≤ 17,999): remembered nowhere.
    expect(d.firstSeenLateKey(key("c"), 9_000, 17_999)).toBe(true);
    expect(d.firstSeenLateKey(key("c"), 9_000, 17_999)).toBe(true);
    expect(d.size).toBe(2);
    // Live lookups skip late-only slices: a new id of live slice 13 goes in, "a" is not found there.
    expect(d.firstSeen("a", 13_000, 17_999)).toBe(true);
    expect(d.firstSeen("a", 13_000, 17_999)).toBe(false);
    // At 18,000 slice 10 goes: the late copies of "a" (slice 13 holds it again) and "b" differ.
    expect(d.evict(18_000)).toBe(2);
    expect(d.firstSeenLateKey(key("b"), 10_500, 18_000)).toBe(true);
    expect(d.firstSeenLateKey(key("a"), 13_000, 18_000)).toBe(false);
    expect(d.size).toBe(1);
  });

  it("gives the same late answers after a snapshot taken while slices are kept for late events", () => {
    const make = () => new Deduplicator({ sliceMs: 1_000, retainMs: 2_000, lateRetainMs: 4_000 });
    const d = make();
    for (let i = 0; i < 20; i++) d.firstSeen(`id${i}`, i * 500, i * 500 - 1_000);
    const w = new ByteWriter();
    d.write(w);
    const back = make();
    back.read(new ByteReader(w.finish()));
    const key = (id: string) => new InternKey().set(id);
    const answers = (x: Deduplicator) =>
      Array.from({ length: 20 }, (_, i) => x.firstSeenLateKey(key(`id${i}`), i * 500, 9_500));
    const expected = answers(d);
    // Slices 0–3 (ids 0–7) are past 9,500 = start + 2,000 + 4,000 for starts ≤ 3,500; the rest are held.
    expect(expected).toEqual(Array.from({ length: 20 }, (_, i) => i < 8));
    expect(answers(back)).toEqual(expected);
    expect(back.size).toBe(d.size);
  });

  it("rejects a retention shorter than a slice", () => {
    expect(() => new Deduplicator({ sliceMs: 1_000, retainMs: 10 })).toThrow(StreamError);
    expect(() => new Deduplicator({ sliceMs: 1_000, retainMs: 1_000, lateRetainMs: -1 })).toThrow(
      StreamError,
    );
  });
});
