// The MongoDB raw lake's documents: raw_batches (one document per run of a partition's rows, the bucket pattern), the older one-per-row raw_events, and their indexes.
import { promisify } from "node:util";
import { brotliCompress, brotliDecompressSync, constants } from "node:zlib";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { RawEventRow } from "../index.ts";
import { checkNumbers, checkPosition } from "../validate.ts";

/*
 *   raw_batches {_id, topic, partition, first_offset, last_offset, count, min_event_time, max_event_time,
 *                records: Binary, compression?: "brotli"}
 *   raw_events  {_id, topic, partition, offset, event_time, ingested_at, value: Binary | payload: string}
 *
 * A raw_batches document holds a run of one partition's rows in offset order, `records` being one raw-lake
 * batch (src/lake/batch.ts, the embedded lake's format), with the run's offset range, row count and
 * event-time bounds beside it. With `compression: "brotli"`, `records` holds the batch compressed with
 * Brotli (quality 1): a third of the bytes for Avro events, which is what FerretDB's inserts are bound
 * by (each byte goes through JSON text as base64); without it, the batch itself. Its _id is the run's first position as a JSON array,
 * [topic, partition, first_offset]. A partition's documents do not overlap: a write over stored offsets
 * rewrites the documents it touches (MongoRawLake, lake.ts).
 *
 * raw_events holds the rows written before the lake kept batches, one document per row, _id
 * [topic, partition, offset]; the lake reads them and writes no more. Those written before the lake kept
 * frames hold the event's JSON text in `payload` instead of `value`; they read back as its bytes. At an
 * offset both hold, the raw_batches row is the newer write and wins.
 */

/** A document: its contract key as _id (JSON text), and the fields it is read back with. */
export interface RawDocument {
  _id: string;
  [field: string]: unknown;
}

/** One run of a partition's rows, as a raw_batches document holds it (without topic and partition). */
export interface RawPiece {
  first_offset: number;
  last_offset: number;
  count: number;
  min_event_time: number;
  max_event_time: number;
  /** One raw-lake batch (src/lake/batch.ts). */
  records: Buffer;
}

/** A raw_batches document as stored. */
export interface RawBatchDocument {
  _id: string;
  topic: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  count: number;
  min_event_time: number;
  max_event_time: number;
  /** The batch, compressed when `compression` says so (batchRecords reads it). */
  records: Buffer;
  compression?: "brotli";
}

export const RAW_BATCHES = "raw_batches";
export const RAW_EVENTS = "raw_events";

/**
 * The raw lake's indexes, created (idempotently) when the store opens. The scans walk a partition's
 * documents by first offset (those that end at or after the offset a scan starts from); lastOffsets
 * seeks a partition's greatest last offset. A scan by event time walks the same offset order (the
 * contract returns rows in (partition, offset) order) and skips documents by their event-time bounds.
 */
export const RAW_BATCHES_INDEXES = [
  { name: "by_first_offset", key: { topic: 1, partition: 1, first_offset: 1 } },
  { name: "by_last_offset", key: { topic: 1, partition: 1, last_offset: 1 } },
] as const;
export const RAW_EVENTS_INDEXES = [
  { name: "by_position", key: { topic: 1, partition: 1, offset: 1 } },
] as const;

/**
 * The largest field a row of the live store's database may hold: the store's redo overflow pages take
 * one such row with room to spare, and a document stays well under MongoDB's 16 MiB.
 */
export const MAX_ROW_BYTES = 8 * 1024 * 1024 - 64 * 1024;

/**
 * The largest `records` a raw_batches document holds: a longer run is split. Every run of rows under
 * 1 MiB is stored whole (the stream job's are), and so is a single row of MAX_ROW_BYTES.
 */
export const MAX_RECORDS_BYTES = 12 * 1024 * 1024;

export function checkFieldBytes(bytes: number, kind: string, field: string): void {
  if (bytes > MAX_ROW_BYTES) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's ${field} is ${bytes} bytes, more than the ${MAX_ROW_BYTES} a MongoDB live store row may hold.`,
    );
  }
}

/**
 * A document keyed by a row's place in the log, [topic, partition, offset], with its event time, once the
 * place and the fields named in `numbers` check out; the caller adds the row's other fields after these.
 * The live store's late events are such rows, as the lake's rows were before it kept batches.
 */
export function positionDocument(
  row: { topic: string; partition: number; offset: number; event_time: number },
  kind: string,
  numbers: readonly string[],
): RawDocument {
  checkPosition(row, kind);
  checkNumbers(row, numbers, kind);
  return {
    _id: JSON.stringify([row.topic, row.partition, row.offset]),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    event_time: row.event_time,
  };
}

const brotli = promisify(brotliCompress);

/** The raw_batches document of a piece of a partition's rows, its batch compressed (on a worker thread). */
export async function rawBatchDocument(
  topic: string,
  partition: number,
  piece: RawPiece,
): Promise<RawBatchDocument> {
  const records = await brotli(piece.records, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 1,
      [constants.BROTLI_PARAM_SIZE_HINT]: piece.records.length,
    },
  });
  return {
    _id: rawBatchId(topic, partition, piece.first_offset),
    topic,
    partition,
    first_offset: piece.first_offset,
    last_offset: piece.last_offset,
    count: piece.count,
    min_event_time: piece.min_event_time,
    max_event_time: piece.max_event_time,
    records,
    compression: "brotli",
  };
}

/** A stored document's batch (src/lake/batch.ts), decompressed. */
export function batchRecords(doc: RawBatchDocument): Buffer {
  return doc.compression === "brotli" ? brotliDecompressSync(doc.records) : doc.records;
}

export function rawBatchId(topic: string, partition: number, firstOffset: number): string {
  return JSON.stringify([topic, partition, firstOffset]);
}

/** A stored raw_events document as a row; documents written before the lake kept frames hold JSON text. */
export function rawEventRow(doc: RawDocument): RawEventRow {
  const value = doc.value ?? Buffer.from(String(doc.payload), "utf8");
  return {
    topic: doc.topic as string,
    partition: doc.partition as number,
    offset: doc.offset as number,
    event_time: doc.event_time as number,
    ingested_at: doc.ingested_at as number,
    value: value as Buffer,
  };
}
