// Drops repeated event ids within the watermark horizon, with memory bounded by the events in that horizon.

import type { ByteReader, ByteWriter } from "./binary.ts";
import { InternKey, Interner } from "./interner.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

export interface DeduplicatorOptions {
  /** Width of the event-time slices ids are grouped in for eviction (the window slide). */
  sliceMs: number;
  /**
   * How long after a slice starts its ids are kept, in watermark time: the slice starting at s is
   * forgotten once the watermark reaches s + retainMs. The windowed aggregator passes
   * sizeMs + allowedLatenessMs, the moment the last window an event of that slice can join is final.
   */
  retainMs: number;
}

/**
 * Ids are kept in one arena-backed table per event-time slice (see Interner: ~16 bytes for a UUID
 * id, no JS string retained), so forgetting a slice drops one table and needs no deletions.
 *
 * Invariant (the horizon): an id first seen with event time t is remembered until the watermark reaches
 * sliceStart(t) + retainMs, and a lookup probes every live slice, so within that horizon the answer is
 * exact whatever the event time of the copy. Beyond it the caller must not ask: the aggregator
 * classifies such an event as late before it reaches dedup, so a copy that arrives after its original
 * was forgotten goes to the late output instead of being counted twice.
 *
 * Memory: about 30 bytes an id held (16 for a canonical UUID, its length for other ids, plus the
 * table), for the events whose event time lies within retainMs + sliceMs of the watermark. A lookup
 * hashes the id once and probes (retainMs + out-of-orderness) / sliceMs + 1 tables.
 */
export class Deduplicator {
  readonly sliceMs: number;
  readonly retainMs: number;
  #slices = new Map<number, Interner>();
  /** The slice tables as an array, rebuilt when a slice comes or goes, so the probe loop allocates nothing. */
  #tables: Interner[] = [];
  #lastSliceIndex = Number.NaN;
  #lastSlice: Interner | undefined;
  #size = 0;
  #evicted = 0;
  /** When the watermark reaches this, the oldest slice can go. */
  #expiresAtMs = Number.POSITIVE_INFINITY;
  /** The id being looked up, examined once for every table it is probed in. */
  readonly #key = new InternKey();

  constructor(options: DeduplicatorOptions) {
    if (!Number.isSafeInteger(options.sliceMs) || options.sliceMs <= 0) {
      throw new StreamError(StreamErrorCode.badOption, `dedup sliceMs must be a whole number of ms > 0`);
    }
    if (!Number.isSafeInteger(options.retainMs) || options.retainMs < options.sliceMs) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `dedup retainMs must be a whole number of ms ≥ sliceMs`,
      );
    }
    this.sliceMs = options.sliceMs;
    this.retainMs = options.retainMs;
  }

  /** Ids currently remembered. */
  get size(): number {
    return this.#size;
  }

  get sliceCount(): number {
    return this.#slices.size;
  }

  /** Ids forgotten so far by eviction. */
  get evicted(): number {
    return this.#evicted;
  }

  /**
   * True the first time an id is seen within the horizon (and remembers it); false for a repeat.
   * Given the partition's watermark, first forgets the slices it has passed, so a batch that moves the
   * watermark over many slices probes only the live ones (eviction never changes an answer: an event
   * whose slice was forgotten is late before it gets here).
   */
  firstSeen(eventId: string, eventTimeMs: number, watermarkMs = Number.NEGATIVE_INFINITY): boolean {
    return this.firstSeenKey(this.#key.set(eventId), eventTimeMs, watermarkMs);
  }

  /** firstSeen of the id a key holds (see InternKey: set from a string or from bytes). */
  firstSeenKey(key: InternKey, eventTimeMs: number, watermarkMs = Number.NEGATIVE_INFINITY): boolean {
    if (watermarkMs >= this.#expiresAtMs) this.evict(watermarkMs);
    const tables = this.#tables;
    for (let i = 0; i < tables.length; i++) if (tables[i]!.findKey(key) >= 0) return false;
    const index = Math.floor(eventTimeMs / this.sliceMs);
    let slice = this.#lastSlice;
    if (index !== this.#lastSliceIndex || slice === undefined) {
      slice = this.#slices.get(index);
      if (slice === undefined) {
        // Sized like the slice before it (event time mostly moves forward, slice after slice).
        slice = new Interner(this.#lastSlice?.size ?? 0);
        this.#slices.set(index, slice);
        this.#tables = [...this.#slices.values()];
        this.#expiresAtMs = Math.min(this.#expiresAtMs, index * this.sliceMs + this.retainMs);
      }
      this.#lastSliceIndex = index;
      this.#lastSlice = slice;
    }
    slice.internKey(key);
    this.#size++;
    return true;
  }

  /** Forgets every slice the watermark has passed the horizon of; returns how many ids went. */
  evict(watermarkMs: number): number {
    let removed = 0;
    let expiresAtMs = Number.POSITIVE_INFINITY;
    for (const [index, table] of this.#slices) {
      const sliceExpiresAtMs = index * this.sliceMs + this.retainMs;
      if (sliceExpiresAtMs > watermarkMs) {
        if (sliceExpiresAtMs < expiresAtMs) expiresAtMs = sliceExpiresAtMs;
        continue;
      }
      removed += table.size;
      this.#slices.delete(index);
      if (index === this.#lastSliceIndex) {
        this.#lastSliceIndex = Number.NaN;
        this.#lastSlice = undefined;
      }
    }
    this.#expiresAtMs = expiresAtMs;
    if (removed > 0 || this.#tables.length !== this.#slices.size) this.#tables = [...this.#slices.values()];
    this.#size -= removed;
    this.#evicted += removed;
    return removed;
  }

  byteSize(): number {
    let bytes = 0;
    for (const table of this.#tables) bytes += table.byteSize();
    return bytes;
  }

  /** Grammar: f64 evicted, u32 slice count, per slice: f64 index, interner. */
  write(w: ByteWriter): void {
    w.f64(this.#evicted);
    w.u32(this.#slices.size);
    for (const [index, table] of this.#slices) {
      w.f64(index);
      table.write(w);
    }
  }

  read(r: ByteReader): void {
    this.#slices.clear();
    this.#lastSliceIndex = Number.NaN;
    this.#lastSlice = undefined;
    this.#size = 0;
    this.#evicted = r.f64();
    const slices = r.u32();
    for (let s = 0; s < slices; s++) {
      const index = r.f64();
      const table = Interner.read(r);
      this.#slices.set(index, table);
      this.#size += table.size;
    }
    this.#tables = [...this.#slices.values()];
    this.#expiresAtMs = Number.NEGATIVE_INFINITY; // the next lookup with a watermark recomputes it
  }
}
