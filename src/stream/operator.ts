// The windowed aggregation operator: per-partition dedup, lateness, window state, emission and snapshots.

import { StreamError, StreamErrorCode } from "../errors.ts";
import type { Accumulator, AggregateKind, WindowBounds } from "./aggregates.ts";
import { ByteReader, ByteWriter } from "./binary.ts";
import { Deduplicator } from "./dedup.ts";
import { InternKey, Interner } from "./interner.ts";
import { type PartitionClock, validateDelayMs, WatermarkTracker } from "./time.ts";
import {
  assignWindows,
  DAY_MS,
  latestWindowStart,
  utcDayStart,
  validateWindowSpec,
  type WindowSpec,
  windowsPerEvent,
} from "./windows.ts";

/** What process() did with one event; the caller routes `late` (and may route `partiallyLate`) to the late output. */
export const ProcessOutcome = {
  /** Counted in every window it belongs to. */
  accepted: 0,
  /** Counted, but some of its windows (earlier hops, or its day) were already final and missed it. */
  partiallyLate: 1,
  /** Every window it belongs to was final: counted in none. Goes to the late-event output. */
  late: 2,
  /** Same event_id seen before within the horizon: dropped and counted. */
  duplicate: 3,
  /** Offset at or below the partition's last applied offset (a replay after restore): skipped. */
  replayed: 4,
} as const;
export type ProcessOutcome = (typeof ProcessOutcome)[keyof typeof ProcessOutcome];

export interface WindowedAggregatorOptions {
  window: WindowSpec;
  /** Watermark = max event time seen in the partition − outOfOrdernessMs. */
  outOfOrdernessMs: number;
  /** A window is final once the watermark reaches its end + allowedLatenessMs. */
  allowedLatenessMs: number;
  /** Also aggregate per UTC event-time day (default true). */
  daily?: boolean;
}

export interface FlushResult<R, S> {
  /** Rows of the configured window spec: updates (final: false) for changed keys, then finals. */
  windows: R[];
  /** Rows of the UTC-day windows, same rules. */
  days: R[];
  /** Per-window summaries of the configured spec (e.g. top pages), for changed or final windows. */
  summaries: S[];
}

/** Counters and state size of one partition, the per-partition half of the progress report. */
export interface PartitionProgress {
  partition: number;
  /** Last applied offset (−1 before the first); the source resumes at lastOffset + 1. */
  lastOffset: number;
  watermarkMs: number;
  minEventTimeMs: number;
  maxEventTimeMs: number;
  input: number;
  accepted: number;
  partiallyLate: number;
  late: number;
  duplicates: number;
  replayed: number;
  /** Windows (spec + day) held in state. */
  windowsInState: number;
  /** (window, key) accumulators held in state. */
  rowsInState: number;
  dedupIds: number;
  internedIds: number;
  /** Approximate heap bytes of this partition's state. */
  stateBytes: number;
}

/** The counters summed over partitions; the watermark is the min over active partitions. */
export type AggregatorProgress = Omit<
  PartitionProgress,
  "partition" | "lastOffset" | "dedupIds" | "internedIds"
> & {
  partitions: PartitionProgress[];
};

class WindowState<A> {
  readonly bounds: WindowBounds;
  readonly accs = new Map<string, A>();
  /** Accumulators changed since the last flush, each once (guarded by its dirty flag). */
  readonly dirty: A[] = [];

  constructor(startMs: number, endMs: number) {
    this.bounds = { startMs, endMs };
  }
}

class PartitionState<A> {
  readonly partition: number;
  readonly clock: PartitionClock;
  readonly dedup: Deduplicator;
  interners: Interner[];
  readonly windows = new Map<number, WindowState<A>>();
  readonly days = new Map<number, WindowState<A>>();
  /** One-entry caches: consecutive events mostly share their tumbling window and day. */
  lastWindow: WindowState<A> | undefined;
  lastDay: WindowState<A> | undefined;
  lastOffset = -1;
  input = 0;
  accepted = 0;
  partiallyLate = 0;
  late = 0;
  duplicates = 0;
  replayed = 0;

  constructor(partition: number, clock: PartitionClock, dedup: Deduplicator, internerCount: number) {
    this.partition = partition;
    this.clock = clock;
    this.dedup = dedup;
    this.interners = Array.from({ length: internerCount }, () => new Interner());
  }
}

const SNAPSHOT_MAGIC = 0x534c5550; // "PULS" little-endian
const SNAPSHOT_VERSION = 1;

/** Compaction waits until at least this many interned ids are dead, so small states never pay for it. */
const COMPACT_MIN_DEAD = 4096;

