// Kafka's record batch (magic 2), and fetched batches read record by record as they are handed out.

import { crc32c as clientCrc32c, compressionsAlgorithmsByBitmask } from "@platformatic/kafka";
import { createRequire } from "node:module";
import { asBuffer } from "../../bytes.ts";
import { LogError, LogErrorCode } from "../../errors.ts";
import { headerName, LastHeaders, setHeader } from "../header-names.ts";
import { type LogRecord, NO_HEADERS, type RecordHeaders } from "../index.ts";
import type { FetchedPartition } from "./apis/fetch-v13-v17.ts";
import { readZstdWithoutZlib } from "./zstd.ts";

readZstdWithoutZlib();

/*
 * Record batch, magic 2 (integers big-endian; byte positions in brackets):
 *   base_offset:i64[0] batch_length:i32[8] partition_leader_epoch:i32[12] magic:i8[16] crc:u32[17]
 *   attributes:i16[21] last_offset_delta:i32[23] base_timestamp:i64[27] max_timestamp:i64[35]
 *   producer_id:i64[43] producer_epoch:i16[51] base_sequence:i32[53] record_count:i32[57] records[61…]
 * batch_length counts the bytes after itself. attributes & 7 is the codec the records are compressed
 * with (as one block), & 0x10 marks a transactional batch, & 0x20 a control batch (commit/abort markers).
 *   record := length:varint attributes:i8 timestamp_delta:varlong offset_delta:varint
 *             key_length:varint key value_length:varint value header_count:varint
 *             (name_length:varint name value_length:varint value){header_count}
 * varint/varlong are zigzag LEB128; a length of -1 is null. An answer may end in a cut-off batch, which
 * the next fetch gets whole.
 */
export const BATCH_HEADER_BYTES = 61;
export const BATCH_LENGTH_AT = 8;
export const BATCH_MAGIC_AT = 16;
export const BATCH_CRC_AT = 17;
export const BATCH_ATTRIBUTES_AT = 21;
export const BATCH_LAST_OFFSET_DELTA_AT = 23;
export const BATCH_BASE_TIMESTAMP_AT = 27;
export const BATCH_PRODUCER_ID_AT = 43;
export const BATCH_RECORD_COUNT_AT = 57;
/** attributes: a transactional batch, and a control batch (transaction markers carry no user records). */
const TRANSACTIONAL_BATCH = 0x10;
const CONTROL_BATCH = 0x20;
/** attributes: the codec the records region is compressed with (0: none). */
const COMPRESSION_MASK = 0x07;

/**
 * CRC-32C of a view, as an unsigned number: @node-rs/crc32 (an optional dependency, native) when it is
 * installed, else the client's (WebAssembly). The client picks the native one too, but copies every
 * input first.
 */
export const crc32c: (bytes: Uint8Array) => number = (() => {
  try {
    const native = (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c(input: Uint8Array): number })
      .crc32c;
    return (bytes: Uint8Array) => native(bytes) >>> 0;
  } catch {
    return (bytes: Uint8Array) => clientCrc32c(asBuffer(bytes)) >>> 0;
  }
})();

/** A control record's type: abort (1 is commit). */
const ABORT_MARKER = 0;
const NO_BYTES = Buffer.alloc(0);

