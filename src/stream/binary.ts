// Little-endian byte writer and reader for checkpoint snapshots of stream state.

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
    this.u32(count);
    this.#reserve(count * 2);
    for (let i = 0; i < count; i++) {
      this.#buf.writeUInt16LE(values[i]!, this.#pos);
      this.#pos += 2;
    }
  }

  u32s(values: Uint32Array, count: number): void {
    this.u32(count);
    this.#reserve(count * 4);
    for (let i = 0; i < count; i++) {
      this.#buf.writeUInt32LE(values[i]!, this.#pos);
      this.#pos += 4;
    }
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
    const n = this.u32();
    this.#need(n);
    const v = this.#buf.toString("utf8", this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  u16s(): Uint16Array {
    const n = this.u32();
    this.#need(n * 2);
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.#buf.readUInt16LE(this.#pos);
      this.#pos += 2;
    }
    return out;
  }

  /** A copy, so the snapshot buffer can be released. */
  bytes(): Uint8Array {
    const n = this.u32();
    this.#need(n);
    const out = Uint8Array.prototype.slice.call(this.#buf, this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  u32s(): Uint32Array {
    const n = this.u32();
    this.#need(n * 4);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.#buf.readUInt32LE(this.#pos);
      this.#pos += 4;
    }
    return out;
  }
}
