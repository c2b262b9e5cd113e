// Little-endian byte writer and reader for checkpoint snapshots of stream state.

import { StreamError, StreamErrorCode } from "../errors.ts";

/**
 * Grammar of the primitives: u8 | u32 | f64 (little-endian) | str = u32 byte length, UTF-8 bytes |
 * u16s = u32 count, count × u16 | u32s = u32 count, count × u32 | bytes = u32 count, count bytes. Lengths before data, so a reader never
 * needs lookahead and a truncated buffer is always detected.
 */
export class ByteWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
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

  bytes(values: Uint8Array, count: number): void {
    this.u32(count);
    this.#reserve(count);
    this.#buf.set(values.subarray(0, count), this.#pos);
    this.#pos += count;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.#buf, 0, this.#pos);
  }
}

export class ByteReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
