// Tests the anomaly detector against a reference baseline written out longhand in this file.

import { describe, expect, it } from "vitest";
import { StreamError, StreamErrorCode } from "../errors.ts";
import type { AlertRow } from "../store/index.ts";
import { AnomalyDetector } from "./anomaly.ts";

const WINDOW_MS = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const CREATED_AT = 1_234;

/** Deterministic uniform [0, 1) numbers (mulberry32), so every run sees the same noise. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts around `level` with triangular noise of half-width 2·amplitude (σ ≈ 0.82·amplitude, bounded). */
function noisy(count: number, level: number, amplitude: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: count }, () => Math.round(level + amplitude * (next() + next() - 1) * 2));
}

interface Expectation {
  expected: number;
  scale: number;
}

/**
 * The baseline the detector should hold before each value, recomputed here from the definitions: a plain
 * average while 1/k > α, then exponential; deviation = average |forecast error|; updates winsorised at
 * threshold·scale once scoring starts.
 */
function referenceBaselines(
  values: readonly number[],
  p: { alpha: number; threshold: number; warmup: number; minScale: number; minRelativeScale: number },
): Expectation[] {
  const out: Expectation[] = [];
  let mean = 0;
  let dev = 0;
  for (let i = 0; i < values.length; i++) {
    const n = i; // observations behind the baseline
    const scale = Math.max(Math.sqrt(Math.PI / 2) * dev, p.minScale, p.minRelativeScale * Math.abs(mean));
    out.push({ expected: mean, scale });
    let x = values[i]!;
    if (n >= p.warmup) x = Math.min(Math.max(x, mean - p.threshold * scale), mean + p.threshold * scale);
    if (n === 0) {
      mean = x;
      continue;
    }
    const error = x - mean;
    mean = mean + Math.max(p.alpha, 1 / (n + 1)) * error;
    dev = dev + Math.max(p.alpha, 1 / n) * (Math.abs(error) - dev);
  }
  return out;
}

const DEFAULTS = { alpha: 0.1, threshold: 4, warmup: 10, minScale: 1, minRelativeScale: 0.05 };

function run(detector: AnomalyDetector, series: string, values: readonly number[], firstWindow = 0) {
  const alerts: Array<{ index: number; alert: AlertRow }> = [];
  values.forEach((value, i) => {
    const start = T0 + (firstWindow + i) * WINDOW_MS;
    const alert = detector.observe(series, start, start + WINDOW_MS, value);
    if (alert !== undefined) alerts.push({ index: firstWindow + i, alert });
  });
  return alerts;
}

