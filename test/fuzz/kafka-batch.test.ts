// Fuzzes the Kafka log's fetched record batches: FetchedRecords hands out records or throws a LogError, never anything else.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogError } from "../../src/errors.ts";
import type { LogRecord, ProduceRecord } from "../../src/log/index.ts";
import {
  BATCH_ATTRIBUTES_AT,
  BATCH_CRC_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  crc32c,
  FetchedRecords,
} from "../../src/log/kafka/record-batch-reader.ts";
import { encodeRecordBatch } from "../../src/log/kafka/record-batch-writer.ts";
import { fuzzBytes, runs, typedOutcome, withoutStacks } from "./fuzz.ts";

const PRODUCER = { producerId: -1n, producerEpoch: -1 };
const NOW_MS = 1_800_000_000_000;
/** A take() loop longer than this is a reader that does not move on. */
const MAX_TAKES = 10_000;

const record: fc.Arbitrary<ProduceRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 24 }).map(Buffer.from), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 64 }).map(Buffer.from), { nil: null }),
  headers: fc.option(
    fc.dictionary(
      fc.constantFrom("pulse-source", "h", "", "é"),
      fc.uint8Array({ maxLength: 8 }).map(Buffer.from),
      { maxKeys: 3 },
    ),
    { nil: undefined },
  ),
  timestampMs: fc.integer({ min: NOW_MS - 100_000, max: NOW_MS + 100_000 }),
});

/** `records` as one stored batch from `baseOffset`. */
function stored(baseOffset: number, records: readonly ProduceRecord[]): Buffer {
  const out = encodeRecordBatch(
    records,
    records.map((_, i) => i),
    NOW_MS,
    PRODUCER,
    -1,
  );
  out.writeBigInt64BE(BigInt(baseOffset), 0);
  return out;
}

/** Valid answers: one batch, or two in a row, as a fetch brings them. */
const VALID: Buffer[] = fc
  .sample(fc.array(fc.array(record, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 2 }), {
    seed: 11,
    numRuns: 24,
  })
  .map((batches) => {
    let offset = 40;
    return Buffer.concat(
      batches.map((records) => {
        const batch = stored(offset, records);
        offset += records.length;
        return batch;
      }),
    );
  });

/** The bytes with the first batch's CRC-32C written again over its (mutated) body, so decoding goes past the check. */
function withCrcFixed(bytes: Uint8Array): Buffer {
  const buf = Buffer.from(bytes);
  if (buf.length < BATCH_HEADER_BYTES) return buf;
  const end = Math.min(buf.length, BATCH_LENGTH_AT + 4 + Math.max(0, buf.readInt32BE(BATCH_LENGTH_AT)));
  if (end <= BATCH_ATTRIBUTES_AT) return buf;
  buf.writeUInt32BE(crc32c(buf.subarray(BATCH_ATTRIBUTES_AT, end)), BATCH_CRC_AT);
  return buf;
}

/** Takes every record of an answer from `from`, `page` at a time. */
function takeAll(bytes: Buffer, from: number, page: number): LogRecord[] {
  const fetched = new FetchedRecords(
    "t",
    0,
    {
      partition: 0,
      errorCode: 0,
      highWatermark: 0,
      abortedTransactions: [],
      records: bytes,
    },
    from,
  );
  const out: LogRecord[] = [];
  for (let takes = 0; takes < MAX_TAKES; takes++) {
    const before = out.length;
    if (fetched.take(out, before + page)) return out;
  }
  throw new Error(`take() did not reach the answer's end in ${MAX_TAKES} calls`);
}

withoutStacks({ beforeAll, afterAll });

describe("fuzz: Kafka fetched record batches", () => {
  it("any answer gives records or a LogError, its CRC right or wrong", () => {
    fc.assert(
      fc.property(
        fuzzBytes(VALID),
        fc.boolean(),
        fc.nat({ max: 60 }),
        fc.integer({ min: 1, max: 7 }),
        (bytes, fix, from, page) => {
          const answer = fix ? withCrcFixed(bytes) : Buffer.from(bytes);
          const outcome = typedOutcome(() => takeAll(answer, from, page));
          if (!outcome.ok) expect(outcome.error).toBeInstanceOf(LogError);
          else for (const r of outcome.value) expect(r.offset).toBeGreaterThanOrEqual(from);
        },
      ),
      runs(501),
    );
  });

  it("every batch the writer makes reads back as the records it was given", () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 9 }),
        (records, page) => {
          const got = takeAll(stored(7, records), 0, page);
          const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("hex"));
          expect(
            got.map((r) => ({
              offset: r.offset,
              key: hex(r.key),
              value: hex(r.value),
              timestampMs: r.timestampMs,
              headers: Object.entries(r.headers).map(([n, v]) => [n, hex(v)]),
            })),
          ).toEqual(
            records.map((r, i) => ({
              offset: 7 + i,
              key: hex(r.key),
              value: hex(r.value),
              timestampMs: r.timestampMs,
              headers: Object.entries(r.headers ?? {}).map(([n, v]) => [n, hex(v)]),
            })),
          );
        },
      ),
      runs(502, 0.3),
    );
  });
});
