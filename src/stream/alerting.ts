// Job-side anomaly detection: merges per-partition window rows of one topic and scores each window once it is final for the whole job.

import { StreamError, StreamErrorCode } from "../errors.ts";
import type { AlertRow } from "../store/index.ts";
import { AnomalyDetector, type AnomalyDetectorOptions } from "./anomaly.ts";
import { ByteReader, ByteWriter } from "./binary.ts";
import type { WindowSpec } from "./windows.ts";

/** The most empty windows one `observeFinal` call fills with 0 (a long gap in event time skips the rest). */
export const MAX_EMPTY_WINDOWS = 1_000;

/** The key of the series that sums every key of a topic: `activity.all.event_count`, `wikimedia.all.edits`. */
export const ALL_KEY = "all";

/** How one topic's window rows become series: `<prefix>.<key>.<metric>` plus `<prefix>.all.<metric>`. */
export interface AlertedSeries<R> {
  prefix: string;
  metric: string;
  key(row: R): string;
  value(row: R): number;
}

/** The fields of a window row the alerter reads; the aggregates' rows all have them. */
export interface WindowRowLike {
  partition: number;
  window_start: number;
}

export interface WindowAlerterOptions {
  window: WindowSpec;
  allowedLatenessMs: number;
  detector?: AnomalyDetectorOptions;
}

interface PendingWindow {
  /** partition → key → the partition's latest value (rows carry absolute values, so the newest wins). */
  partitions: Map<number, Map<string, number>>;
}

const STATE_MAGIC = 0x524c4150; // "PALR" little-endian
const STATE_VERSION = 1;

/**
 * One topic's alerting state: the detector's baselines plus the rows of windows not yet final for the job.
 *
 * A window is scored once, when the job watermark (min over the job's active partitions) has passed
 * `end + allowedLateness`. Its value is the sum over partitions of each partition's latest row for it:
 * the final row for every active partition (its own watermark is at least the job's, so it closed the
 * window in the same flush), the newest update row for a partition marked idle (Flink's idleness).
 * A row that arrives for a window already scored (an idle partition waking up with old events) changes
 * the store but not the baseline; `lateRows` counts them.
 *
 * Empty windows: every series the detector knows is fed 0 for each window between the newest scored
 * window and the one being scored, so a drop to nothing is seen; at most MAX_EMPTY_WINDOWS per call.
 *
 * Pending windows are part of the state (snapshot/restore): a partition's final row is emitted once,
 * and the job may crash before the other partitions close the same window.
 */
export class WindowAlerter<R extends WindowRowLike> {
  readonly spec: AlertedSeries<R>;
  readonly detector: AnomalyDetector;
  readonly #window: WindowSpec;
  readonly #allowedLatenessMs: number;
  #pending = new Map<number, PendingWindow>();
  /** window_start of the newest scored window; −∞ before the first. */
  #observedThroughMs = Number.NEGATIVE_INFINITY;
  /** A position in the alerts topic, kept by the job for exactly-once produce (see StreamJob). */
  alertsMark = 0;
  lateRows = 0;
  /** Rows or observations since the last checkpoint. */
  changed = false;

  constructor(spec: AlertedSeries<R>, options: WindowAlerterOptions) {
    this.spec = spec;
    this.detector = new AnomalyDetector(options.detector);
    this.#window = options.window;
    this.#allowedLatenessMs = options.allowedLatenessMs;
  }

  get observedThroughMs(): number {
    return this.#observedThroughMs;
  }

  seriesName(key: string): string {
    return `${this.spec.prefix}.${key}.${this.spec.metric}`;
  }

  /** Records the flushed window rows (updates and finals) of any partition. */
  addRows(rows: readonly R[]): void {
    for (const row of rows) {
      if (row.window_start <= this.#observedThroughMs) {
        this.lateRows++;
        continue;
      }
      let pending = this.#pending.get(row.window_start);
      if (pending === undefined) {
        pending = { partitions: new Map() };
        this.#pending.set(row.window_start, pending);
      }
      let keys = pending.partitions.get(row.partition);
      if (keys === undefined) {
        keys = new Map();
        pending.partitions.set(row.partition, keys);
      }
      keys.set(this.spec.key(row), this.spec.value(row));
      this.changed = true;
    }
  }

