// Event-time progress: per-partition watermarks, the job watermark (min over active partitions), and draining.

import { StreamError, StreamErrorCode } from "../errors.ts";

export interface WatermarkOptions {
  /** How far behind the largest event time seen an event may arrive and still be on time. */
  outOfOrdernessMs: number;
}

export function validateDelayMs(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StreamError(
      StreamErrorCode.badOption,
      `${name} must be a whole number of ms ≥ 0, got ${value}`,
      { details: { [name]: value } },
    );
  }
  return value;
}

/**
 * One partition's event-time clock. Invariant: watermarkMs never decreases; it is
 * maxEventTimeMs − outOfOrdernessMs, −∞ before the first event, and +∞ once the input has ended.
 */
export class PartitionClock {
  readonly partition: number;
  maxEventTimeMs = Number.NEGATIVE_INFINITY;
  minEventTimeMs = Number.POSITIVE_INFINITY;
  watermarkMs = Number.NEGATIVE_INFINITY;
  /** An idle partition does not hold back the job watermark until it sees an event again. */
  idle = false;
  ended = false;
  readonly #outOfOrdernessMs: number;

  constructor(partition: number, outOfOrdernessMs: number) {
    this.partition = partition;
    this.#outOfOrdernessMs = outOfOrdernessMs;
  }

  observe(eventTimeMs: number): void {
    this.idle = false;
    if (eventTimeMs < this.minEventTimeMs) this.minEventTimeMs = eventTimeMs;
    if (eventTimeMs > this.maxEventTimeMs) {
      this.maxEventTimeMs = eventTimeMs;
      if (!this.ended) this.watermarkMs = eventTimeMs - this.#outOfOrdernessMs;
    }
  }

  /** Bounded input is exhausted: every window of this partition may now be final (Flink's MAX_WATERMARK). */
  advanceToEnd(): void {
    this.ended = true;
    this.watermarkMs = Number.POSITIVE_INFINITY;
  }

  /** Sets the clock from a checkpoint; the watermark is derived, so it is not stored. */
  restore(maxEventTimeMs: number, minEventTimeMs: number, ended: boolean): void {
    this.maxEventTimeMs = maxEventTimeMs;
    this.minEventTimeMs = minEventTimeMs;
    this.ended = ended;
    this.watermarkMs = ended
      ? Number.POSITIVE_INFINITY
      : maxEventTimeMs === Number.NEGATIVE_INFINITY
        ? maxEventTimeMs
        : maxEventTimeMs - this.#outOfOrdernessMs;
  }
}

/**
 * The watermarks of the partitions one job reads. Lateness is judged per partition (see
 * docs/speed-layer.md: it keeps replays deterministic); the job watermark is the minimum over the
 * active partitions and says when a window is complete across all of them.
 */
export class WatermarkTracker {
  readonly outOfOrdernessMs: number;
  readonly #clocks = new Map<number, PartitionClock>();
  #jobWatermarkMs = Number.NEGATIVE_INFINITY;

  constructor(options: WatermarkOptions) {
    this.outOfOrdernessMs = validateDelayMs("outOfOrdernessMs", options.outOfOrdernessMs);
  }

  /** The partition's clock, created on first use: an assigned partition holds the job watermark back. */
  clock(partition: number): PartitionClock {
    let clock = this.#clocks.get(partition);
    if (clock === undefined) {
      if (!Number.isSafeInteger(partition) || partition < 0) {
        throw new StreamError(
          StreamErrorCode.badOption,
          `partition must be a whole number ≥ 0, got ${partition}`,
        );
      }
      clock = new PartitionClock(partition, this.outOfOrdernessMs);
      this.#clocks.set(partition, clock);
    }
    return clock;
  }

  /** Registers partitions before any event arrives, so the job watermark waits for all of them. */
  assign(partitions: readonly number[]): void {
    for (const p of partitions) this.clock(p);
  }

  /** The partition was revoked (rebalance): it no longer holds the job watermark back. */
  revoke(partition: number): void {
    this.#clocks.delete(partition);
  }

  partitions(): number[] {
    return [...this.#clocks.keys()].sort((a, b) => a - b);
  }

  observe(partition: number, eventTimeMs: number): void {
    this.clock(partition).observe(eventTimeMs);
  }

  partitionWatermark(partition: number): number {
    return this.#clocks.get(partition)?.watermarkMs ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * Caught up with no new records: stop waiting for the partition (Flink's idleness). Its next event
   * makes it active again; an event older than the job watermark by then is judged by the partition's
   * own watermark, so it is still counted, but the merged window may change after it looked complete.
   */
  markIdle(partition: number): void {
    this.clock(partition).idle = true;
  }

  /** Min over active partitions, never decreasing; −∞ while an active partition has seen nothing. */
  watermark(): number {
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const clock of this.#clocks.values()) {
      if (clock.idle && !clock.ended) continue;
      active++;
      if (clock.watermarkMs < min) min = clock.watermarkMs;
    }
    if (active === 0) return this.#jobWatermarkMs;
    if (min > this.#jobWatermarkMs) this.#jobWatermarkMs = min;
    return this.#jobWatermarkMs;
  }

  /** End of bounded input (`--drain`): every partition's watermark becomes +∞. */
  advanceToEnd(): void {
    for (const clock of this.#clocks.values()) clock.advanceToEnd();
  }

  minEventTimeMs(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const clock of this.#clocks.values()) if (clock.minEventTimeMs < min) min = clock.minEventTimeMs;
    return min;
  }

  maxEventTimeMs(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const clock of this.#clocks.values()) if (clock.maxEventTimeMs > max) max = clock.maxEventTimeMs;
    return max;
  }
}
