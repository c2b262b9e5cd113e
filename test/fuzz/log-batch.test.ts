// Fuzzes the embedded log's stored bytes: record batches and schema-1 header blobs decode or throw a LogError.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogError } from "../../src/errors.ts";
import {
  BatchEncoder,
  type BatchEntry,
  decodeBatch,
  readBatch,
  summarizeBatch,
} from "../../src/log/embedded/batch-codec.ts";
import { decodeHeaders, encodeHeaders } from "../../src/log/embedded/header-codec.ts";
import type { LogRecord, RecordHeaders } from "../../src/log/index.ts";
import { fuzzBytes, runs, typedOutcome, withoutStacks } from "./fuzz.ts";

const WHERE = { topic: "t", partition: 1, baseOffset: 500 };
const NOW_MS = 1_800_000_000_000;

const headerName = fc.oneof(
  fc.constantFrom("pulse.source", "content-type", "", "__proto__", "constructor", "toString", "é"),
  fc.string({ maxLength: 12 }),
);
const headers: fc.Arbitrary<RecordHeaders | undefined> = fc.option(
  fc.dictionary(headerName, fc.uint8Array({ maxLength: 12 }), { maxKeys: 4 }).map((h) => {
    // fc.dictionary sets "__proto__" as an own key; keep it that way in the copy.
    const out: RecordHeaders = {};
    for (const [name, value] of Object.entries(h)) {
      Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }),
  { nil: undefined },
);
const entry: fc.Arbitrary<BatchEntry> = fc.record(
  {
    key: fc.option(fc.uint8Array({ maxLength: 24 }), { nil: null }),
    value: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
    headers,
    timestampMs: fc.oneof(
      fc.integer({ min: NOW_MS - 10_000, max: NOW_MS + 10_000 }),
      fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    ),
  },
  { requiredKeys: ["key", "value"] },
);

const encoder = new BatchEncoder();

function encode(entries: readonly BatchEntry[]): Buffer {
  encoder.reset();
  const batch = encoder.encode(entries, null, 0, entries.length, NOW_MS);
  return Buffer.from(batch.bytes);
}

/** Valid batches to mutate: a few shapes of records, narrow and wide timestamps. */
const VALID: Buffer[] = fc
  .sample(fc.array(entry, { minLength: 1, maxLength: 6 }), { seed: 7, numRuns: 24 })
  .map(encode);

function plain(record: LogRecord) {
  return {
    offset: record.offset,
    timestampMs: record.timestampMs,
    key: record.key === null ? null : Buffer.from(record.key).toString("hex"),
    value: record.value === null ? null : Buffer.from(record.value).toString("hex"),
    headers: Object.entries(record.headers).map(([name, value]) => [
      name,
      Buffer.from(value).toString("hex"),
    ]),
  };
}

withoutStacks({ beforeAll, afterAll });

describe("fuzz: embedded log record batches", () => {
  it("decodeBatch of any bytes gives records or a LogError, and summarizeBatch agrees", () => {
    fc.assert(
      fc.property(fuzzBytes(VALID), (bytes) => {
        const blob = Buffer.from(bytes);
        const decoded = typedOutcome(() => decodeBatch(blob, WHERE));
        const summary = typedOutcome(() => summarizeBatch(blob, WHERE));
        if (!decoded.ok) expect(decoded.error).toBeInstanceOf(LogError);
        if (!summary.ok) expect(summary.error).toBeInstanceOf(LogError);
        if (decoded.ok && summary.ok) {
          expect(summary.value.offsetDeltas).toEqual(decoded.value.map((r) => r.offset - WHERE.baseOffset));
          expect(summary.value.timestampsMs).toEqual(decoded.value.map((r) => r.timestampMs));
        }
      }),
      runs(201),
    );
  });

  it("readBatch from the middle of any bytes gives records or a LogError", () => {
    fc.assert(
      fc.property(
        fuzzBytes(VALID),
        fc.nat({ max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        (bytes, from, max) => {
          const out: LogRecord[] = [];
          const read = typedOutcome(() =>
            readBatch(Buffer.from(bytes), WHERE, WHERE.baseOffset + from, max, out),
          );
          if (!read.ok) expect(read.error).toBeInstanceOf(LogError);
          else expect(out.length).toBeLessThanOrEqual(max);
        },
      ),
      runs(202),
    );
  });

  it("every batch the encoder writes decodes to the records it was given, header names included", () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 8 }), (entries) => {
        const records = decodeBatch(encode(entries), WHERE);
        expect(records.map(plain)).toEqual(
          entries.map((e, i) =>
            plain({
              ...WHERE,
              offset: WHERE.baseOffset + i,
              key: e.key,
              value: e.value,
              headers: e.headers ?? {},
              timestampMs: e.timestampMs ?? NOW_MS,
            }),
          ),
        );
      }),
      runs(203, 0.3),
    );
  });
});

describe("fuzz: schema-1 header blobs", () => {
  const valid = fc
    .sample(headers, { seed: 8, numRuns: 24 })
    .map(encodeHeaders)
    .filter((blob): blob is Buffer => blob !== null);

  it("decodeHeaders of any bytes gives headers or a LogError", () => {
    fc.assert(
      fc.property(fuzzBytes(valid, 64), (bytes) => {
        const outcome = typedOutcome(() => decodeHeaders(Buffer.from(bytes)));
        if (!outcome.ok) expect(outcome.error).toBeInstanceOf(LogError);
        else expect(Object.getPrototypeOf(outcome.value)).toBe(Object.prototype);
      }),
      runs(204),
    );
  });

  it("decodeHeaders(encodeHeaders(h)) has h's names and bytes", () => {
    fc.assert(
      fc.property(headers, (h) => {
        const decoded = decodeHeaders(encodeHeaders(h));
        const hex = (r: RecordHeaders) =>
          Object.entries(r).map(([name, value]) => [name, Buffer.from(value).toString("hex")]);
        expect(hex(decoded)).toEqual(hex(h ?? {}));
      }),
      runs(205),
    );
  });
});