/**
 * Keyed event-time window aggregation over the partitions of one topic, with all state per partition
 * so a partition's state and its offset form one checkpoint.
 *
 * Invariants, per partition p with watermark wm(p) (max event time − out-of-orderness):
 * - window w is final once w.end + allowedLateness ≤ wm(p); its final rows are emitted by the next
 *   flush() and the window leaves state. wm(p) never decreases, so no event joins a final window.
 * - an event whose latest window is final is late (and so are all its other windows): it joins none.
 *   It is a duplicate instead when the dedup state still holds its id (kept one more horizon,
 *   size + allowed lateness + out-of-orderness, for late events), and otherwise its id is kept so.
 * - an event that is not late is answered exactly by dedup: ids are kept until the same condition
 *   makes their slice late (see Deduplicator).
 * - an offset ≤ the last applied offset is a replay and changes nothing.
 * Lateness uses the partition's own watermark, not the job's, so replaying a partition after a restore
 * makes the same decisions whatever the interleaving with other partitions.
 */
export class WindowedAggregator<E, A extends Accumulator, R, S = never> {
  readonly window: WindowSpec;
  readonly outOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
  readonly daily: boolean;
  readonly #kind: AggregateKind<E, A, R, S>;
  /** The id of the event being processed, examined once for all the dedup tables it is probed in. */
  readonly #eventKey = new InternKey();
  readonly #tracker: WatermarkTracker;
  readonly #partitions = new Map<number, PartitionState<A>>();
  readonly #starts: Float64Array;
  #last: PartitionState<A> | undefined;

  constructor(kind: AggregateKind<E, A, R, S>, options: WindowedAggregatorOptions) {
    this.#kind = kind;
    this.window = validateWindowSpec({ sizeMs: options.window.sizeMs, slideMs: options.window.slideMs });
    this.outOfOrdernessMs = validateDelayMs("outOfOrdernessMs", options.outOfOrdernessMs);
    this.allowedLatenessMs = validateDelayMs("allowedLatenessMs", options.allowedLatenessMs);
    this.daily = options.daily ?? true;
    this.#tracker = new WatermarkTracker({ outOfOrdernessMs: this.outOfOrdernessMs });
    this.#starts = new Float64Array(windowsPerEvent(this.window));
  }

  get kindName(): string {
    return this.#kind.name;
  }

  /** Registers partitions before their first event, so the job watermark waits for them. */
  assign(partitions: readonly number[]): void {
    for (const p of partitions) this.#state(p);
  }

