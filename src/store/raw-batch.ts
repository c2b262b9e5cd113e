// The raw lake's record batch: a run of one partition's cleaned events, in offset order, in one BLOB.
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { RawEventRow } from "./index.ts";

/*
 * batch  := version:u8 count:u32le record{count}
 * record := offset:f64le eventTimeMs:f64le ingestedAtMs:f64le payloadLength:u32le payload:utf8
 *
 * Offsets strictly increase within a batch (gaps allowed: duplicates, dead letters and replays leave
 * holes). A float64 holds every offset (< 2^41) and millisecond time exactly. Fixed-width fields cost
 * 28 bytes a record against payloads of 200–400 bytes, and let a reader skip to an offset without
 * parsing payloads.
 */
const VERSION = 1;
const HEADER_BYTES = 5;
const RECORD_HEADER_BYTES = 28;
/** A batch ends before it would pass this size (a larger single record gets a batch of its own). */
const MAX_BATCH_BYTES = 1 << 20;
/** Scratch kept between commits; a larger one, grown for a huge payload, is dropped afterwards. */
const KEPT_SCRATCH_BYTES = 4 << 20;

export interface EncodedRawBatch {
  firstOffset: number;
  lastOffset: number;
  count: number;
  /** A view into the encoder's scratch space: valid until the next encode. */
  bytes: Buffer;
}

/** Encodes runs of rows into batches, reusing one scratch buffer (the bytes are copied when bound). */
export class RawBatchEncoder {
  #scratch = Buffer.allocUnsafe(MAX_BATCH_BYTES);

  /**
   * Encodes rows[start…] (one topic and partition, offsets strictly increasing) into one batch, as
   * many rows as fit; returns it with `count` consumed.
   */
  encode(rows: readonly RawEventRow[], start: number, end: number): EncodedRawBatch {
    let buf = this.#scratch;
    if (buf.length > KEPT_SCRATCH_BYTES) buf = this.#scratch = Buffer.allocUnsafe(MAX_BATCH_BYTES);
    let at = HEADER_BYTES;
    let i = start;
    for (; i < end; i++) {
      const row = rows[i]!;
      // A UTF-16 code unit takes at most 3 UTF-8 bytes.
      const worst = RECORD_HEADER_BYTES + row.payload.length * 3;
      if (at + worst > MAX_BATCH_BYTES && i > start) break;
      if (at + worst > buf.length) {
        const grown = Buffer.allocUnsafe(at + worst);
        buf.copy(grown, 0, 0, at);
        buf = this.#scratch = grown;
      }
      buf.writeDoubleLE(row.offset, at);
      buf.writeDoubleLE(row.event_time, at + 8);
      buf.writeDoubleLE(row.ingested_at, at + 16);
      const length = buf.write(row.payload, at + RECORD_HEADER_BYTES, "utf8");
      buf.writeUInt32LE(length, at + 24);
      at += RECORD_HEADER_BYTES + length;
    }
    buf[0] = VERSION;
    buf.writeUInt32LE(i - start, 1);
    return {
      firstOffset: rows[start]!.offset,
      lastOffset: rows[i - 1]!.offset,
      count: i - start,
      bytes: buf.subarray(0, at),
    };
  }
}

/**
 * Calls visit(offset, at) for each record of a batch, in offset order; `at` is the record's position
 * for readRawRecord. Stops early when visit returns false.
 */
export function scanRawBatch(bytes: Buffer, visit: (offset: number, at: number) => boolean): void {
  if (bytes.length < HEADER_BYTES || bytes[0] !== VERSION) throw corrupt("header");
  const count = bytes.readUInt32LE(1);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_HEADER_BYTES > bytes.length) throw corrupt("record header");
    const next = at + RECORD_HEADER_BYTES + bytes.readUInt32LE(at + 24);
    if (next > bytes.length) throw corrupt("payload");
    if (!visit(bytes.readDoubleLE(at), at)) return;
    at = next;
  }
  if (at !== bytes.length) throw corrupt("trailing bytes");
}

/** The row of the record at `at` (a position scanRawBatch reported). */
export function readRawRecord(bytes: Buffer, at: number, topic: string, partition: number): RawEventRow {
  const length = bytes.readUInt32LE(at + 24);
  return {
    topic,
    partition,
    offset: bytes.readDoubleLE(at),
    event_time: bytes.readDoubleLE(at + 8),
    ingested_at: bytes.readDoubleLE(at + 16),
    payload: bytes.toString("utf8", at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length),
  };
}

/** Every record of a batch as rows. */
export function decodeRawBatch(bytes: Buffer, topic: string, partition: number): RawEventRow[] {
  const rows: RawEventRow[] = [];
  scanRawBatch(bytes, (_offset, at) => {
    rows.push(readRawRecord(bytes, at, topic, partition));
    return true;
  });
  return rows;
}

function corrupt(part: string): StoreError {
  return new StoreError(
    StoreErrorCode.storage,
    `A raw-lake batch in the live store is corrupt (${part}); restore the store file from a backup or rebuild it by replaying the log.`,
  );
}
