// Window assignment: tumbling and hopping windows and their spec checks.

import { describe, expect, it } from "vitest";
import {
  assignWindows,
  DAY_MS,
  hoppingWindow,
  latestWindowEnd,
  tumblingWindow,
  utcDayStart,
  validateWindowSpec,
  windowsPerEvent,
} from "./windows.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

function starts(t: number, sizeMs: number, slideMs: number): number[] {
  const spec = { sizeMs, slideMs };
  const out = new Float64Array(windowsPerEvent(spec));
  return Array.from(out.subarray(0, assignWindows(t, spec, out)));
}

/** Every multiple of slide whose window contains t, found by scanning a wide range. */
function bruteForce(t: number, sizeMs: number, slideMs: number): number[] {
  const found: number[] = [];
  for (
    let k = Math.floor(t / slideMs) - Math.ceil(sizeMs / slideMs) - 2;
    k <= Math.floor(t / slideMs) + 2;
    k++
  ) {
    const s = k * slideMs;
    if (s <= t && t < s + sizeMs) found.push(s);
  }
  return found;
}

describe("tumbling windows", () => {
  it("puts a boundary event in the window that starts at it, not the one that ends at it", () => {
    expect(starts(60_000, 60_000, 60_000)).toEqual([60_000]);
    expect(starts(59_999, 60_000, 60_000)).toEqual([0]);
    expect(starts(0, 60_000, 60_000)).toEqual([0]);
  });

  it("floors times before the epoch towards −∞", () => {
    expect(starts(-1, 60_000, 60_000)).toEqual([-60_000]);
    expect(starts(-60_000, 60_000, 60_000)).toEqual([-60_000]);
    expect(starts(-60_001, 60_000, 60_000)).toEqual([-120_000]);
  });

  it("aligns day windows to UTC midnight", () => {
    const t = Date.UTC(2024, 2, 31, 23, 59, 59, 999);
    expect(utcDayStart(t)).toBe(Date.UTC(2024, 2, 31));
    expect(utcDayStart(t + 1)).toBe(Date.UTC(2024, 3, 1));
    expect(utcDayStart(-1)).toBe(-DAY_MS);
    expect(starts(t, DAY_MS, DAY_MS)).toEqual([Date.UTC(2024, 2, 31)]);
  });
});

describe("hopping windows", () => {
  it("puts an event in size/slide windows, ascending", () => {
    expect(starts(65_000, 60_000, 20_000)).toEqual([20_000, 40_000, 60_000]);
    expect(starts(60_000, 60_000, 20_000)).toEqual([20_000, 40_000, 60_000]);
    expect(starts(59_999, 60_000, 20_000)).toEqual([0, 20_000, 40_000]);
    expect(latestWindowEnd(59_999, hoppingWindow(60_000, 20_000))).toBe(100_000);
  });

  it("handles a size that is not a multiple of the slide", () => {
    expect(starts(100, 50, 20)).toEqual([60, 80, 100]);
    expect(starts(110, 50, 20)).toEqual([80, 100]);
  });

  it("matches a brute-force scan on random times and specs, including negative times", () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 5_000; i++) {
      const slideMs = 1 + next(500);
      const sizeMs = slideMs * (1 + next(6)) + (next(2) === 0 ? 0 : next(slideMs));
      const t = next(2_000_000) - 1_000_000 + 1_700_000_000_000 * (next(2) === 0 ? 0 : 1);
      expect(starts(t, sizeMs, slideMs)).toEqual(bruteForce(t, sizeMs, slideMs));
    }
  });
});

describe("validateWindowSpec", () => {
  it("rejects non-positive, fractional and gapped specs with a stable code", () => {
    for (const spec of [
      { sizeMs: 0, slideMs: 0 },
      { sizeMs: 1000, slideMs: 1.5 },
      { sizeMs: 1000, slideMs: 2000 },
      { sizeMs: DAY_MS, slideMs: 1 },
      { sizeMs: Number.NaN, slideMs: 1 },
    ]) {
      expect(() => validateWindowSpec(spec)).toThrow(StreamError);
      try {
        validateWindowSpec(spec);
      } catch (e) {
        expect((e as StreamError).code).toBe(StreamErrorCode.badWindowSpec);
      }
    }
    expect(tumblingWindow(60_000)).toEqual({ sizeMs: 60_000, slideMs: 60_000 });
  });
});
