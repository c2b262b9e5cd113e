// Per-series anomaly detection over final window values: a robust EWMA baseline that flags spikes and drops.

import { StreamError, StreamErrorCode } from "../errors.ts";
import type { AlertRow } from "../store/index.ts";
import { ByteReader, ByteWriter } from "./binary.ts";

export interface AnomalyDetectorOptions {
  /** EWMA weight of the newest window, in (0, 1]. Default 0.1: a memory of about 2/α − 1 = 19 windows. */
  alpha?: number;
  /** A window is flagged when |z| is strictly greater than this. Default 4. */
  threshold?: number;
  /** Observations a series needs before it may be flagged (at least 2). Default 10. */
  warmup?: number;
  /** The scale never falls below this, in the series' own unit. Default 1 (one event, for counts). */
  minScale?: number;
  /** Nor below this fraction of |expected|. Default 0.05, so a flag needs at least a 20 % move at z = 4. */
  minRelativeScale?: number;
  /** Processing-time clock for `created_at`; tests pin it. Detection itself never reads the clock. */
  nowMs?: () => number;
}

/** What the detector currently expects of a series. */
export interface SeriesBaseline {
  observations: number;
  /** EWMA of the values: the `expected` of the next alert. */
  mean: number;
  /** EWMA of |value − mean before that value| (the one-step forecast error). */
  meanAbsDeviation: number;
  /** The divisor of the next z-score, after the floors. */
  scale: number;
  /** window_start of the newest observed window. */
  lastWindowStartMs: number;
}

interface SeriesState {
  n: number;
  mean: number;
  dev: number;
  lastStartMs: number;
}

/** σ = √(π/2) · E|X − μ| for normal noise, so z-scores read like standard deviations. */
const DEVIATION_TO_SIGMA = Math.sqrt(Math.PI / 2);

const SNAPSHOT_MAGIC = 0x31444e41; // "AND1" little-endian
const SNAPSHOT_VERSION = 1;

/**
 * Baseline: EWMA mean μ and EWMA mean absolute deviation d of the one-step forecast error, with the
 * weight w = max(α, 1/k) so that while k is small the estimates are plain running averages (no cold-start
 * bias towards 0) and become exponential once 1/k < α. The absolute deviation rather than the variance,
 * because one outlier moves d linearly and a variance quadratically.
 *
 * Scoring (once n ≥ warmup): scale = max(√(π/2)·d, minScale, minRelativeScale·|μ|),
 * z = (x − μ) / scale, spike when z > threshold, drop when z < −threshold; `expected` is μ before x.
 *
 * Update: x is winsorised to μ ± threshold·scale first, then μ += w·(x' − μ), d += w·(|x' − μ_old| − d).
 * Invariant: one scored observation, however extreme, moves μ and d each by at most w·threshold·scale;
 * when the scale is √(π/2)·d that multiplies d by at most 1 + w·(threshold·√(π/2) − 1), which is 1.40
 * at the defaults (w = α = 0.1 once warm). A single burst therefore barely poisons
 * the baseline, while a lasting level shift is still learned: each flagged window widens the band, so the
 * flags stop after a few windows.
 *
 * Idempotence: a series only accepts windows that start after its newest observed window. A replay after
 * a restore from a checkpoint re-observes windows the snapshot already covers, and those change nothing.
 */
export class AnomalyDetector {
  readonly #alpha: number;
  readonly #threshold: number;
  readonly #warmup: number;
  readonly #minScale: number;
  readonly #minRelativeScale: number;
  readonly #nowMs: () => number;
  #series = new Map<string, SeriesState>();

