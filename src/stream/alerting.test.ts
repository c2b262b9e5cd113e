// WindowAlerter: merging partitions, scoring once per job-final window, zero-filling gaps, snapshot and restore.

import { describe, expect, it } from "vitest";
import { type AlertedSeries, MAX_EMPTY_WINDOWS, WindowAlerter } from "./alerting.ts";

interface Row {
  partition: number;
  window_start: number;
  key: string;
  n: number;
}

const SPEC: AlertedSeries<Row> = { prefix: "t", metric: "n", key: (r) => r.key, value: (r) => r.n };
const M = 60_000;

function alerter(): WindowAlerter<Row> {
  return new WindowAlerter(SPEC, {
    window: { sizeMs: M, slideMs: M },
    allowedLatenessMs: 0,
    detector: { warmup: 3, nowMs: () => 0 },
  });
}

describe("WindowAlerter", () => {
  it("sums the partitions' latest rows and scores a window once, when the job watermark passes its end", () => {
    const a = alerter();
    a.addRows([
      { partition: 0, window_start: 0, key: "x", n: 3 },
      { partition: 1, window_start: 0, key: "x", n: 4 },
      { partition: 0, window_start: 0, key: "x", n: 5 }, // a newer absolute value replaces the older
    ]);
    expect(a.observeFinal(M - 1)).toEqual([]);
    expect(a.detector.seriesCount).toBe(0);
    a.observeFinal(M);
    expect(a.detector.baseline("t.x.n")).toMatchObject({ observations: 1, mean: 9 });
    expect(a.detector.baseline("t.all.n")).toMatchObject({ observations: 1, mean: 9 });
    // Already scored: a late row is counted aside and changes nothing.
    a.addRows([{ partition: 2, window_start: 0, key: "x", n: 100 }]);
    expect(a.lateRows).toBe(1);
    a.observeFinal(M);
    expect(a.detector.baseline("t.x.n")?.observations).toBe(1);
  });

  it("feeds 0 to known series for empty windows, so a drop to nothing is flagged", () => {
    const a = alerter();
    for (let w = 0; w < 5; w++) a.addRows([{ partition: 0, window_start: w * M, key: "x", n: 50 }]);
    expect(a.observeFinal(5 * M)).toEqual([]);
    // Windows 5..7 have no rows at all; the watermark passing window 7 scores them as 0.
    const alerts = a.observeFinal(8 * M);
    expect(alerts.map((x) => [x.series, x.window_start / M, x.kind])).toEqual([
      ["t.all.n", 5, "drop"],
      ["t.x.n", 5, "drop"],
      ["t.all.n", 6, "drop"],
      ["t.x.n", 6, "drop"],
      ["t.all.n", 7, "drop"],
      ["t.x.n", 7, "drop"],
    ]);
    expect(a.observedThroughMs).toBe(7 * M);
  });

  it("fills at most MAX_EMPTY_WINDOWS empty windows per call", () => {
    const a = alerter();
    a.addRows([{ partition: 0, window_start: 0, key: "x", n: 1 }]);
    a.observeFinal(M);
    a.observeFinal((5_000 + 1) * M);
    expect(a.detector.baseline("t.x.n")?.observations).toBe(1 + MAX_EMPTY_WINDOWS);
    expect(a.observedThroughMs).toBe(5_000 * M);
  });

  it("restores pending rows, baselines and the alerts mark from its snapshot", () => {
    const a = alerter();
    for (let w = 0; w < 4; w++) a.addRows([{ partition: 0, window_start: w * M, key: "x", n: 10 + w }]);
    a.observeFinal(2 * M);
    a.alertsMark = 42;
    const b = alerter();
    b.restore(a.snapshot(), "test");
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(b.alertsMark).toBe(42);
    // Partition 1 adds 500 to x's window 3 (13 pending from partition 0) and a first y.
    const rows: Row[] = [
      { partition: 1, window_start: 3 * M, key: "x", n: 500 },
      { partition: 1, window_start: 3 * M, key: "y", n: 2 },
    ];
    a.addRows(rows);
    b.addRows(rows);
    const fromRestored = b.observeFinal(Number.POSITIVE_INFINITY);
    expect(fromRestored).toEqual(a.observeFinal(Number.POSITIVE_INFINITY));
    // By hand, x (and all, which is x alone until window 3) over 10, 11, 12: mean 10 → 10.5 → 11, the
    // deviation 0 → 1 → 1 + (1.5 − 1)/2 = 1.25. Window 3 is the first scored (warmup 3): x = 13 + 500 and
    // all = 513 + 2, against expected 11 with scale 1.25·√(π/2) ≈ 1.567; y has no baseline yet.
    const scale = 1.25 * Math.sqrt(Math.PI / 2);
    expect(fromRestored).toEqual([
      {
        series: "t.all.n",
        window_start: 3 * M,
        window_end: 4 * M,
        observed: 515,
        expected: 11,
        score: expect.closeTo(504 / scale, 9),
        kind: "spike",
        created_at: 0,
      },
      {
        series: "t.x.n",
        window_start: 3 * M,
        window_end: 4 * M,
        observed: 513,
        expected: 11,
        score: expect.closeTo(502 / scale, 9),
        kind: "spike",
        created_at: 0,
      },
    ]);
    expect(b.snapshot()).toEqual(a.snapshot());
    expect(() => b.restore(new Uint8Array([1, 2, 3, 4, 5]), "test")).toThrow(/bad magic/);
  });
});
