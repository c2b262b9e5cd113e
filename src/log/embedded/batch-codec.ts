// The embedded log's record batch: every record one produce call appends to one partition, in one BLOB.
import { LogError, LogErrorCode } from "../../errors.ts";
import { headerName, LastHeaders, setHeader } from "../header-names.ts";
import { type LogRecord, NO_HEADERS, type RecordHeaders } from "../index.ts";
import { uvarintSize, writeUvarint, zigzag } from "../varint.ts";

/*
 * batch     := version:u8 flags:u8 baseTimestampMs:f64le count:uvarint record{count}
 * record    := bodyLength:uvarint body
 * body      := offsetDelta:uvarint timestamp key:nullable value:nullable headers
 * timestamp := zigzag-uvarint (timestampMs − baseTimestampMs)
 *            | f64le timestampMs                       when flags & WIDE_TIMESTAMPS
 * nullable  := uvarint 0 (null) | uvarint (n + 1) then n bytes
 * headers   := count:uvarint (nameLength:uvarint name:utf8 valueLength:uvarint value:bytes){count}
 *
 * uvarint is unsigned LEB128 (7 bits a byte, low group first, high bit = more), as in protobuf; zigzag
 * maps 0, −1, 1, −2 … to 0, 1, 2, 3 … so small deltas either way take one byte. baseTimestampMs is the
 * first record's timestamp; a float64 holds every safe integer exactly. A batch whose timestamps lie
 * more than 2^52 ms apart (only possible with made-up timestamps) stores them whole instead, so every
 * delta stays a safe integer. The headers grammar is also that of the schema-1 `headers` column
 * (header-codec.ts).
 *
 * Invariants: record i has offset base + offsetDelta_i and the encoder writes offsetDelta_i = i (the
 * delta is stored anyway, as Kafka does, so a reader never assumes density); bodyLength lets a reader
 * skip a record without parsing it, which is how a fetch starts in the middle of a batch.
 *
 * A record's size for retention is key bytes + value bytes + header bytes (the headers encoding,
 * or 0 without headers), the measure of the partitions' and batches' size_bytes.
 */
const VERSION = 1;
const WIDE_TIMESTAMPS = 1;
const HEADER_BYTES = 10;
const MAX_NARROW_DELTA = 2 ** 52 - 1;
/** Records go into one batch until it would pass this size; a larger record gets a batch of its own. */
const DEFAULT_MAX_BATCH_BYTES = 1 << 20;
/** Scratch kept between produce calls; a larger one (grown for huge batches) is dropped once batches are small again. */
const KEPT_SCRATCH_BYTES = 4 << 20;

/** One record to encode; a ProduceRecord is one. */
export interface BatchEntry {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: RecordHeaders;
  timestampMs?: number;
}

export interface EncodedBatch {
  /** A view into the encoder's scratch space: valid until the encoder's next reset(). */
  bytes: Buffer;
  /** Entries consumed, from `start` on. */
  count: number;
  /** Key + value + header bytes of the batch's records (the retention measure). */
  sizeBytes: number;
  maxTimestampMs: number;
}

/** Timestamps and retention sizes of a batch's records, in offset order. */
export interface BatchSummary {
  offsetDeltas: number[];
  timestampsMs: number[];
  sizesBytes: number[];
}

/** Bytes of a nullable field: its length prefix plus its content. */
function nullableSize(bytes: Uint8Array | null): number {
  if (bytes === null) return 1;
  return uvarintSize(bytes.length + 1) + bytes.length;
}

/** Copies small arrays byte by byte: a native set() call costs more than a short loop. */
function writeBytes(out: Buffer, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n < 24) {
    for (let i = 0; i < n; i++) out[at + i] = bytes[i];
  } else {
    out.set(bytes, at);
  }
  return at + n;
}

/** Bytes of the headers encoding: 1 (a zero count) when there are none. Checks every value is bytes. */
export function headersSize(headers: RecordHeaders | undefined): number {
  if (headers === undefined) return 1;
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
  return uvarintSize(count) + size;
}

/** Copies out[from, to) to `at` (an earlier record's encoded headers); returns the end. */
function copyBytes(out: Buffer, at: number, from: number, to: number): number {
  const n = to - from;
  if (n < 24) {
    for (let i = 0; i < n; i++) out[at + i] = out[from + i]!;
  } else {
    out.copyWithin(at, from, to);
  }
  return at + n;
}

