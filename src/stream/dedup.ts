// Drops repeated event ids within the watermark horizon, with memory bounded by the events in that horizon.

import type { ByteReader, ByteWriter } from "./binary.ts";
import { InternKey, Interner } from "./interner.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

export interface DeduplicatorOptions {
  /** Width of the event-time slices ids are grouped in for eviction (the window slide). */
  sliceMs: number;
  /**
   * How long after a slice starts its ids are kept for every event, in watermark time: the slice starting
   * at s is live until the watermark reaches s + retainMs. The windowed aggregator passes
   * sizeMs + allowedLatenessMs, the moment the last window an event of that slice can join is final.
   */
  retainMs: number;
  /**
   * How much longer a slice is kept for late events only (default 0): from s + retainMs until
   * s + retainMs + lateRetainMs a late copy of one of its ids is a duplicate, and a late event's own id
   * is remembered there, so its copies are duplicates too.
   */
  lateRetainMs?: number;
}

/**
 * Ids are kept in one arena-backed table per event-time slice (see Interner: ~16 bytes for a UUID
 * id, no JS string retained), so forgetting a slice drops one table and needs no deletions.
 *
 * Invariant (the horizon): an id first seen with event time t is remembered until the watermark reaches
 * sliceStart(t) + retainMs, and a lookup probes every live slice, so within that horizon the answer is
 * exact whatever the event time of the copy. The aggregator classifies an event whose slice has passed
 * that point as late before it asks firstSeenKey; it asks firstSeenLateKey instead, which also probes the
 * slices kept for late events (until sliceStart + retainMs + lateRetainMs), so a late copy of an id still
 * held is a duplicate, late or not. Beyond that, nothing is known: a copy goes to the late output.
 *
 * Memory: about 30 bytes an id held (16 for a canonical UUID, its length for other ids, plus the
 * table), for the events whose event time lies within retainMs + lateRetainMs + sliceMs of the
 * watermark. A lookup hashes the id once and probes the live tables, (retainMs + out-of-orderness) /
 * sliceMs + 1 of them; only late events probe the others.
 */
export class Deduplicator {
  readonly sliceMs: number;
  readonly retainMs: number;
  readonly lateRetainMs: number;
  #slices = new Map<number, Interner>();
  /** The live slices' tables as an array, rebuilt when a slice comes, goes or ages, so the probe loop allocates nothing. */
  #tables: Interner[] = [];
  /** The tables kept for late events only. */
  #lateTables: Interner[] = [];
  #lastSliceIndex = Number.NaN;
  #lastSlice: Interner | undefined;
  #size = 0;
  #evicted = 0;
  /** When the watermark reaches this, a slice moves from live to late-only, or goes. */
  #expiresAtMs = Number.POSITIVE_INFINITY;
  /** The watermark the tables were last sorted by. */
  #sortedAtMs = Number.NEGATIVE_INFINITY;
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
    const lateRetainMs = options.lateRetainMs ?? 0;
    if (!Number.isSafeInteger(lateRetainMs) || lateRetainMs < 0) {
      throw new StreamError(StreamErrorCode.badOption, `dedup lateRetainMs must be a whole number of ms ≥ 0`);
    }
    this.sliceMs = options.sliceMs;
    this.retainMs = options.retainMs;
    this.lateRetainMs = lateRetainMs;
  }

  /** Ids currently remembered (for late events only too). */
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
   * whose slice is no longer live is late, and asks firstSeenLateKey).
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
      slice = this.#sliceAt(index, watermarkMs);
      this.#lastSliceIndex = index;
      this.#lastSlice = slice;
    }
    slice.internKey(key);
    this.#size++;
    return true;
  }

  /**
   * For an event the aggregator found late: false when its id is held, live or for late events only (a
   * duplicate). Otherwise true, and the id is remembered in its slice while that slice is kept for late
   * events, so a second late copy is a duplicate.
   */
  firstSeenLateKey(key: InternKey, eventTimeMs: number, watermarkMs: number): boolean {
    if (watermarkMs >= this.#expiresAtMs) this.evict(watermarkMs);
    const tables = this.#tables;
    for (let i = 0; i < tables.length; i++) if (tables[i]!.findKey(key) >= 0) return false;
    const late = this.#lateTables;
    for (let i = 0; i < late.length; i++) if (late[i]!.findKey(key) >= 0) return false;
    const index = Math.floor(eventTimeMs / this.sliceMs);
    if (index * this.sliceMs + this.retainMs + this.lateRetainMs <= watermarkMs) return true;
    this.#sliceAt(index, watermarkMs).internKey(key);
    this.#size++;
    return true;
  }

  /** The table of slice `index`, made (and sorted live or late-only by the watermark) when new. */
  #sliceAt(index: number, watermarkMs: number): Interner {
    let slice = this.#slices.get(index);
    if (slice === undefined) {
      // Sized like the slice before it (event time mostly moves forward, slice after slice).
      slice = new Interner(this.#lastSlice?.size ?? 0);
      this.#slices.set(index, slice);
      this.#sort(Math.max(watermarkMs, this.#sortedAtMs));
    }
    return slice;
  }

  /**
   * Forgets every slice the watermark has passed the late horizon of, and keeps the slices past the live
   * horizon for late events only; returns how many ids went.
   */
  evict(watermarkMs: number): number {
    let removed = 0;
    for (const [index, table] of this.#slices) {
      if (index * this.sliceMs + this.retainMs + this.lateRetainMs > watermarkMs) continue;
      removed += table.size;
      this.#slices.delete(index);
      if (index === this.#lastSliceIndex) {
        this.#lastSliceIndex = Number.NaN;
        this.#lastSlice = undefined;
      }
    }
    this.#sort(watermarkMs);
    this.#size -= removed;
    this.#evicted += removed;
    return removed;
  }

  /** Splits the slices into live and late-only tables at `watermarkMs`, and notes when that next changes. */
  #sort(watermarkMs: number): void {
    const live: Interner[] = [];
    const late: Interner[] = [];
    let expiresAtMs = Number.POSITIVE_INFINITY;
    for (const [index, table] of this.#slices) {
      const liveUntil = index * this.sliceMs + this.retainMs;
      if (liveUntil > watermarkMs) {
        live.push(table);
        if (liveUntil < expiresAtMs) expiresAtMs = liveUntil;
      } else {
        late.push(table);
        if (index === this.#lastSliceIndex) {
          // A late-only slice never takes ids from firstSeenKey.
          this.#lastSliceIndex = Number.NaN;
          this.#lastSlice = undefined;
        }
        const until = liveUntil + this.lateRetainMs;
        if (until < expiresAtMs) expiresAtMs = until;
      }
    }
    this.#tables = live;
    this.#lateTables = late;
    this.#expiresAtMs = expiresAtMs;
    this.#sortedAtMs = watermarkMs;
  }

  byteSize(): number {
    let bytes = 0;
    for (const table of this.#slices.values()) bytes += table.byteSize();
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
    this.#lateTables = [];
    this.#sortedAtMs = Number.NEGATIVE_INFINITY;
    this.#expiresAtMs = Number.NEGATIVE_INFINITY; // the next lookup with a watermark sorts the tables
  }
}
