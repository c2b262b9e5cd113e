// The headers encoding of schema-1 log files (one `headers` BLOB column per record): read when converting them, and by tests that write them.
import { LogError, LogErrorCode } from "../../errors.ts";
import { setHeader } from "../header-names.ts";
import type { RecordHeaders } from "../index.ts";
import { headersSize, writeHeaders } from "./batch-codec.ts";

/*
 * headers := count:uvarint (nameLength:uvarint name:utf8 valueLength:uvarint value:bytes){count}
 * uvarint is unsigned LEB128 (7 bits a byte, low group first, high bit = more), as in protobuf.
 * A record without headers stores NULL, not an empty encoding, so the common case costs nothing.
 * Invariant: decodeHeaders(encodeHeaders(h)) has the same names, in insertion order, with equal bytes.
 */

/** Encodes headers, or returns null when there are none (stored as SQL NULL). The grammar is the batch codec's. */
export function encodeHeaders(headers: RecordHeaders | undefined): Buffer | null {
  if (headers === undefined) return null;
  const size = headersSize(headers);
  if (size === 1) return null;
  const out = Buffer.allocUnsafe(size);
  writeHeaders(out, 0, headers);
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
      // Past 2^53 a number is no longer exact (and past 2^1024 it is NaN): no stored length is that long.
      if (scale > 2 ** 49) throw corrupt();
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
    setHeader(headers, name, blob.subarray(at, at + valueLength));
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