/** Reads one buffer of records; key, value and header values are views into it, not copies. */
class RecordReader {
  buf: Buffer;
  pos: number;
  /** Where the batch's records end in buf: nothing read may run past it. */
  readonly end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos++]!;
    let raw = b & 0x7f;
    let shift = 7;
    while (b & 0x80) {
      b = buf[this.pos++]!;
      raw |= (b & 0x7f) << shift;
      shift += 7;
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong as a number (exact up to 2^53, e.g. any timestamp delta). */
  varlong(): number {
    const buf = this.buf;
    let raw = 0;
    let scale = 1;
    let b: number;
    do {
      b = buf[this.pos++]!;
      raw += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** view() as a Buffer, for header values and control records. */
  bytes(): Buffer | null {
    const view = this.view();
    return view === null ? null : asBuffer(view);
  }

  /** A nullable bytes field as a plain Uint8Array view, as record keys and values are (see LogRecord). */
  view(): Uint8Array | null {
    const length = this.varint();
    if (length < 0) return null;
    const start = this.pos;
    if (start < 0 || length > this.end - start) throw malformedRecord();
    this.pos += length;
    const buf = this.buf;
    return new Uint8Array(buf.buffer, buf.byteOffset + start, length);
  }
}

/**
 * A record that runs past its batch. Only a batch whose CRC-32C holds gets here, so its writer wrote it
 * wrong: no byte of it can be trusted.
 */
function malformedRecord(): LogError {
  return new LogError(
    LogErrorCode.storage,
    "Kafka sent a record batch whose CRC-32C holds but whose records run past its end (a producer wrote it wrong); Pulse reads nothing past it.",
  );
}

/** Where the batch at `at` ends, or −1 when no whole batch starts there (the broker may cut the last one short). */
function wholeBatchEnd(buf: Buffer, at: number): number {
  if (buf.length - at < BATCH_HEADER_BYTES) return -1;
  const end = at + 12 + buf.readInt32BE(at + BATCH_LENGTH_AT);
  return end <= buf.length ? end : -1;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
}

/**
 * One partition's fetched batches, decoded into records only as they are handed out. A Fetch brings a
 * page of every partition it reads ahead on, and the stream job takes them a few thousand records at a
 * time over several batches: records decoded up front outlived young-generation collections and were
 * copied into the old one. The answer's bytes stay alive instead, which the collector never scans.
 */
export class FetchedRecords {
  readonly #topic: string;
  readonly #partition: number;
  readonly #buf: Buffer | undefined;
  /** The next batch's position in #buf. */
  #at = 0;
  /** The batch being handed out: its records region, what is left of it, and its base values. */
  #reader: RecordReader | undefined;
  #remaining = 0;
  #baseOffset = 0;
  #baseTimestampMs = 0;
  /** READ_COMMITTED: the answer's aborted transactions by first offset, and the producers now aborted. */
  readonly #aborted: { producerId: bigint; firstOffset: bigint }[];
  #nextAborted = 0;
  readonly #abortedProducers = new Set<bigint>();
  readonly #lastHeaders = new LastHeaders();
  /** The next offset to hand out: records below it are skipped. */
  start: number;
  /** The offset after the last whole batch (past control and aborted batches too): where the next fetch goes on. */
  readonly end: number;

  constructor(topic: string, partition: number, data: FetchedPartition, from: number) {
    this.#topic = topic;
    this.#partition = partition;
    this.#buf = data.records;
    this.start = from;
    this.#aborted =
      data.abortedTransactions.length === 0
        ? []
        : [...data.abortedTransactions].sort((a, b) => Number(a.firstOffset - b.firstOffset));
    let end = from;
    const buf = data.records;
    if (buf !== undefined) {
      let at = 0;
      let batchEnd = wholeBatchEnd(buf, at);
      while (batchEnd >= 0) {
        const lastOffset = readInt64(buf, at) + buf.readInt32BE(at + BATCH_LAST_OFFSET_DELTA_AT);
        if (lastOffset + 1 > end) end = lastOffset + 1;
        at = batchEnd;
        batchEnd = wholeBatchEnd(buf, at);
      }
    }
    this.end = end;
  }

  /**
   * Appends the next records at `start` or later to `out` until it holds `max`, moving `start` past
   * them. Returns true when the answer has no record left.
   */
  take(out: LogRecord[], max: number): boolean {
    const topic = this.#topic;
    const partition = this.#partition;
    while (out.length < max) {
      if (this.#remaining === 0 && !this.#nextBatch()) return true;
      const reader = this.#reader!;
      this.#remaining--;
      const length = reader.varint();
      const recordEnd = reader.pos + length;
      if (length <= 0 || reader.pos < 0 || recordEnd > reader.end) throw malformedRecord();
      reader.pos++;
      const timestampMs = this.#baseTimestampMs + reader.varlong();
      const offset = this.#baseOffset + reader.varint();
      if (offset < this.start) {
        reader.pos = recordEnd;
        continue;
      }
      const key = reader.view();
      const value = reader.view();
      const headersStart = reader.pos;
      const headerCount = reader.varint();
      const buf = reader.buf;
      let headers = headerCount === 0 ? NO_HEADERS : this.#lastHeaders.match(buf, headersStart, recordEnd);
      if (headers === undefined) {
        const decoded: RecordHeaders = {};
        for (let h = 0; h < headerCount; h++) {
          const nameLength = reader.varint();
          if (nameLength < 0 || nameLength > recordEnd - reader.pos) throw malformedRecord();
          const name = headerName(buf, reader.pos, reader.pos + nameLength);
          reader.pos += nameLength;
          setHeader(decoded, name, reader.bytes() ?? NO_BYTES);
        }
        headers = this.#lastHeaders.keep(decoded, buf, headersStart, recordEnd);
      }
      reader.pos = recordEnd;
      out.push({ topic, partition, offset, key, value, headers, timestampMs });
      this.start = offset + 1;
    }
    return this.#remaining === 0 && !this.#hasBatch();
  }

  /** Whether a whole batch follows (it may still hold no record to hand out). */
  #hasBatch(): boolean {
    return this.#buf !== undefined && wholeBatchEnd(this.#buf, this.#at) >= 0;
  }

  /**
   * Kafka's consumers check each batch's CRC-32C before reading it (check.crcs, on by default); so does
   * this. A damaged batch stops the read where it is rather than hand out records that are not the ones
   * written.
   */
  #checkCrc(at: number, batchEnd: number, baseOffset: number, lastOffset: number): void {
    const buf = this.#buf!;
    const stored = buf.readUInt32BE(at + BATCH_CRC_AT);
    const computed = crc32c(buf.subarray(at + BATCH_ATTRIBUTES_AT, batchEnd));
    if (computed === stored) return;
    const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
    throw new LogError(
      LogErrorCode.storage,
      `Kafka sent a damaged record batch on "${this.#topic}" partition ${this.#partition}, offsets ${baseOffset} to ${lastOffset}: its CRC-32C is ${hex(computed)} where the batch says ${hex(stored)}. Check that partition's log segment on the broker (kafka-dump-log.sh --deep-iteration --files <segment>) and recover it from a replica; Pulse reads nothing past a damaged batch.`,
    );
  }

  /** Moves to the next batch with records to hand out; false when none is left. */
  #nextBatch(): boolean {
    const buf = this.#buf;
    if (buf === undefined) return false;
    for (
      let batchEnd = wholeBatchEnd(buf, this.#at);
      batchEnd >= 0;
      batchEnd = wholeBatchEnd(buf, this.#at)
    ) {
      const at = this.#at;
      const magic = buf.readInt8(at + BATCH_MAGIC_AT);
      if (magic !== 2) {
        throw new LogError(
          LogErrorCode.storage,
          `Kafka sent a record batch of message format ${magic} on "${this.#topic}" partition ${this.#partition}; Pulse reads format 2 (Kafka 0.11 or later).`,
        );
      }
      this.#at = batchEnd;
      const baseOffset = readInt64(buf, at);
      const attributes = buf.readInt16BE(at + BATCH_ATTRIBUTES_AT);
      const lastOffset = baseOffset + buf.readInt32BE(at + BATCH_LAST_OFFSET_DELTA_AT);
      if (lastOffset < this.start) continue;
      this.#checkCrc(at, batchEnd, baseOffset, lastOffset);
      // READ_COMMITTED: the broker lists the aborted transactions in range; a producer's batches from
      // the transaction's first offset to its abort marker are skipped (what Kafka's Java consumer does).
      const aborted = this.#aborted;
      if (aborted.length > 0) {
        while (
          this.#nextAborted < aborted.length &&
          Number(aborted[this.#nextAborted]!.firstOffset) <= baseOffset
        ) {
          this.#abortedProducers.add(aborted[this.#nextAborted++]!.producerId);
        }
        const producerId = buf.readBigInt64BE(at + BATCH_PRODUCER_ID_AT);
        if ((attributes & CONTROL_BATCH) !== 0) {
          if (isAbortMarker(buf, at, batchEnd, attributes)) this.#abortedProducers.delete(producerId);
          continue;
        }
        if ((attributes & TRANSACTIONAL_BATCH) !== 0 && this.#abortedProducers.has(producerId)) continue;
      }
      if ((attributes & CONTROL_BATCH) !== 0) continue;
      const count = buf.readInt32BE(at + BATCH_RECORD_COUNT_AT);
      if (count <= 0) continue;
      this.#baseOffset = baseOffset;
      this.#baseTimestampMs = readInt64(buf, at + BATCH_BASE_TIMESTAMP_AT);
      this.#reader = new RecordReader(...recordsOf(buf, at, batchEnd, attributes));
      this.#remaining = count;
      return true;
    }
    return false;
  }
}

/** A batch's records region: a view of the answer, or the block decompressed. */
function recordsOf(
  buf: Buffer,
  batchStart: number,
  batchEnd: number,
  attributes: number,
): [Buffer, number, number] {
  const codec = attributes & COMPRESSION_MASK;
  if (codec === 0) return [buf, batchStart + BATCH_HEADER_BYTES, batchEnd];
  const algorithm = compressionsAlgorithmsByBitmask[codec];
  if (algorithm === undefined) {
    throw new LogError(LogErrorCode.storage, `Kafka sent a record batch with unknown compression ${codec}.`);
  }
  let records: Buffer;
  try {
    records = algorithm.decompressSync(buf.subarray(batchStart + BATCH_HEADER_BYTES, batchEnd));
  } catch (cause) {
    throw new LogError(
      LogErrorCode.storage,
      `Kafka sent a record batch (compression ${codec}) that does not decompress: ${cause instanceof Error ? cause.message : String(cause)}; Pulse reads nothing past it.`,
      { cause },
    );
  }
  return [records, 0, records.length];
}

/** A control batch's marker record: key = version:i16 type:i16, type 0 = abort, 1 = commit. */
function isAbortMarker(buf: Buffer, batchStart: number, batchEnd: number, attributes: number): boolean {
  const reader = new RecordReader(...recordsOf(buf, batchStart, batchEnd, attributes));
  reader.varint();
  reader.pos++;
  reader.varlong();
  reader.varint();
  const key = reader.bytes();
  return key !== null && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER;
}
