// The embedded log's batch codec: round trips, reads from the middle of a batch, size splits, corrupt input.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { asBuffer } from "../../bytes.ts";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { LogRecord, RecordHeaders } from "../index.ts";
import { BatchEncoder, type BatchEntry, decodeBatch, readBatch, summarizeBatch } from "./batch-codec.ts";
import { decodeHeaders, encodeHeaders } from "./header-codec.ts";

const WHERE = { topic: "t", partition: 3, baseOffset: 1_000 };
const NOW_MS = 1_800_000_000_000;

/** Encodes `entries` as one batch (failing if the encoder splits it) and returns a private copy. */
function encodeOne(entries: readonly BatchEntry[], encoder = new BatchEncoder()): Buffer {
  const batch = encoder.encode(entries, null, 0, entries.length, NOW_MS);
  expect(batch.count).toBe(entries.length);
  return Buffer.from(batch.bytes);
}

/** What a record should read back as: bytes as hex, headers sorted, the default timestamp filled in. */
function expected(entry: BatchEntry, offset: number) {
  return {
    topic: WHERE.topic,
    partition: WHERE.partition,
    offset,
    key: entry.key === null ? null : Buffer.from(entry.key).toString("hex"),
    value: entry.value === null ? null : Buffer.from(entry.value).toString("hex"),
    headers: Object.fromEntries(
      Object.entries(entry.headers ?? {}).map(([name, value]) => [name, Buffer.from(value).toString("hex")]),
    ),
    timestampMs: entry.timestampMs ?? NOW_MS,
  };
}

function comparable(record: LogRecord) {
  return {
    ...record,
    key: record.key === null ? null : asBuffer(record.key).toString("hex"),
    value: record.value === null ? null : asBuffer(record.value).toString("hex"),
    headers: Object.fromEntries(
      Object.entries(record.headers).map(([name, value]) => [name, value.toString("hex")]),
    ),
  };
}

/** Null, empty and binary keys and values, headers with empty, binary and non-ASCII parts, mixed timestamps. */
function variedEntries(count: number): BatchEntry[] {
  return Array.from({ length: count }, (_, i) => {
    const entry: BatchEntry = {
      key: i % 5 === 0 ? null : i % 7 === 0 ? Buffer.alloc(0) : Buffer.from(`key-${i}`),
      value: i % 3 === 0 ? null : i % 11 === 0 ? Buffer.alloc(0) : randomBytes(1 + ((i * 37) % 400)),
    };
    if (i % 4 === 0) {
      entry.headers = {
        "content-type": Buffer.from("application/json"),
        empty: Buffer.alloc(0),
        binary: Buffer.from([0, 255, 128, 0]),
        "naïve-名前": Buffer.from("ünïcode"),
      };
    }
    if (i % 2 === 1) entry.timestampMs = NOW_MS + (i % 3 === 0 ? -i * 997 : i * 1_013);
    return entry;
  });
}

