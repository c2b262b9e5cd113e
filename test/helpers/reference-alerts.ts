// A reference scoring of activity counts, written from the detector's documented rules, not from its code.
import { expect } from "vitest";
import type { AlertRow } from "../../src/store/index.ts";

/** The detector's documented defaults (src/stream/anomaly.ts): α, threshold, warmup and the scale floors. */
const ALPHA = 0.1;
const THRESHOLD = 4;
const WARMUP = 10;
const MIN_SCALE = 1;
const MIN_RELATIVE_SCALE = 0.05;

export type ReferenceAlert = Omit<AlertRow, "created_at">;

/**
 * Alerts over per-window activity counts (`${window_start}|${event_type}` → events), as the stream job
 * promises them: every window from the first counted to the last, each series `activity.<type>.event_count`
 * from the window it first has events (0 when it has none), and `activity.all.event_count` the sum.
 *
 * Each series is a sequence x₁, x₂, …. Once k ≥ warmup values are learned, x is scored against the mean μ
 * and the mean absolute forecast error d of the values before it: scale = max(√(π/2)·d, 1, 0.05·|μ|),
 * z = (x − μ)/scale, a spike when z > 4 and a drop when z < −4, expected μ. It is then learned clipped to
 * μ ± 4·scale: the first value sets μ and d = 0; the k-th moves μ by max(α, 1/k) of the error and d by
 * max(α, 1/(k − 1)) of (|error| − d).
 */
export function referenceAlerts(counts: Iterable<[string, number]>, windowMs: number): ReferenceAlert[] {
  const byWindow = new Map<number, Map<string, number>>();
  for (const [key, count] of counts) {
    const [start, type] = key.split("|") as [string, string];
    const window = byWindow.get(Number(start)) ?? new Map<string, number>();
    window.set(`activity.${type}.event_count`, (window.get(`activity.${type}.event_count`) ?? 0) + count);
    byWindow.set(Number(start), window);
  }
  if (byWindow.size === 0) return [];
  const first = Math.min(...byWindow.keys());
  const last = Math.max(...byWindow.keys());

  // The value sequence of every series, in window order.
  const all: Array<[number, number]> = [];
  const sequences = new Map<string, Array<[number, number]>>([["activity.all.event_count", all]]);
  for (let start = first; start <= last; start += windowMs) {
    const window = byWindow.get(start) ?? new Map<string, number>();
    let total = 0;
    for (const [series, count] of window) {
      if (!sequences.has(series)) sequences.set(series, []);
      total += count;
    }
    for (const [series, values] of sequences)
      if (values !== all) values.push([start, window.get(series) ?? 0]);
    all.push([start, total]);
  }

  const alerts: ReferenceAlert[] = [];
  for (const [series, values] of sequences) {
    let mean = 0;
    let deviation = 0;
    values.forEach(([start, x], i) => {
      let learned = x;
      if (i >= WARMUP) {
        const scale = Math.max(
          Math.sqrt(Math.PI / 2) * deviation,
          MIN_SCALE,
          MIN_RELATIVE_SCALE * Math.abs(mean),
        );
        const z = (x - mean) / scale;
        if (Math.abs(z) > THRESHOLD) {
          alerts.push({
            series,
            window_start: start,
            window_end: start + windowMs,
            observed: x,
            expected: mean,
            score: z,
            kind: z > 0 ? "spike" : "drop",
          });
        }
        learned = Math.min(mean + THRESHOLD * scale, Math.max(mean - THRESHOLD * scale, x));
      }
      const k = i + 1;
      if (k === 1) {
        mean = learned;
        return;
      }
      const error = learned - mean;
      mean += Math.max(ALPHA, 1 / k) * error;
      deviation += Math.max(ALPHA, 1 / (k - 1)) * (Math.abs(error) - deviation);
    });
  }
  return sortByWindowAndSeries(alerts);
}

export function sortByWindowAndSeries<A extends ReferenceAlert>(alerts: readonly A[]): A[] {
  return [...alerts].sort((a, b) =>
    a.window_start !== b.window_start ? a.window_start - b.window_start : a.series < b.series ? -1 : 1,
  );
}

/** `actual` are the reference's alerts: the same windows, series, kinds and counts; expected and score to 1e-6. */
export function expectAlertsMatchReference(
  actual: readonly ReferenceAlert[],
  reference: readonly ReferenceAlert[],
): void {
  expect(
    sortByWindowAndSeries(actual).map(
      ({ series, window_start, window_end, observed, expected, score, kind }) => ({
        series,
        window_start,
        window_end,
        observed,
        expected,
        score,
        kind,
      }),
    ),
  ).toEqual(
    reference.map((a) => ({
      ...a,
      expected: expect.closeTo(a.expected, 6),
      score: expect.closeTo(a.score, 6),
    })),
  );
}
