// Little-endian byte writer and reader for checkpoint snapshots of stream state.

import { endianness } from "node:os";
import { StreamError, StreamErrorCode } from "../errors.ts";
import { asBuffer } from "../bytes.ts";

/** Chunks grow to this size; a snapshot of many MB is written as a list of them, never moved. */
const CHUNK_BYTES = 1 << 20;

/**
 * Grammar of the primitives: u8 | u32 | f64 (little-endian) | str = u32 byte length, UTF-8 bytes |
 * u16s = u32 count, count × u16 | u32s = u32 count, count × u32 | bytes = u32 count, count bytes. Lengths before data, so a reader never
 * needs lookahead and a truncated buffer is always detected.
 *
 * The writer writes into a list of chunks instead of one doubling buffer: a snapshot of S bytes then
 * needs S for the chunks and S for finish()'s exact copy at its peak, where doubling held the old
 * buffer, the doubled one and the copy (up to 4S) — tens of MB at a state round with a million users.
 */
export class ByteWriter {
  readonly #chunks: Buffer[] = [];
  #written = 0;
  #buf: Buffer;
  #pos = 0;

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(Math.max(1, initialBytes));
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#chunks.push(this.#buf.subarray(0, this.#pos));
    this.#written += this.#pos;
    // Small writers (alerts, tests) start small; chunks grow to CHUNK_BYTES.
    this.#buf = Buffer.allocUnsafe(Math.max(n, Math.min(CHUNK_BYTES, this.#buf.length * 2)));
    this.#pos = 0;
  }

  u8(v: number): void {
    this.#reserve(1);
    this.#buf[this.#pos++] = v;
  }

  u32(v: number): void {
    this.#reserve(4);
    this.#buf.writeUInt32LE(v, this.#pos);
    this.#pos += 4;
  }

  f64(v: number): void {
    this.#reserve(8);
    this.#buf.writeDoubleLE(v, this.#pos);
    this.#pos += 8;
  }

  str(v: string): void {
    const max = Buffer.byteLength(v, "utf8");
    this.#reserve(4 + max);
    const n = this.#buf.write(v, this.#pos + 4, "utf8");
    this.#buf.writeUInt32LE(n, this.#pos);
    this.#pos += 4 + n;
  }

  u16s(values: Uint16Array, count: number): void {
    this.#uints(values, count);
  }

  u32s(values: Uint32Array, count: number): void {
    this.#uints(values, count);
  }

  /** u16s and u32s: the count, then the first `count` values' bytes, copied whole and little-endian. */
  #uints(values: Uint16Array | Uint32Array, count: number): void {
    const n = count * values.BYTES_PER_ELEMENT;
    this.u32(count);
    this.#reserve(n);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    out.set(new Uint8Array(values.buffer, values.byteOffset, n));
    if (BIG_ENDIAN) swapBytes(out, values.BYTES_PER_ELEMENT);
    this.#pos += n;
  }

  /** Large arrays are copied across chunks, so an arena of many MB needs no chunk of its size. */
  bytes(values: Uint8Array, count: number): void {
    this.u32(count);
    let at = 0;
    while (at < count) {
      if (this.#pos === this.#buf.length) this.#reserve(Math.min(count - at, CHUNK_BYTES));
      const n = Math.min(count - at, this.#buf.length - this.#pos);
      this.#buf.set(values.subarray(at, at + n), this.#pos);
      this.#pos += n;
      at += n;
    }
  }

  /**
   * The bytes written so far. A writer sized up front for everything (one chunk, not from Node's shared
   * pool of small buffers) hands out a view of its chunk; otherwise a copy exactly their length.
   */
  finish(): Uint8Array {
    if (this.#chunks.length === 0 && this.#buf.length > Buffer.poolSize) {
      return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#pos);
    }
    const out = new Uint8Array(this.#written + this.#pos);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    out.set(this.#buf.subarray(0, this.#pos), at);
    return out;
  }
}

export class ByteReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#buf = asBuffer(bytes);
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) {
      throw new StreamError(
        StreamErrorCode.snapshotCorrupt,
        `stream snapshot is truncated: needed ${n} bytes at offset ${this.#pos} of ${this.#buf.length}`,
      );
    }
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  u32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32LE(this.#pos);
    this.#pos += 4;
    return v;
  }

  f64(): number {
    this.#need(8);
    const v = this.#buf.readDoubleLE(this.#pos);
    this.#pos += 8;
    return v;
  }

  str(): string {
    const start = this.#counted(1);
    return this.#buf.toString("utf8", start, this.#pos);
  }

  u16s(): Uint16Array {
    const start = this.#counted(2);
    return this.#uints(new Uint16Array((this.#pos - start) / 2), start);
  }

  /** A copy, so the snapshot buffer can be released. */
  bytes(): Uint8Array {
    const start = this.#counted(1);
    return Uint8Array.prototype.slice.call(this.#buf, start, this.#pos);
  }

  u32s(): Uint32Array {
    const start = this.#counted(4);
    return this.#uints(new Uint32Array((this.#pos - start) / 4), start);
  }

  /**
   * Reads a u32 count of `width`-byte items, checks that they are all there and moves past them;
   * returns where they start.
   */
  #counted(width: number): number {
    const n = this.u32() * width;
    this.#need(n);
    this.#pos += n;
    return this.#pos - n;
  }

  /** Fills `out` from the bytes at `start`, little-endian values (see ByteWriter's #uints). */
  #uints<T extends Uint16Array | Uint32Array>(out: T, start: number): T {
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    this.#buf.copy(bytes, 0, start, start + out.byteLength);
    if (BIG_ENDIAN) swapBytes(bytes, out.BYTES_PER_ELEMENT);
    return out;
  }
}

/** Typed arrays hold their values in the machine's byte order; the snapshot's is little-endian. */
const BIG_ENDIAN = endianness() === "BE";

/** Reverses each `width`-byte value of `bytes` in place: between little-endian and the machine's order. */
function swapBytes(bytes: Buffer, width: number): void {
  if (width === 2) bytes.swap16();
  else bytes.swap32();
}
