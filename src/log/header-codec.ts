// The headers encoding of schema-1 log files (one `headers` BLOB column per record): read when converting them, and by tests that write them.
import { LogError, LogErrorCode } from "../errors.ts";
import type { RecordHeaders } from "./index.ts";

/*
 * headers := count:uvarint (nameLength:uvarint name:utf8 valueLength:uvarint value:bytes){count}
 * uvarint is unsigned LEB128 (7 bits a byte, low group first, high bit = more), as in protobuf.
 * A record without headers stores NULL, not an empty encoding, so the common case costs nothing.
 * Invariant: decodeHeaders(encodeHeaders(h)) has the same names, in insertion order, with equal bytes.
 */

function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeUvarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Encodes headers, or returns null when there are none (stored as SQL NULL). */
export function encodeHeaders(headers: RecordHeaders | undefined): Buffer | null {
  if (headers === undefined) return null;
  let count = 0;
  let size = 0;
  for (const name in headers) {
    const value = headers[name];
    if (!(value instanceof Uint8Array)) {
      throw new LogError(
        LogErrorCode.badArgument,
        `Header "${name}" must be a Buffer (header values are raw bytes, as in Kafka); encode strings with Buffer.from(text).`,
      );
    }
    const nameBytes = Buffer.byteLength(name, "utf8");
    size += uvarintSize(nameBytes) + nameBytes + uvarintSize(value.length) + value.length;
    count++;
  }
  if (count === 0) return null;
  size += uvarintSize(count);
  const out = Buffer.allocUnsafe(size);
  let at = writeUvarint(out, 0, count);
  for (const name in headers) {
    const value = headers[name];
    at = writeUvarint(out, at, Buffer.byteLength(name, "utf8"));
    at += out.write(name, at, "utf8");
    at = writeUvarint(out, at, value.length);
    out.set(value, at);
    at += value.length;
  }
  return out;
}

/** Decodes a stored headers BLOB; values are views into `blob`, which is never shared. */
export function decodeHeaders(blob: Buffer | null): RecordHeaders {
  const headers: RecordHeaders = {};
  if (blob === null) return headers;
  let at = 0;
  const readUvarint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (at >= blob.length) throw corrupt();
      const byte = blob[at++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 128;
    }
  };
  const count = readUvarint();
  for (let i = 0; i < count; i++) {
    const nameLength = readUvarint();
    if (at + nameLength > blob.length) throw corrupt();
    const name = blob.toString("utf8", at, at + nameLength);
    at += nameLength;
    const valueLength = readUvarint();
    if (at + valueLength > blob.length) throw corrupt();
    headers[name] = blob.subarray(at, at + valueLength);
    at += valueLength;
  }
  return headers;
}

function corrupt(): LogError {
  return new LogError(
    LogErrorCode.badArgument,
    "A stored record's headers are truncated or corrupt; the log file was damaged outside Pulse.",
  );
}
