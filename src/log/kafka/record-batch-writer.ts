// Writes produce records as one Kafka record batch, its records region compressed when asked.

import { compressionsAlgorithms, type ProducerInfo } from "@platformatic/kafka";
import type { KafkaCompression, ProduceRecord } from "../index.ts";
import { uvarintSize, writeUvarint, zigzag } from "../varint.ts";
import {
  BATCH_ATTRIBUTES_AT,
  BATCH_BASE_TIMESTAMP_AT,
  BATCH_CRC_AT,
  BATCH_HEADER_BYTES,
  BATCH_LAST_OFFSET_DELTA_AT,
  BATCH_LENGTH_AT,
  BATCH_MAGIC_AT,
  BATCH_PRODUCER_ID_AT,
  BATCH_RECORD_COUNT_AT,
  crc32c,
} from "./record-batch-reader.ts";

/** Header names as UTF-8, encoded once per name. */
const headerNameBytes = new Map<string, Buffer>();

function nameBytes(name: string): Buffer {
  let bytes = headerNameBytes.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name);
    if (headerNameBytes.size < 1024) headerNameBytes.set(name, bytes);
  }
  return bytes;
}

/**
 * One record batch (the magic-2 layout in record-batch-reader.ts) of `records[indexes]`, written into
 * one Buffer: sizes first, then every field in place, then, compressed, the records region replaced by
 * its codec's block (attributes naming the codec), then the CRC-32C of attributes…end.
 */
export function encodeRecordBatch(
  records: readonly ProduceRecord[],
  indexes: readonly number[],
  nowMs: number,
  producer: ProducerInfo,
  baseSequence: number,
  compression: KafkaCompression = "none",
): Buffer {
  const count = indexes.length;
  const baseTimestampMs = records[indexes[0]!]!.timestampMs ?? nowMs;
  let maxTimestampMs = baseTimestampMs;
  const bodySizes = new Array<number>(count);
  let total = BATCH_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    const record = records[indexes[k]!]!;
    const timestampMs = record.timestampMs ?? nowMs;
    if (timestampMs > maxTimestampMs) maxTimestampMs = timestampMs;
    let size = 1 + uvarintSize(zigzag(timestampMs - baseTimestampMs)) + uvarintSize(zigzag(k));
    size += record.key === null ? 1 : uvarintSize(zigzag(record.key.length)) + record.key.length;
    size += record.value === null ? 1 : uvarintSize(zigzag(record.value.length)) + record.value.length;
    const headers = record.headers;
    let headerCount = 0;
    if (headers !== undefined) {
      for (const name in headers) {
        const nameLength = nameBytes(name).length;
        const valueLength = headers[name].length;
        size += uvarintSize(zigzag(nameLength)) + nameLength + uvarintSize(zigzag(valueLength)) + valueLength;
        headerCount++;
      }
    }
    size += uvarintSize(zigzag(headerCount));
    bodySizes[k] = size;
    total += uvarintSize(zigzag(size)) + size;
  }
  const out = Buffer.allocUnsafe(total);
  out.writeBigInt64BE(0n, 0);
  out.writeInt32BE(total - 12, BATCH_LENGTH_AT);
  out.writeInt32BE(-1, 12);
  out.writeInt8(2, BATCH_MAGIC_AT);
  out.writeInt16BE(0, BATCH_ATTRIBUTES_AT);
  out.writeInt32BE(count - 1, BATCH_LAST_OFFSET_DELTA_AT);
  out.writeBigInt64BE(BigInt(baseTimestampMs), BATCH_BASE_TIMESTAMP_AT);
  out.writeBigInt64BE(BigInt(maxTimestampMs), BATCH_BASE_TIMESTAMP_AT + 8);
  out.writeBigInt64BE(producer.producerId, BATCH_PRODUCER_ID_AT);
  out.writeInt16BE(producer.producerEpoch, BATCH_PRODUCER_ID_AT + 8);
  out.writeInt32BE(baseSequence, BATCH_PRODUCER_ID_AT + 10);
  out.writeInt32BE(count, BATCH_RECORD_COUNT_AT);
  let at = BATCH_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    const record = records[indexes[k]!]!;
    at = writeUvarint(out, at, zigzag(bodySizes[k]!));
    out[at++] = 0;
    at = writeUvarint(out, at, zigzag((record.timestampMs ?? nowMs) - baseTimestampMs));
    at = writeUvarint(out, at, zigzag(k));
    at = writeBytes(out, at, record.key);
    at = writeBytes(out, at, record.value);
    const headers = record.headers;
    if (headers === undefined) {
      out[at++] = 0;
      continue;
    }
    const names = Object.keys(headers);
    at = writeUvarint(out, at, zigzag(names.length));
    for (const name of names) {
      at = writeBytes(out, at, nameBytes(name));
      at = writeBytes(out, at, headers[name]);
    }
  }
  const batch = compression === "none" ? out : compressRecords(out, compression);
  batch.writeUInt32BE(crc32c(batch.subarray(BATCH_ATTRIBUTES_AT)), BATCH_CRC_AT);
  return batch;
}

/** The batch with its records region (after the 61-byte header) compressed with `compression`. */
function compressRecords(batch: Buffer, compression: Exclude<KafkaCompression, "none">): Buffer {
  const algorithm = compressionsAlgorithms[compression];
  const block = algorithm.compressSync(batch.subarray(BATCH_HEADER_BYTES));
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + block.length);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  out.set(block, BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - 12, BATCH_LENGTH_AT);
  out.writeInt16BE(algorithm.bitmask, BATCH_ATTRIBUTES_AT);
  return out;
}

function writeBytes(out: Buffer, at: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    out[at] = 1;
    return at + 1;
  }
  at = writeUvarint(out, at, zigzag(bytes.length));
  out.set(bytes, at);
  return at + bytes.length;
}