  constructor(options: AnomalyDetectorOptions = {}) {
    this.#alpha = option("alpha", options.alpha ?? 0.1, (v) => v > 0 && v <= 1, "a number in (0, 1]");
    this.#threshold = option("threshold", options.threshold ?? 4, (v) => v > 0, "a number > 0");
    this.#warmup = option(
      "warmup",
      options.warmup ?? 10,
      (v) => Number.isInteger(v) && v >= 2,
      "a whole number ≥ 2",
    );
    this.#minScale = option("minScale", options.minScale ?? 1, (v) => v >= 0, "a number ≥ 0");
    this.#minRelativeScale = option(
      "minRelativeScale",
      options.minRelativeScale ?? 0.05,
      (v) => v >= 0,
      "a number ≥ 0",
    );
    if (this.#minScale === 0 && this.#minRelativeScale === 0) {
      throw new StreamError(
        StreamErrorCode.badOption,
        "anomaly minScale and minRelativeScale are both 0: a perfectly steady series would divide by 0; set either above 0.",
      );
    }
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Number of series with a baseline. */
  get seriesCount(): number {
    return this.#series.size;
  }

  /**
   * Scores one FINAL window value of a series against the baseline before it, then learns from it.
   * Only final values: an update row is a partial count that grows until the window closes, so scoring
   * it would report every filling window as a drop. The value must be merged over partitions.
   * Windows with no row (no events) are the caller's to observe as 0 where 0 is meaningful (counts);
   * otherwise a drop to nothing is never seen. `lastWindowStart` tells which windows a series last saw.
   * Returns the alert for this window, or undefined (normal, warming up, or an already observed window).
   */
  observe(series: string, windowStart: number, windowEnd: number, value: number): AlertRow | undefined {
    if (!Number.isFinite(windowStart) || !Number.isFinite(windowEnd) || windowEnd <= windowStart) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `anomaly series ${JSON.stringify(series)}: window [${windowStart}, ${windowEnd}) must be finite and end after it starts.`,
      );
    }
    if (!Number.isFinite(value)) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `anomaly series ${JSON.stringify(series)} window ${windowStart}: value must be a finite number, got ${value}.`,
      );
    }
    let s = this.#series.get(series);
    if (s === undefined) {
      s = { n: 0, mean: 0, dev: 0, lastStartMs: windowStart };
      this.#series.set(series, s);
    } else if (windowStart <= s.lastStartMs) {
      return undefined;
    }
    s.lastStartMs = windowStart;

    let alert: AlertRow | undefined;
    let learned = value;
    if (s.n >= this.#warmup) {
      const scale = this.#scale(s);
      const z = (value - s.mean) / scale;
      if (z > this.#threshold || z < -this.#threshold) {
        alert = {
          series,
          window_start: windowStart,
          window_end: windowEnd,
          observed: value,
          expected: s.mean,
          score: z,
          kind: z > 0 ? "spike" : "drop",
          created_at: this.#nowMs(),
        };
      }
      const band = this.#threshold * scale;
      learned = Math.min(Math.max(value, s.mean - band), s.mean + band);
    }
    s.n++;
    if (s.n === 1) {
      s.mean = learned;
      s.dev = 0;
    } else {
      const error = learned - s.mean;
      // The mean has n values behind it, the deviation n − 1 forecast errors.
      s.mean += Math.max(this.#alpha, 1 / s.n) * error;
      s.dev += Math.max(this.#alpha, 1 / (s.n - 1)) * (Math.abs(error) - s.dev);
    }
    return alert;
  }

  /** Names of every series with a baseline, sorted. */
  seriesNames(): string[] {
    return [...this.#series.keys()].sort();
  }

  /** window_start of the newest window observed for the series (for filling empty windows with 0). */
  lastWindowStart(series: string): number | undefined {
    return this.#series.get(series)?.lastStartMs;
  }

  baseline(series: string): SeriesBaseline | undefined {
    const s = this.#series.get(series);
    if (s === undefined) return undefined;
    return {
      observations: s.n,
      mean: s.mean,
      meanAbsDeviation: s.dev,
      scale: this.#scale(s),
      lastWindowStartMs: s.lastStartMs,
    };
  }

  /**
   * Snapshot grammar (binary.ts primitives): u32 magic "AND1" | u32 version | u32 series count |
   * per series, sorted by name: str name, f64 observations, f64 mean, f64 deviation, f64 last window start.
   * The options are not stored: the state means the same under any threshold or floor, so a restart
   * with new settings keeps its baselines. Sorted, so equal state gives equal bytes.
   */
  snapshot(): Uint8Array {
    const w = new ByteWriter(64 + this.#series.size * 64);
    w.u32(SNAPSHOT_MAGIC);
    w.u32(SNAPSHOT_VERSION);
    const names = [...this.#series.keys()].sort();
    w.u32(names.length);
    for (const name of names) {
      const s = this.#series.get(name)!;
      w.str(name);
      w.f64(s.n);
      w.f64(s.mean);
      w.f64(s.dev);
      w.f64(s.lastStartMs);
    }
    return w.finish();
  }

  /** Replaces every baseline with the snapshot's; refuses damaged bytes and leaves the state unchanged. */
  restore(bytes: Uint8Array): void {
    const r = new ByteReader(bytes);
    if (r.u32() !== SNAPSHOT_MAGIC) {
      throw new StreamError(
        StreamErrorCode.snapshotCorrupt,
        "not a Pulse anomaly-detector snapshot (bad magic)",
      );
    }
    const version = r.u32();
    if (version !== SNAPSHOT_VERSION) {
      throw new StreamError(
        StreamErrorCode.snapshotMismatch,
        `anomaly-detector snapshot version ${version} is not supported (expected ${SNAPSHOT_VERSION})`,
      );
    }
    const count = r.u32();
    const series = new Map<string, SeriesState>();
    for (let i = 0; i < count; i++) {
      const name = r.str();
      const s: SeriesState = { n: r.f64(), mean: r.f64(), dev: r.f64(), lastStartMs: r.f64() };
      if (!Number.isSafeInteger(s.n) || s.n < 0 || ![s.mean, s.dev, s.lastStartMs].every(Number.isFinite)) {
        throw new StreamError(
          StreamErrorCode.snapshotCorrupt,
          `anomaly-detector snapshot holds an impossible baseline for series ${JSON.stringify(name)}`,
        );
      }
      series.set(name, s);
    }
    if (r.remaining !== 0) {
      throw new StreamError(
        StreamErrorCode.snapshotCorrupt,
        `anomaly-detector snapshot has ${r.remaining} trailing bytes`,
      );
    }
    this.#series = series;
  }

  #scale(s: SeriesState): number {
    return Math.max(DEVIATION_TO_SIGMA * s.dev, this.#minScale, this.#minRelativeScale * Math.abs(s.mean));
  }
}

function option(name: string, value: number, ok: (v: number) => boolean, expected: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) {
    throw new StreamError(StreamErrorCode.badOption, `anomaly ${name} must be ${expected}, got ${value}.`);
  }
  return value;
}