  /** Drops a revoked partition's state (checkpoint it first). */
  revoke(partition: number): void {
    this.#partitions.delete(partition);
    this.#tracker.revoke(partition);
    if (this.#last?.partition === partition) this.#last = undefined;
  }

  partitions(): number[] {
    return [...this.#partitions.keys()].sort((a, b) => a - b);
  }

  /** Where the source should resume reading the partition. */
  nextOffset(partition: number): number {
    return (this.#partitions.get(partition)?.lastOffset ?? -1) + 1;
  }

  partitionWatermark(partition: number): number {
    return this.#tracker.partitionWatermark(partition);
  }

  /** The job watermark: min over active partitions. */
  watermark(): number {
    return this.#tracker.watermark();
  }

  markIdle(partition: number): void {
    this.#state(partition);
    this.#tracker.markIdle(partition);
  }

  /** Bounded input is exhausted: the next flush() finalises every window (`pulse stream --drain`). */
  advanceToEnd(): void {
    this.#tracker.advanceToEnd();
  }

  #state(partition: number): PartitionState<A> {
    let state = this.#partitions.get(partition);
    if (state === undefined) {
      state = new PartitionState<A>(
        partition,
        this.#tracker.clock(partition),
        new Deduplicator({
          sliceMs: this.window.slideMs,
          retainMs: this.window.sizeMs + this.allowedLatenessMs,
          lateRetainMs: this.window.sizeMs + this.allowedLatenessMs + this.outOfOrdernessMs,
        }),
        this.#kind.internerCount,
      );
      this.#partitions.set(partition, state);
    }
    return state;
  }

  /** Applies one event read from `partition` at `offset` (offsets increase within a partition). */
  process(event: E, partition: number, offset: number): ProcessOutcome {
    let p = this.#last;
    if (p === undefined || p.partition !== partition) {
      p = this.#state(partition);
      this.#last = p;
    }
    if (offset <= p.lastOffset) {
      p.replayed++;
      return ProcessOutcome.replayed;
    }
    p.lastOffset = offset;
    p.input++;
    const kind = this.#kind;
    const eventTimeMs = kind.eventTimeMs(event);
    p.clock.observe(eventTimeMs);
    const wm = p.clock.watermarkMs;
    const { sizeMs } = this.window;
    const lateness = this.allowedLatenessMs;
    if (latestWindowStart(eventTimeMs, this.window) + sizeMs + lateness <= wm) {
      // A copy of an id the dedup state still holds is a duplicate, late or not.
      if (!p.dedup.firstSeenLateKey(kind.eventKey(event, this.#eventKey), eventTimeMs, wm)) {
        p.duplicates++;
        return ProcessOutcome.duplicate;
      }
      p.late++;
      return ProcessOutcome.late;
    }
    if (!p.dedup.firstSeenKey(kind.eventKey(event, this.#eventKey), eventTimeMs, wm)) {
      p.duplicates++;
      return ProcessOutcome.duplicate;
    }
    kind.prepare(event, p.interners);
    const key = kind.key(event);
    let missed = 0;
    const starts = this.#starts;
    const n = assignWindows(eventTimeMs, this.window, starts);
    for (let i = 0; i < n; i++) {
      const startMs = starts[i]!;
      if (startMs + sizeMs + lateness <= wm) {
        missed++;
        continue;
      }
      let w = p.lastWindow;
      if (w === undefined || w.bounds.startMs !== startMs) {
        w = this.#window(p.windows, startMs, startMs + sizeMs);
        p.lastWindow = w;
      }
      this.#add(w, key, event);
    }
    if (this.daily) {
      const dayStart = utcDayStart(eventTimeMs);
      if (dayStart + DAY_MS + lateness <= wm) {
        missed++;
      } else {
        let d = p.lastDay;
        if (d === undefined || d.bounds.startMs !== dayStart) {
          d = this.#window(p.days, dayStart, dayStart + DAY_MS);
          p.lastDay = d;
        }
        this.#add(d, key, event);
      }
    }
    if (missed > 0) {
      p.partiallyLate++;
      return ProcessOutcome.partiallyLate;
    }
    p.accepted++;
    return ProcessOutcome.accepted;
  }

  #window(windows: Map<number, WindowState<A>>, startMs: number, endMs: number): WindowState<A> {
    let w = windows.get(startMs);
    if (w === undefined) {
      w = new WindowState<A>(startMs, endMs);
      windows.set(startMs, w);
    }
    return w;
  }

  #add(w: WindowState<A>, key: string, event: E): void {
    let acc = w.accs.get(key);
    if (acc === undefined) {
      acc = this.#kind.create(key);
      w.accs.set(key, acc);
    }
    this.#kind.add(acc, event);
    if (!acc.dirty) {
      acc.dirty = true;
      w.dirty.push(acc);
    }
  }

  /**
   * Rows for every key changed since the last flush (final: false), and final rows for every key of
   * each window the partition's watermark has closed; closed windows leave state, and dedup forgets
   * the slices no event can join any more. Rows carry absolute values, so writing one twice is harmless.
   */
  flush(): FlushResult<R, S> {
    const out: FlushResult<R, S> = { windows: [], days: [], summaries: [] };
    for (const p of this.#partitions.values()) {
      const wm = p.clock.watermarkMs;
      const droppedWindows = this.#emit(p, p.windows, wm, out.windows, out.summaries);
      const droppedDays = this.#emit(p, p.days, wm, out.days, null);
      p.dedup.evict(wm);
      if (droppedWindows) p.lastWindow = undefined;
      if (droppedDays) p.lastDay = undefined;
      if (droppedWindows || droppedDays) this.#maybeCompact(p);
    }
    return out;
  }

  #emit(
    p: PartitionState<A>,
    windows: Map<number, WindowState<A>>,
    wm: number,
    rows: R[],
    summaries: S[] | null,
  ): boolean {
    const kind = this.#kind;
    let dropped = false;
    for (const [startMs, w] of windows) {
      if (w.bounds.endMs + this.allowedLatenessMs <= wm) {
        for (const acc of w.accs.values()) {
          acc.dirty = false;
          rows.push(kind.row(acc, w.bounds, p.partition, true));
        }
        if (summaries !== null && kind.summarize !== undefined) {
          const s = kind.summarize(w.accs.values(), w.bounds, p.partition, true);
          if (s !== null) summaries.push(s);
        }
        windows.delete(startMs);
        dropped = true;
      } else if (w.dirty.length > 0) {
        for (const acc of w.dirty) {
          acc.dirty = false;
          rows.push(kind.row(acc, w.bounds, p.partition, false));
        }
        w.dirty.length = 0;
        if (summaries !== null && kind.summarize !== undefined) {
          const s = kind.summarize(w.accs.values(), w.bounds, p.partition, false);
          if (s !== null) summaries.push(s);
        }
      }
    }
    return dropped;
  }

  /**
   * Interned ids outlive the windows that used them (a user seen yesterday only). When at least half of
   * an interner is dead — the sum of the open sets' sizes bounds the live ids from above — renumber the
   * live ids densely, in their old order, and rewrite the sets. Amortised O(1) an id.
   */
  #maybeCompact(p: PartitionState<A>): void {
    for (let i = 0; i < p.interners.length; i++) {
      const interner = p.interners[i]!;
      let liveBound = 0;
      for (const windows of [p.windows, p.days]) {
        for (const w of windows.values()) for (const acc of w.accs.values()) liveBound += acc.idSets[i]!.size;
      }
      if (interner.size - liveBound < COMPACT_MIN_DEAD || interner.size < 2 * liveBound) continue;
      const live = new Uint8Array(interner.size);
      const mark = (id: number): void => {
        live[id] = 1;
      };
      for (const windows of [p.windows, p.days]) {
        for (const w of windows.values()) for (const acc of w.accs.values()) acc.idSets[i]!.forEach(mark);
      }
      const map = interner.compact(live);
      for (const windows of [p.windows, p.days]) {
        for (const w of windows.values()) for (const acc of w.accs.values()) acc.idSets[i]!.remap(map);
      }
    }
  }

  progress(): AggregatorProgress {
    const partitions = this.partitions().map((id) => this.#partitionProgress(this.#partitions.get(id)!));
    const sum = (f: (p: PartitionProgress) => number): number => partitions.reduce((a, p) => a + f(p), 0);
    return {
      watermarkMs: this.#tracker.watermark(),
      minEventTimeMs: this.#tracker.minEventTimeMs(),
      maxEventTimeMs: this.#tracker.maxEventTimeMs(),
      input: sum((p) => p.input),
      accepted: sum((p) => p.accepted),
      partiallyLate: sum((p) => p.partiallyLate),
      late: sum((p) => p.late),
      duplicates: sum((p) => p.duplicates),
      replayed: sum((p) => p.replayed),
      windowsInState: sum((p) => p.windowsInState),
      rowsInState: sum((p) => p.rowsInState),
      stateBytes: sum((p) => p.stateBytes),
      partitions,
    };
  }

  #partitionProgress(p: PartitionState<A>): PartitionProgress {
    let rows = 0;
    let bytes = p.dedup.byteSize();
    for (const interner of p.interners) bytes += interner.byteSize();
    for (const windows of [p.windows, p.days]) {
      for (const w of windows.values()) {
        rows += w.accs.size;
        for (const acc of w.accs.values()) {
          bytes += 96;
          for (const set of acc.idSets) bytes += set.byteSize();
        }
      }
    }
    return {
      partition: p.partition,
      lastOffset: p.lastOffset,
      watermarkMs: p.clock.watermarkMs,
      minEventTimeMs: p.clock.minEventTimeMs,
      maxEventTimeMs: p.clock.maxEventTimeMs,
      input: p.input,
      accepted: p.accepted,
      partiallyLate: p.partiallyLate,
      late: p.late,
      duplicates: p.duplicates,
      replayed: p.replayed,
      windowsInState: p.windows.size + p.days.size,
      rowsInState: rows,
      dedupIds: p.dedup.size,
      internedIds: p.interners.reduce((a, i) => a + i.size, 0),
      stateBytes: bytes,
    };
  }

  /**
   * The partition's whole state as bytes, to store in the same transaction as the rows of the flush
   * before it. Grammar (binary.ts primitives):
   *   u32 magic "PULS", u8 version, str kind, f64 sizeMs, f64 slideMs, f64 outOfOrdernessMs,
   *   f64 allowedLatenessMs, u8 daily,
   *   f64 partition, f64 lastOffset, f64 maxEventTimeMs, f64 minEventTimeMs, u8 ended,
   *   6 × f64 counters (input accepted partiallyLate late duplicates replayed),
   *   u32 interner count, interners, dedup, windows, days
   *   windows = u32 count, per window: f64 startMs, u32 keys, per key: str key, u8 dirty, accumulator
   */
  snapshot(partition: number): Uint8Array {
    const p = this.#state(partition);
    const w = new ByteWriter();
    w.u32(SNAPSHOT_MAGIC);
    w.u8(SNAPSHOT_VERSION);
    w.str(this.#kind.name);
    w.f64(this.window.sizeMs);
    w.f64(this.window.slideMs);
    w.f64(this.outOfOrdernessMs);
    w.f64(this.allowedLatenessMs);
    w.u8(this.daily ? 1 : 0);
    w.f64(p.partition);
    w.f64(p.lastOffset);
    w.f64(p.clock.maxEventTimeMs);
    w.f64(p.clock.minEventTimeMs);
    w.u8(p.clock.ended ? 1 : 0);
    for (const n of [p.input, p.accepted, p.partiallyLate, p.late, p.duplicates, p.replayed]) w.f64(n);
    w.u32(p.interners.length);
    for (const interner of p.interners) interner.write(w);
    p.dedup.write(w);
    for (const windows of [p.windows, p.days]) {
      w.u32(windows.size);
      for (const win of windows.values()) {
        w.f64(win.bounds.startMs);
        w.u32(win.accs.size);
        for (const acc of win.accs.values()) {
          w.str(acc.key);
          w.u8(acc.dirty ? 1 : 0);
          this.#kind.writeAccumulator(acc, w);
        }
      }
    }
    return w.finish();
  }

  /** Replaces the partition's state with a snapshot taken by an aggregator with the same options. */
  restore(partition: number, bytes: Uint8Array): void {
    const r = new ByteReader(bytes);
    if (r.remaining < 5 || r.u32() !== SNAPSHOT_MAGIC) {
      throw new StreamError(StreamErrorCode.snapshotCorrupt, "not a Pulse stream snapshot (bad magic)", {
        details: { partition },
      });
    }
    const version = r.u8();
    if (version !== SNAPSHOT_VERSION) {
      throw new StreamError(
        StreamErrorCode.snapshotMismatch,
        `stream snapshot version ${version} is not supported (expected ${SNAPSHOT_VERSION})`,
        { details: { partition } },
      );
    }
    const saved = {
      kind: r.str(),
      sizeMs: r.f64(),
      slideMs: r.f64(),
      outOfOrdernessMs: r.f64(),
      allowedLatenessMs: r.f64(),
      daily: r.u8() === 1,
    };
    const mine = {
      kind: this.#kind.name,
      sizeMs: this.window.sizeMs,
      slideMs: this.window.slideMs,
      outOfOrdernessMs: this.outOfOrdernessMs,
      allowedLatenessMs: this.allowedLatenessMs,
      daily: this.daily,
    };
    for (const k of Object.keys(mine) as (keyof typeof mine)[]) {
      if (saved[k] !== mine[k]) {
        throw new StreamError(
          StreamErrorCode.snapshotMismatch,
          `checkpoint of partition ${partition} was written with ${k}=${saved[k]}, this job has ${k}=${mine[k]}; ` +
            "drain the old job or start a new consumer group to change window options",
          { details: { partition, option: k, saved: saved[k], configured: mine[k] } },
        );
      }
    }
    const savedPartition = r.f64();
    if (savedPartition !== partition) {
      throw new StreamError(
        StreamErrorCode.snapshotMismatch,
        `snapshot of partition ${savedPartition} cannot restore partition ${partition}`,
        { details: { partition, savedPartition } },
      );
    }
    this.revoke(partition);
    const p = this.#state(partition);
    p.lastOffset = r.f64();
    const maxEventTimeMs = r.f64();
    const minEventTimeMs = r.f64();
    p.clock.restore(maxEventTimeMs, minEventTimeMs, r.u8() === 1);
    p.input = r.f64();
    p.accepted = r.f64();
    p.partiallyLate = r.f64();
    p.late = r.f64();
    p.duplicates = r.f64();
    p.replayed = r.f64();
    const internerCount = r.u32();
    if (internerCount !== this.#kind.internerCount) {
      throw new StreamError(StreamErrorCode.snapshotCorrupt, `snapshot has ${internerCount} interners`);
    }
    p.interners = Array.from({ length: internerCount }, () => Interner.read(r));
    p.dedup.read(r);
    for (const [windows, sizeMs] of [
      [p.windows, this.window.sizeMs],
      [p.days, DAY_MS],
    ] as const) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const startMs = r.f64();
        const win = new WindowState<A>(startMs, startMs + sizeMs);
        const keys = r.u32();
        for (let k = 0; k < keys; k++) {
          const key = r.str();
          const dirty = r.u8() === 1;
          const acc = this.#kind.readAccumulator(key, r);
          win.accs.set(key, acc);
          if (dirty) {
            acc.dirty = true;
            win.dirty.push(acc);
          }
        }
        windows.set(startMs, win);
      }
    }
    if (r.remaining !== 0) {
      throw new StreamError(StreamErrorCode.snapshotCorrupt, `snapshot has ${r.remaining} trailing bytes`);
    }
  }
}