describe("AnomalyDetector", () => {
  it("raises nothing on a steady noisy series", () => {
    const detector = new AnomalyDetector({ nowMs: () => CREATED_AT });
    const values = noisy(2_000, 1_000, 40, 7);
    expect(run(detector, "activity:PAGE_VIEW", values)).toEqual([]);
    const baseline = detector.baseline("activity:PAGE_VIEW")!;
    expect(baseline.observations).toBe(2_000);
    expect(Math.abs(baseline.mean - 1_000)).toBeLessThan(20);
  });

  it("flags a 5× burst as a spike with the reference expected value and score, and is not poisoned by it", () => {
    const detector = new AnomalyDetector({ nowMs: () => CREATED_AT });
    const values = noisy(60, 1_000, 40, 11);
    values[30] = 5 * values[29]!;
    const reference = referenceBaselines(values, DEFAULTS);

    const alerts = run(detector, "activity:ADD_TO_CART", values);
    expect(alerts).toHaveLength(1);
    const [{ index, alert }] = alerts as [{ index: number; alert: AlertRow }];
    expect(index).toBe(30);
    const { expected, scale } = reference[30]!;
    expect(alert).toEqual({
      series: "activity:ADD_TO_CART",
      window_start: T0 + 30 * WINDOW_MS,
      window_end: T0 + 31 * WINDOW_MS,
      observed: values[30],
      expected,
      score: (values[30]! - expected) / scale,
      kind: "spike",
      created_at: CREATED_AT,
    });
    expect(alert.expected).toBeGreaterThan(960);
    expect(alert.expected).toBeLessThan(1_040);
    expect(alert.score).toBeGreaterThan(4);

    // The winsorised update moved the mean by at most α·threshold·scale.
    expect(reference[31]!.expected - expected).toBeLessThanOrEqual(0.1 * 4 * scale + 1e-9);
    expect(detector.baseline("activity:ADD_TO_CART")!.mean).toBeCloseTo(
      referenceBaselines([...values, 0], DEFAULTS)[60]!.expected,
      9,
    );
  });

  it("flags a drop to 0", () => {
    const detector = new AnomalyDetector({ nowMs: () => CREATED_AT });
    const values = [...noisy(25, 500, 20, 3), 0];
    const reference = referenceBaselines(values, DEFAULTS)[25]!;
    const alerts = run(detector, "wiki:enwiki:edits", values);
    expect(alerts.map(({ index, alert }) => [index, alert.kind, alert.observed])).toEqual([[25, "drop", 0]]);
    expect(alerts[0]!.alert.expected).toBe(reference.expected);
    expect(alerts[0]!.alert.score).toBe(-reference.expected / reference.scale);
  });

  it("flags nothing during the warm-up, then flags from the first scored window", () => {
    const detector = new AnomalyDetector({ warmup: 5, nowMs: () => CREATED_AT });
    // Observations 1..5 are never scored, however wild; the 6th is scored against them.
    expect(run(detector, "inside", [100, 100, 100, 100, 10_000])).toEqual([]);
    const values = [100, 102, 98, 100, 100, 10_000];
    const alerts = run(detector, "after", values);
    expect(alerts.map(({ index }) => index)).toEqual([5]);
    const reference = referenceBaselines(values, { ...DEFAULTS, warmup: 5 })[5]!;
    // While 1/k > α the baseline is the plain average of the warm-up values.
    expect(reference.expected).toBeCloseTo(100, 9);
    expect(alerts[0]!.alert.expected).toBe(reference.expected);
    expect(alerts[0]!.alert.score).toBe((10_000 - reference.expected) / reference.scale);
  });

  it("ignores a window it has already observed, so a replay after a restore changes nothing", () => {
    const detector = new AnomalyDetector({ warmup: 2 });
    run(detector, "s", [10, 10, 10]);
    const before = detector.snapshot();
    expect(detector.observe("s", T0 + WINDOW_MS, T0 + 2 * WINDOW_MS, 1_000)).toBeUndefined();
    expect(detector.observe("s", T0 + 2 * WINDOW_MS, T0 + 3 * WINDOW_MS, 1_000)).toBeUndefined();
    expect(detector.snapshot()).toEqual(before);
    expect(detector.lastWindowStart("s")).toBe(T0 + 2 * WINDOW_MS);
    expect(detector.lastWindowStart("other")).toBeUndefined();
  });

  it("learns a lasting level shift after a few flags", () => {
    const detector = new AnomalyDetector();
    const values = [...noisy(40, 1_000, 40, 5), ...noisy(60, 3_000, 120, 6)];
    const flagged = run(detector, "s", values).map(({ index }) => index);
    expect(flagged[0]).toBe(40);
    expect(flagged.length).toBeLessThan(10);
    expect(flagged.every((index) => index < 60)).toBe(true);
  });

  it("keeps series apart", () => {
    const detector = new AnomalyDetector({ warmup: 3 });
    run(detector, "a", [100, 100, 100]);
    run(detector, "b", [5, 5, 5]);
    expect(detector.observe("b", T0 + 3 * WINDOW_MS, T0 + 4 * WINDOW_MS, 100)?.kind).toBe("spike");
    expect(detector.observe("a", T0 + 3 * WINDOW_MS, T0 + 4 * WINDOW_MS, 100)).toBeUndefined();
    expect(detector.seriesCount).toBe(2);
  });

  it("gives identical results after snapshot and restore", () => {
    const options = { nowMs: () => CREATED_AT };
    const a = noisy(80, 1_000, 40, 21);
    const b = noisy(80, 50, 5, 22);
    a[60] = 5_000;
    b[70] = 0;
    const original = new AnomalyDetector(options);
    run(original, "a", a.slice(0, 40));
    run(original, "b", b.slice(0, 40));
    const bytes = original.snapshot();

    const restored = new AnomalyDetector(options);
    restored.restore(bytes);
    expect(restored.snapshot()).toEqual(bytes);
    const rest = (d: AnomalyDetector) => [...run(d, "a", a.slice(40), 40), ...run(d, "b", b.slice(40), 40)];
    const fromOriginal = rest(original);
    expect(fromOriginal.map(({ index, alert }) => [alert.series, index, alert.kind])).toEqual([
      ["a", 60, "spike"],
      ["b", 70, "drop"],
    ]);
    expect(rest(restored)).toEqual(fromOriginal);
    expect(restored.snapshot()).toEqual(original.snapshot());
  });

  it("refuses damaged snapshots and leaves its state alone", () => {
    const detector = new AnomalyDetector({ warmup: 2 });
    run(detector, "s", [1, 2, 3]);
    const bytes = detector.snapshot();
    const target = new AnomalyDetector();
    run(target, "t", [7]);
    const codes = [bytes.slice(0, bytes.length - 3), new Uint8Array(12), Uint8Array.from([...bytes, 0])].map(
      (damaged) => {
        try {
          target.restore(damaged);
          return "restored";
        } catch (error) {
          return (error as StreamError).code;
        }
      },
    );
    expect(codes).toEqual([
      StreamErrorCode.snapshotCorrupt,
      StreamErrorCode.snapshotCorrupt,
      StreamErrorCode.snapshotCorrupt,
    ]);
    expect(target.baseline("t")?.mean).toBe(7);
    expect(target.seriesCount).toBe(1);
  });

  it("refuses bad options and bad observations with a message naming them", () => {
    expect(() => new AnomalyDetector({ alpha: 0 })).toThrow(/alpha must be a number in \(0, 1\]/);
    expect(() => new AnomalyDetector({ warmup: 1 })).toThrow(/warmup/);
    expect(() => new AnomalyDetector({ minScale: 0, minRelativeScale: 0 })).toThrow(StreamError);
    const detector = new AnomalyDetector();
    expect(() => detector.observe("s", 10, 10, 1)).toThrow(/must be finite and end after it starts/);
    expect(() => detector.observe("s", 0, 10, Number.NaN)).toThrow(/value must be a finite number/);
  });
});
