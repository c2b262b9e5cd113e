// Exact, compact sets of small integer ids: a roaring-style bitmap over interned ids.

import type { ByteReader, ByteWriter } from "./binary.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

const CHUNK_BITS = 16;
const LOW_MASK = 0xffff;
/** An array chunk above this many ids is larger than the 8 KiB bitmap, so it converts. */
const ARRAY_MAX = 4096;
const BITMAP_WORDS = 65536 / 32;

/**
 * A chunk holds the ids that share their high 16 bits. Invariant: while `bits` is null, `values[0..n)`
 * is strictly increasing (2 bytes an id); once it has more than ARRAY_MAX ids it is a 65,536-bit bitmap
 * (8 KiB) and stays one. `n` is always the exact number of ids in the chunk.
 */
class Chunk {
  n = 0;
  values: Uint16Array = new Uint16Array(4);
  bits: Uint32Array | null = null;

  add(low: number): boolean {
    const bits = this.bits;
    if (bits !== null) {
      const w = low >>> 5;
      const mask = 1 << (low & 31);
      if ((bits[w]! & mask) !== 0) return false;
      bits[w] = bits[w]! | mask;
      this.n++;
      return true;
    }
    const values = this.values;
    let n = this.n;
    // Interned ids arrive mostly in increasing order (new users get new ids): append without a search.
    if (n === 0 || low > values[n - 1]!) {
      if (n === ARRAY_MAX) {
        this.#toBitmap();
        return this.add(low);
      }
      if (n === values.length) this.#grow();
      this.values[n] = low;
      this.n = n + 1;
      return true;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = values[mid]!;
      if (v < low) lo = mid + 1;
      else if (v > low) hi = mid - 1;
      else return false;
    }
    if (n === ARRAY_MAX) {
      this.#toBitmap();
      return this.add(low);
    }
    if (n === values.length) this.#grow();
    this.values.copyWithin(lo + 1, lo, n);
    this.values[lo] = low;
    this.n = ++n;
    return true;
  }

  has(low: number): boolean {
    if (this.bits !== null) return (this.bits[low >>> 5]! & (1 << (low & 31))) !== 0;
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.values[mid]!;
      if (v < low) lo = mid + 1;
      else if (v > low) hi = mid - 1;
      else return true;
    }
    return false;
  }

  #grow(): void {
    const next = new Uint16Array(Math.min(ARRAY_MAX, this.values.length * 2));
    next.set(this.values);
    this.values = next;
  }

  #toBitmap(): void {
    const bits = new Uint32Array(BITMAP_WORDS);
    for (let i = 0; i < this.n; i++) {
      const v = this.values[i]!;
      bits[v >>> 5] = bits[v >>> 5]! | (1 << (v & 31));
    }
    this.bits = bits;
    this.values = new Uint16Array(0);
  }

  byteSize(): number {
    return 48 + (this.bits !== null ? this.bits.byteLength : this.values.byteLength);
  }

  /** Calls fn with every low half in increasing order. */
  forEach(high: number, fn: (id: number) => void): void {
    const base = high * 65536;
    if (this.bits === null) {
      for (let i = 0; i < this.n; i++) fn(base + this.values[i]!);
      return;
    }
    for (let w = 0; w < BITMAP_WORDS; w++) {
      let word = this.bits[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        fn(base + w * 32 + bit);
        word &= word - 1;
      }
    }
  }
}

/**
 * A set of u32 ids with exact cardinality: roaring-style chunks indexed by the high 16 bits. Interned ids
 * are dense from 0, so the chunk table is a plain array: one million ids is 16 chunks, 128 KiB as bitmaps.
 */
export class IdSet {
  #chunks: (Chunk | undefined)[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(id: number): boolean {
    const high = id >>> CHUNK_BITS;
    let chunk = this.#chunks[high];
    if (chunk === undefined) {
      while (this.#chunks.length < high) this.#chunks.push(undefined);
      chunk = new Chunk();
      this.#chunks[high] = chunk;
    }
    if (!chunk.add(id & LOW_MASK)) return false;
    this.#size++;
    return true;
  }

  has(id: number): boolean {
    const chunk = this.#chunks[id >>> CHUNK_BITS];
    return chunk?.has(id & LOW_MASK) === true;
  }

  /** Every id in increasing order. */
  forEach(fn: (id: number) => void): void {
    for (let high = 0; high < this.#chunks.length; high++) this.#chunks[high]?.forEach(high, fn);
  }

  toArray(): Uint32Array {
    const out = new Uint32Array(this.#size);
    let i = 0;
    this.forEach((id) => {
      out[i++] = id;
    });
    return out;
  }

  /** Approximate heap bytes, for the state-size metric. */
  byteSize(): number {
    let bytes = 32 + this.#chunks.length * 8;
    for (const chunk of this.#chunks) if (chunk !== undefined) bytes += chunk.byteSize();
    return bytes;
  }

  /** Rewrites ids through an order-preserving map (−1 drops the id); used when the interner compacts. */
  remap(map: Int32Array): void {
    const old = this.toArray();
    this.#chunks = [];
    this.#size = 0;
    for (let i = 0; i < old.length; i++) {
      const id = map[old[i]!]!;
      if (id >= 0) this.add(id);
    }
  }

  /** Grammar: u32 chunk count, then per chunk: u32 high, u8 kind (0 array, 1 bitmap), u16s or u32s. */
  write(w: ByteWriter): void {
    let count = 0;
    for (const chunk of this.#chunks) if (chunk !== undefined && chunk.n > 0) count++;
    w.u32(count);
    for (let high = 0; high < this.#chunks.length; high++) {
      const chunk = this.#chunks[high];
      if (chunk === undefined || chunk.n === 0) continue;
      w.u32(high);
      if (chunk.bits === null) {
        w.u8(0);
        w.u16s(chunk.values, chunk.n);
      } else {
        w.u8(1);
        w.u32s(chunk.bits, chunk.bits.length);
      }
    }
  }

  static read(r: ByteReader): IdSet {
    const set = new IdSet();
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const high = r.u32();
      const kind = r.u8();
      const chunk = new Chunk();
      if (kind === 0) {
        chunk.values = r.u16s();
        chunk.n = chunk.values.length;
        for (let j = 1; j < chunk.n; j++) {
          if (chunk.values[j]! <= chunk.values[j - 1]!)
            corrupt("an id-set array chunk is not strictly increasing");
        }
      } else if (kind === 1) {
        chunk.bits = r.u32s();
        if (chunk.bits.length !== BITMAP_WORDS) corrupt("an id-set bitmap chunk has the wrong length");
        let n = 0;
        for (let w = 0; w < BITMAP_WORDS; w++) n += popcount(chunk.bits[w]!);
        chunk.n = n;
        chunk.values = new Uint16Array(0);
      } else {
        corrupt(`unknown id-set chunk kind ${kind}`);
      }
      while (set.#chunks.length < high) set.#chunks.push(undefined);
      set.#chunks[high] = chunk;
      set.#size += chunk.n;
    }
    return set;
  }
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function corrupt(message: string): never {
  throw new StreamError(StreamErrorCode.snapshotCorrupt, `stream snapshot is corrupt: ${message}`);
}