/** Writes the headers encoding at `at` (sized by headersSize, which also checked it); returns the end. */
export function writeHeaders(out: Buffer, at: number, headers: RecordHeaders | undefined): number {
  if (headers === undefined) {
    out[at] = 0;
    return at + 1;
  }
  let count = 0;
  for (const _ in headers) count++;
  at = writeUvarint(out, at, count);
  for (const name in headers) {
    const value = headers[name];
    at = writeUvarint(out, at, Buffer.byteLength(name, "utf8"));
    at += out.write(name, at, "utf8");
    at = writeUvarint(out, at, value.length);
    at = writeBytes(out, at, value);
  }
  return at;
}

/**
 * Encodes batches into one reused scratch buffer, so producing allocates no per-record memory. Call
 * reset() before each group of batches that are used together; the views it returned earlier may then
 * be overwritten.
 */
export class BatchEncoder {
  readonly #maxBatchBytes: number;
  #out = Buffer.allocUnsafeSlow(64 * 1024);
  #at = 0;
  #bodyLengths = new Float64Array(1024);

  constructor(maxBatchBytes = DEFAULT_MAX_BATCH_BYTES) {
    this.#maxBatchBytes = maxBatchBytes;
  }

  reset(): void {
    // Give back a large scratch once the batches written into it since the last reset were small.
    if (this.#out.length > KEPT_SCRATCH_BYTES && this.#at <= KEPT_SCRATCH_BYTES / 4) {
      this.#out = Buffer.allocUnsafeSlow(64 * 1024);
    }
    this.#at = 0;
  }