describe("batch codec", () => {
  it("round-trips null, empty and binary keys and values, headers and timestamps", () => {
    const entries = variedEntries(300);
    const records = decodeBatch(encodeOne(entries), WHERE);
    expect(records.map(comparable)).toEqual(entries.map((entry, i) => expected(entry, WHERE.baseOffset + i)));
    // Header insertion order survives, as in Kafka.
    expect(Object.keys(records[0].headers)).toEqual(["content-type", "empty", "binary", "naïve-名前"]);
  });

  it("writes records that share one headers object as it writes copies of it, in any mix", () => {
    const a = { source: Buffer.from("simulator"), "naïve-名前": Buffer.from([0, 255]) };
    const b = { source: Buffer.from("a-much-longer-source-name-than-twenty-four-bytes") };
    const big = { blob: randomBytes(300) };
    const tags = [a, a, b, a, undefined, a, big, big, b, b, undefined, {}, a];
    const shared: BatchEntry[] = tags.map((headers, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from([i]),
      headers,
    }));
    const copied: BatchEntry[] = shared.map((e) => ({
      ...e,
      headers: e.headers === undefined ? undefined : { ...e.headers },
    }));
    const bytes = encodeOne(shared);
    expect(bytes).toEqual(encodeOne(copied));
    expect(decodeBatch(bytes, WHERE).map(comparable)).toEqual(
      shared.map((entry, i) => expected(entry, WHERE.baseOffset + i)),
    );
  });

  it("round-trips a single record, an empty headers object and large values", () => {
    const large = randomBytes(3 * 1024 * 1024);
    const entries: BatchEntry[] = [
      { key: Buffer.from("k"), value: large, headers: {} },
      { key: null, value: null },
      { key: randomBytes(70_000), value: Buffer.alloc(0), headers: { big: randomBytes(200_000) } },
    ];
    // A 3 MiB record is over the 1 MiB batch limit: it gets a batch of its own.
    const encoder = new BatchEncoder();
    const first = encoder.encode(entries, null, 0, entries.length, NOW_MS);
    expect(first.count).toBe(1);
    const rest = encoder.encode(entries, null, 1, entries.length, NOW_MS);
    expect(rest.count).toBe(2);
    const records = [
      ...decodeBatch(first.bytes, WHERE),
      ...decodeBatch(rest.bytes, { ...WHERE, baseOffset: WHERE.baseOffset + 1 }),
    ];
    expect(records.map(comparable)).toEqual(entries.map((entry, i) => expected(entry, WHERE.baseOffset + i)));
    expect(asBuffer(records[0].value!).equals(large)).toBe(true);
  });

  it("keeps timestamps exact when they lie further apart than a varint delta allows", () => {
    const timestamps = [
      0,
      -1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      NOW_MS,
      2 ** 52,
      -(2 ** 52) + 1,
    ];
    const entries = timestamps.map((timestampMs) => ({ key: null, value: null, timestampMs }));
    const blob = encodeOne(entries);
    expect(decodeBatch(blob, WHERE).map((r) => r.timestampMs)).toEqual(timestamps);
    const batch = new BatchEncoder().encode(entries, null, 0, entries.length, 0);
    expect(batch.maxTimestampMs).toBe(Number.MAX_SAFE_INTEGER);
    // Deltas just inside the narrow range stay varints, both ways.
    const edges = [NOW_MS, NOW_MS + 2 ** 52 - 1, NOW_MS - (2 ** 52 - 1), NOW_MS - 1].map((timestampMs) => ({
      key: null,
      value: null,
      timestampMs,
    }));
    expect(decodeBatch(encodeOne(edges), WHERE).map((r) => r.timestampMs)).toEqual(
      edges.map((e) => e.timestampMs),
    );
  });

  it("reads from any offset in the batch and stops at maxRecords, appending to what is there", () => {
    const entries = variedEntries(50);
    const blob = encodeOne(entries);
    for (const from of [0, 1, 17, 48, 49]) {
      for (const max of [1, 2, 10, 100]) {
        const out: LogRecord[] = [];
        readBatch(blob, WHERE, WHERE.baseOffset + from, max, out);
        const want = entries
          .slice(from, from + max)
          .map((entry, i) => expected(entry, WHERE.baseOffset + from + i));
        expect(out.map(comparable), `from ${from} max ${max}`).toEqual(want);
      }
    }
    // Offsets before the batch read it whole; past it read nothing; a full `out` takes nothing more.
    const whole: LogRecord[] = [];
    readBatch(blob, WHERE, 0, 1_000, whole);
    expect(whole).toHaveLength(50);
    const past: LogRecord[] = [];
    readBatch(blob, WHERE, WHERE.baseOffset + 50, 1_000, past);
    expect(past).toEqual([]);
    const full: LogRecord[] = whole.slice(0, 7);
    readBatch(blob, WHERE, WHERE.baseOffset, 7, full);
    expect(full).toHaveLength(7);
    // A second batch continues the same page.
    readBatch(blob, { ...WHERE, baseOffset: 2_000 }, 0, 9, full);
    expect(full.map((r) => r.offset)).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006, 2000, 2001]);
  });

  it("returns views into the stored blob, not copies", () => {
    const blob = encodeOne([{ key: Buffer.from("key"), value: Buffer.from("value") }]);
    const [record] = decodeBatch(blob, WHERE);
    expect(record.key!.buffer).toBe(blob.buffer);
    expect(record.value!.buffer).toBe(blob.buffer);
  });

  it("splits at the size limit, never leaving a record out, and measures retention bytes", () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.alloc(100, i),
      headers: i % 2 === 0 ? { h: Buffer.from("abc") } : undefined,
    }));
    const encoder = new BatchEncoder(2_000);
    encoder.reset();
    const decoded: LogRecord[] = [];
    let sizeBytes = 0;
    for (let from = 0; from < entries.length; ) {
      const batch = encoder.encode(entries, null, from, entries.length, NOW_MS);
      expect(batch.count).toBeGreaterThan(0);
      expect(batch.bytes.length).toBeLessThanOrEqual(2_000);
      decoded.push(...decodeBatch(batch.bytes, { ...WHERE, baseOffset: from }));
      sizeBytes += batch.sizeBytes;
      from += batch.count;
    }
    // Views from earlier batches of one reset() stay intact while later ones are written.
    expect(decoded.map((r) => r.value![0])).toEqual(entries.map((_, i) => i));
    // Key + value + the headers' encoding, which for {h: "abc"} is 1 + 1 + 1 + 1 + 3 = 7 bytes.
    const want = entries.reduce(
      (sum, e) => sum + e.key.length + e.value.length + (encodeHeaders(e.headers)?.length ?? 0),
      0,
    );
    expect(sizeBytes).toBe(want);
    expect(want).toBe(10 * 2 + 90 * 3 + 100 * 100 + 50 * 7);
  });

  it("summarizes offsets, timestamps and retention sizes without building records", () => {
    const entries = variedEntries(40);
    const blob = encodeOne(entries);
    const summary = summarizeBatch(blob, WHERE);
    expect(summary.offsetDeltas).toEqual(entries.map((_, i) => i));
    expect(summary.timestampsMs).toEqual(entries.map((e) => e.timestampMs ?? NOW_MS));
    expect(summary.sizesBytes).toEqual(
      entries.map(
        (e) => (e.key?.length ?? 0) + (e.value?.length ?? 0) + (encodeHeaders(e.headers)?.length ?? 0),
      ),
    );
    const batch = new BatchEncoder().encode(entries, null, 0, entries.length, NOW_MS);
    expect(batch.sizeBytes).toBe(summary.sizesBytes.reduce((a, b) => a + b, 0));
    expect(batch.maxTimestampMs).toBe(Math.max(...summary.timestampsMs));
  });

  it("encodes in the order given, and reuses its scratch space across resets", () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ key: null, value: Buffer.from([i]) }));
    const encoder = new BatchEncoder();
    const order = Int32Array.from([5, 3, 1, 0, 2, 4]);
    encoder.reset();
    const batch = encoder.encode(entries, order, 1, 4, NOW_MS);
    expect(batch.count).toBe(3);
    expect(decodeBatch(batch.bytes, WHERE).map((r) => r.value![0])).toEqual([3, 1, 0]);
    encoder.reset();
    const again = encoder.encode(entries, null, 0, 2, NOW_MS);
    expect(again.bytes.buffer).toBe(batch.bytes.buffer);
    expect(again.bytes.byteOffset).toBe(batch.bytes.byteOffset);
  });

  it("gives records whose headers are the same bytes one shared, frozen headers object", () => {
    const tag = { source: Buffer.from("simulator") };
    const entries: BatchEntry[] = [
      { key: null, value: Buffer.from("a"), headers: tag },
      { key: null, value: Buffer.from("b"), headers: { source: Buffer.from("simulator") } },
      { key: null, value: Buffer.from("c"), headers: { source: Buffer.from("simulatoR") } },
      { key: null, value: Buffer.from("d"), headers: { source: Buffer.from("simulatoR") } },
      { key: null, value: Buffer.from("e") },
      {
        key: null,
        value: Buffer.from("f"),
        headers: { source: Buffer.from("simulatoR"), x: Buffer.alloc(0) },
      },
    ];
    const records = decodeBatch(encodeOne(entries), WHERE);
    expect(records.map(comparable)).toEqual(entries.map((e, i) => expected(e, WHERE.baseOffset + i)));
    expect(records[1]!.headers).toBe(records[0]!.headers);
    expect(records[3]!.headers).toBe(records[2]!.headers);
    expect(records[2]!.headers).not.toBe(records[1]!.headers);
    expect(records[5]!.headers).not.toBe(records[3]!.headers);
    for (const record of records) expect(Object.isFrozen(record.headers)).toBe(true);
  });

  it("keeps a header named __proto__ as a header, in batches and schema-1 header blobs", () => {
    // Found by the fuzz suite: plain assignment set the decoded object's prototype and lost the header.
    const headers: RecordHeaders = {};
    const own = { value: Buffer.from("x"), enumerable: true, writable: true, configurable: true };
    Object.defineProperty(headers, "__proto__", own);
    headers.a = Buffer.from("y");
    const [record] = decodeBatch(encodeOne([{ key: null, value: null, headers }]), WHERE);
    for (const decoded of [record!.headers, decodeHeaders(encodeHeaders(headers))]) {
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(Object.keys(decoded)).toEqual(["__proto__", "a"]);
      expect(Buffer.from(Object.getOwnPropertyDescriptor(decoded, "__proto__")!.value).toString()).toBe("x");
    }
  });

  it("rejects a header value that is not bytes", () => {
    const entries = [{ key: null, value: null, headers: { h: "text" as unknown as Buffer } }];
    expect(() => new BatchEncoder().encode(entries, null, 0, 1, NOW_MS)).toThrow(
      expect.objectContaining({ code: LogErrorCode.badArgument, message: expect.stringContaining('"h"') }),
    );
  });

  it("reports a truncated, miscounted, padded or foreign blob as corrupt storage, naming where it is", () => {
    const blob = encodeOne(variedEntries(10));
    const miscounted = Buffer.from(blob);
    miscounted[10] = 11; // the count byte: one record more than there is
    const foreign = Buffer.from(blob);
    foreign[0] = 9; // the format version
    // One record (null key and value, no headers) whose body length claims a byte more than its fields use.
    const padded = Buffer.concat([encodeOne([{ key: null, value: null }]), Buffer.from([0])]);
    padded[11] += 1;
    const cases: [string, Buffer, boolean][] = [
      ["truncated", blob.subarray(0, blob.length - 1), true],
      ["shorter than a header", blob.subarray(0, 5), true],
      ["miscounted", miscounted, true],
      ["foreign", foreign, true],
      // The summary skips whole bodies by their length, so only a full decode notices padding.
      ["padded", padded, false],
    ];
    for (const [name, bytes, summaryFails] of cases) {
      const reads: (() => unknown)[] = [() => decodeBatch(bytes, WHERE)];
      if (summaryFails) reads.push(() => summarizeBatch(bytes, WHERE));
      for (const read of reads) {
        let error: unknown;
        try {
          read();
        } catch (caught) {
          error = caught;
        }
        expect(error, name).toBeInstanceOf(LogError);
        expect((error as LogError).code).toBe(LogErrorCode.storage);
        expect((error as LogError).message).toContain('topic "t" partition 3 offset 1000');
      }
    }
  });
});