  /** Scores every window final under the job watermark, oldest first; returns the alerts raised. */
  observeFinal(jobWatermarkMs: number): AlertRow[] {
    const { sizeMs, slideMs } = this.#window;
    const finalStarts: number[] = [];
    for (const start of this.#pending.keys()) {
      if (start + sizeMs + this.#allowedLatenessMs <= jobWatermarkMs) finalStarts.push(start);
    }
    finalStarts.sort((a, b) => a - b);
    if (finalStarts.length === 0 && !Number.isFinite(this.#observedThroughMs)) return [];
    const first = Number.isFinite(this.#observedThroughMs)
      ? this.#observedThroughMs + slideMs
      : finalStarts[0]!;
    // The newest final start; with a finite watermark, the empty windows up to it are final too.
    let last = finalStarts.length > 0 ? finalStarts[finalStarts.length - 1]! : Number.NEGATIVE_INFINITY;
    if (Number.isFinite(jobWatermarkMs)) {
      const bound = jobWatermarkMs - sizeMs - this.#allowedLatenessMs;
      const aligned = bound - (((bound % slideMs) + slideMs) % slideMs);
      if (aligned > last) last = aligned;
    }
    if (last < first) return [];
    // The windows to score: every final pending one, plus the empty ones between them, bounded.
    const starts = new Set(finalStarts);
    const from = Math.max(first, last - (MAX_EMPTY_WINDOWS - 1) * slideMs);
    for (let s = from; s <= last; s += slideMs) starts.add(s);
    const ordered = [...starts].sort((a, b) => a - b);
    const alerts: AlertRow[] = [];
    for (const start of ordered) this.#score(start, alerts);
    this.#observedThroughMs = last;
    this.changed = true;
    return alerts;
  }

  #score(start: number, alerts: AlertRow[]): void {
    const end = start + this.#window.sizeMs;
    const sums = new Map<string, number>();
    let total = 0;
    const pending = this.#pending.get(start);
    if (pending !== undefined) {
      for (const keys of pending.partitions.values()) {
        for (const [key, value] of keys) {
          sums.set(key, (sums.get(key) ?? 0) + value);
          total += value;
        }
      }
      this.#pending.delete(start);
    }
    const values = new Map<string, number>();
    for (const name of this.detector.seriesNames()) {
      if (name.startsWith(`${this.spec.prefix}.`)) values.set(name, 0);
    }
    for (const [key, value] of sums) values.set(this.seriesName(key), value);
    values.set(this.seriesName(ALL_KEY), total);
    // Sorted, so the alerts of one window come out in the same order on a replay.
    for (const name of [...values.keys()].sort()) {
      const alert = this.detector.observe(name, start, end, values.get(name)!);
      if (alert !== undefined) alerts.push(alert);
    }
  }

  /**
   * State grammar (binary.ts primitives): u32 magic "PALR" | u8 version | f64 observedThroughMs |
   * f64 alertsMark | u32 windows | per window: f64 start, u32 partitions | per partition: u32 partition,
   * u32 keys | per key: str key, f64 value | bytes detector snapshot (AnomalyDetector grammar).
   */
  snapshot(): Uint8Array {
    const detector = this.detector.snapshot();
    const w = new ByteWriter(detector.length + 64);
    w.u32(STATE_MAGIC);
    w.u8(STATE_VERSION);
    w.f64(this.#observedThroughMs);
    w.f64(this.alertsMark);
    w.u32(this.#pending.size);
    for (const [start, pending] of this.#pending) {
      w.f64(start);
      w.u32(pending.partitions.size);
      for (const [partition, keys] of pending.partitions) {
        w.u32(partition);
        w.u32(keys.size);
        for (const [key, value] of keys) {
          w.str(key);
          w.f64(value);
        }
      }
    }
    w.bytes(detector, detector.length);
    return w.finish();
  }

  restore(bytes: Uint8Array, where: string): void {
    const r = new ByteReader(bytes);
    if (r.remaining < 5 || r.u32() !== STATE_MAGIC) {
      throw new StreamError(StreamErrorCode.snapshotCorrupt, `alert state of ${where} has a bad magic`);
    }
    const version = r.u8();
    if (version !== STATE_VERSION) {
      throw new StreamError(
        StreamErrorCode.snapshotMismatch,
        `alert state of ${where} has version ${version}; this Pulse reads version ${STATE_VERSION}`,
      );
    }
    const observedThroughMs = r.f64();
    const alertsMark = r.f64();
    const pendingCount = r.u32();
    const pending = new Map<number, PendingWindow>();
    for (let i = 0; i < pendingCount; i++) {
      const start = r.f64();
      const partitions = new Map<number, Map<string, number>>();
      const partitionCount = r.u32();
      for (let j = 0; j < partitionCount; j++) {
        const partition = r.u32();
        const keys = new Map<string, number>();
        const keyCount = r.u32();
        for (let k = 0; k < keyCount; k++) keys.set(r.str(), r.f64());
        partitions.set(partition, keys);
      }
      pending.set(start, { partitions });
    }
    this.detector.restore(r.bytes());
    if (r.remaining !== 0) {
      throw new StreamError(StreamErrorCode.snapshotCorrupt, `alert state of ${where} has trailing bytes`);
    }
    this.#observedThroughMs = observedThroughMs;
    this.alertsMark = alertsMark;
    this.#pending = pending;
  }
}