  /**
   * Encodes entries[order[start]], entries[order[start + 1]] … (entries[start] … when order is null)
   * up to `end`, or fewer when the batch would pass the size limit; `count` says how many. Entries
   * without a timestamp get `defaultTimestampMs`. Throws a LogError for a header value that is not bytes.
   */
  encode(
    entries: readonly BatchEntry[],
    order: Int32Array | null,
    start: number,
    end: number,
    defaultTimestampMs: number,
  ): EncodedBatch {
    if (end - start > this.#bodyLengths.length) this.#bodyLengths = new Float64Array((end - start) * 2);
    const bodyLengths = this.#bodyLengths;
    const first = entries[order === null ? start : order[start]];
    const baseTimestampMs = first.timestampMs ?? defaultTimestampMs;
    let wide = false;
    let count = 0;
    let total = 0;
    let sizeBytes = 0;
    let maxTimestampMs = baseTimestampMs;
    // Producers tag every record with one shared headers object: it is sized, and below written, once
    // a batch, and its bytes copied for the records after (the same object within this synchronous call).
    let sizedHeaders: RecordHeaders | undefined;
    let sizedHeadersBytes = 1;

    // Pass 1: body lengths, so pass 2 can write each length prefix before its body.
    measure: for (;;) {
      count = 0;
      total = HEADER_BYTES;
      sizeBytes = 0;
      maxTimestampMs = baseTimestampMs;
      for (let slot = start; slot < end; slot++) {
        const entry = entries[order === null ? slot : order[slot]];
        const timestampMs = entry.timestampMs ?? defaultTimestampMs;
        let timestampSize = 8;
        if (!wide) {
          const delta = timestampMs - baseTimestampMs;
          if (delta > MAX_NARROW_DELTA || delta < -MAX_NARROW_DELTA) {
            wide = true;
            continue measure;
          }
          timestampSize = uvarintSize(zigzag(delta));
        }
        if (entry.headers !== sizedHeaders) {
          sizedHeadersBytes = headersSize(entry.headers);
          sizedHeaders = entry.headers;
        }
        const headers = sizedHeadersBytes;
        const body =
          uvarintSize(count) + timestampSize + nullableSize(entry.key) + nullableSize(entry.value) + headers;
        const recordBytes = uvarintSize(body) + body;
        if (count > 0 && total + recordBytes + uvarintSize(count + 1) > this.#maxBatchBytes) break;
        bodyLengths[count++] = body;
        total += recordBytes;
        // A zero header count is 1 byte of encoding but no header bytes.
        sizeBytes +=
          (entry.key === null ? 0 : entry.key.length) +
          (entry.value === null ? 0 : entry.value.length) +
          (headers === 1 ? 0 : headers);
        if (timestampMs > maxTimestampMs) maxTimestampMs = timestampMs;
      }
      break;
    }
    total += uvarintSize(count);

    const from = this.#at;
    if (from + total > this.#out.length) {
      // Views handed out earlier keep the old buffer alive; only new batches go to the new one.
      this.#out = Buffer.allocUnsafeSlow(Math.max(this.#out.length * 2, total * 2));
      this.#at = 0;
    }
    const out = this.#out;
    let at = this.#at;
    const batchStart = at;
    out[at++] = VERSION;
    out[at++] = wide ? WIDE_TIMESTAMPS : 0;
    out.writeDoubleLE(baseTimestampMs, at);
    at = writeUvarint(out, at + 8, count);
    let writtenHeaders: RecordHeaders | undefined;
    let writtenFrom = 0;
    let writtenTo = 0;
    for (let i = 0; i < count; i++) {
      const slot = start + i;
      const entry = entries[order === null ? slot : order[slot]];
      const timestampMs = entry.timestampMs ?? defaultTimestampMs;
      at = writeUvarint(out, at, bodyLengths[i]);
      at = writeUvarint(out, at, i);
      if (wide) {
        out.writeDoubleLE(timestampMs, at);
        at += 8;
      } else {
        at = writeUvarint(out, at, zigzag(timestampMs - baseTimestampMs));
      }
      const key = entry.key;
      if (key === null) {
        out[at++] = 0;
      } else {
        at = writeUvarint(out, at, key.length + 1);
        at = writeBytes(out, at, key);
      }
      const value = entry.value;
      if (value === null) {
        out[at++] = 0;
      } else {
        at = writeUvarint(out, at, value.length + 1);
        at = writeBytes(out, at, value);
      }
      if (entry.headers !== undefined && entry.headers === writtenHeaders) {
        at = copyBytes(out, at, writtenFrom, writtenTo);
      } else {
        writtenFrom = at;
        at = writeHeaders(out, at, entry.headers);
        writtenTo = at;
        writtenHeaders = entry.headers;
      }
    }
    this.#at = at;
    if (at - batchStart !== total) {
      throw new LogError(
        LogErrorCode.storage,
        `The record batch encoder wrote ${at - batchStart} bytes but measured ${total}; this is a bug in Pulse.`,
      );
    }
    return { bytes: out.subarray(batchStart, at), count, sizeBytes, maxTimestampMs };
  }
}

/** Where a batch is stored, for error messages. */
export interface BatchLocation {
  topic: string;
  partition: number;
  baseOffset: number;
}

// The read position of the decoders below: a module variable is faster than returning pairs.
let cursor = 0;

function readUvarint(blob: Buffer, end: number, where: BatchLocation): number {
  let at = cursor;
  if (at >= end) throw corrupt(where, "a length or offset runs past its record");
  let byte = blob[at++];
  if (byte < 0x80) {
    cursor = at;
    return byte;
  }
  let n = byte & 0x7f;
  let scale = 128;
  for (;;) {
    if (at >= end) throw corrupt(where, "a length or offset runs past its record");
    byte = blob[at++];
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
    if (scale > 2 ** 49) throw corrupt(where, "a number is longer than 8 bytes");
  }
  if (n > Number.MAX_SAFE_INTEGER) throw corrupt(where, "a number is larger than 2^53");
  cursor = at;
  return n;
}

/** Reads a nullable field as a view into `blob` (a Uint8Array: see LogRecord). */
function readNullable(blob: Buffer, end: number, where: BatchLocation): Uint8Array | null {
  const prefix = readUvarint(blob, end, where);
  if (prefix === 0) return null;
  const from = cursor;
  const to = from + prefix - 1;
  if (to > end) throw corrupt(where, "a key or value runs past its record");
  cursor = to;
  return new Uint8Array(blob.buffer, blob.byteOffset + from, to - from);
}

function readTimestamp(blob: Buffer, end: number, wide: boolean, baseMs: number, where: BatchLocation) {
  if (wide) {
    if (cursor + 8 > end) throw corrupt(where, "a timestamp runs past its record");
    const timestampMs = blob.readDoubleLE(cursor);
    cursor += 8;
    return timestampMs;
  }
  const z = readUvarint(blob, end, where);
  return baseMs + (z % 2 === 0 ? z / 2 : -(z + 1) / 2);
}

/** Reads the batch header; leaves the cursor on the first record. */
function readBatchHeader(
  blob: Buffer,
  where: BatchLocation,
): { wide: boolean; baseMs: number; count: number } {
  if (blob.length < HEADER_BYTES + 1) throw corrupt(where, "it is shorter than a batch header");
  if (blob[0] !== VERSION) throw corrupt(where, `it has format version ${blob[0]}, not ${VERSION}`);
  const wide = (blob[1] & WIDE_TIMESTAMPS) !== 0;
  const baseMs = blob.readDoubleLE(2);
  cursor = HEADER_BYTES;
  const count = readUvarint(blob, blob.length, where);
  return { wide, baseMs, count };
}

/**
 * Appends the records of one batch stored at `where.baseOffset` to `out`, from the first record whose
 * offset is at least `fromOffset`, until `out` holds `maxRecords`. Keys, values and header values are
 * views into `blob` (so a kept record keeps its batch's blob alive). A record whose headers are the
 * same bytes as the record before it shares that record's headers object (frozen): a producer tags
 * every record alike, and one object and view per record cost more than comparing a few bytes.
 */
export function readBatch(
  blob: Buffer,
  where: BatchLocation,
  fromOffset: number,
  maxRecords: number,
  out: LogRecord[],
): void {
  const { topic, partition, baseOffset } = where;
  const { wide, baseMs, count } = readBatchHeader(blob, where);
  const length = blob.length;
  const last = new LastHeaders();
  for (let i = 0; i < count && out.length < maxRecords; i++) {
    const bodyLength = readUvarint(blob, length, where);
    const end = cursor + bodyLength;
    if (end > length) throw corrupt(where, "a record runs past the batch");
    const offset = baseOffset + readUvarint(blob, end, where);
    if (offset < fromOffset) {
      cursor = end;
      continue;
    }
    const timestampMs = readTimestamp(blob, end, wide, baseMs, where);
    const key = readNullable(blob, end, where);
    const value = readNullable(blob, end, where);
    const headersStart = cursor;
    const headerCount = readUvarint(blob, end, where);
    let headers = headerCount === 0 ? NO_HEADERS : last.match(blob, headersStart, end);
    if (headers !== undefined) {
      // The same bytes as headers already decoded and checked.
      if (headerCount > 0) cursor = end;
    } else {
      headers = last.keep(readHeaders(blob, end, headerCount, where), blob, headersStart, end);
    }
    if (cursor !== end) throw corrupt(where, "a record is longer than its fields");
    out.push({ topic, partition, offset, key, value, headers, timestampMs });
  }
}

/** `count` headers from the cursor, their values views into `blob`; the record ends at `end`. */
function readHeaders(blob: Buffer, end: number, count: number, where: BatchLocation): RecordHeaders {
  const headers: RecordHeaders = {};
  for (let h = 0; h < count; h++) {
    const nameLength = readUvarint(blob, end, where);
    const nameEnd = cursor + nameLength;
    if (nameEnd > end) throw corrupt(where, "a header name runs past its record");
    const name = headerName(blob, cursor, nameEnd);
    cursor = nameEnd;
    const valueLength = readUvarint(blob, end, where);
    const valueEnd = cursor + valueLength;
    if (valueEnd > end) throw corrupt(where, "a header value runs past its record");
    setHeader(headers, name, blob.subarray(cursor, valueEnd));
    cursor = valueEnd;
  }
  return headers;
}

/** Every record of a batch, as LogRecords whose bytes are views into `blob`. */
export function decodeBatch(blob: Buffer, where: BatchLocation): LogRecord[] {
  const out: LogRecord[] = [];
  readBatch(blob, where, 0, Number.POSITIVE_INFINITY, out);
  return out;
}

/** Offsets, timestamps and retention sizes of a batch's records, without building records. */
export function summarizeBatch(blob: Buffer, where: BatchLocation): BatchSummary {
  const { wide, baseMs, count } = readBatchHeader(blob, where);
  const summary: BatchSummary = { offsetDeltas: [], timestampsMs: [], sizesBytes: [] };
  const length = blob.length;
  for (let i = 0; i < count; i++) {
    const bodyLength = readUvarint(blob, length, where);
    const end = cursor + bodyLength;
    if (end > length) throw corrupt(where, "a record runs past the batch");
    summary.offsetDeltas.push(readUvarint(blob, end, where));
    summary.timestampsMs.push(readTimestamp(blob, end, wide, baseMs, where));
    let sizeBytes = 0;
    for (let field = 0; field < 2; field++) {
      const prefix = readUvarint(blob, end, where);
      if (prefix > 0) sizeBytes += prefix - 1;
      cursor += prefix > 0 ? prefix - 1 : 0;
    }
    const headersStart = cursor;
    if (readUvarint(blob, end, where) > 0) sizeBytes += end - headersStart;
    if (cursor > end) throw corrupt(where, "a key or value runs past its record");
    summary.sizesBytes.push(sizeBytes);
    cursor = end;
  }
  return summary;
}

function corrupt(where: BatchLocation, detail: string): LogError {
  return new LogError(
    LogErrorCode.storage,
    `The stored record batch at topic "${where.topic}" partition ${where.partition} offset ${where.baseOffset} is corrupt (${detail}); ` +
      "the log file was damaged outside Pulse: restore it from a backup, or remove it and produce again.",
    { details: { ...where } },
  );
}
