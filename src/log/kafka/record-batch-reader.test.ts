// FetchedRecords: one partition's fetched record batches, decoded as they are handed out, each batch's CRC-32C checked first.
import { describe, expect, it } from "vitest";
import { asBuffer } from "../../bytes.ts";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { LogRecord, ProduceRecord } from "../index.ts";
import type { FetchedPartition } from "./apis/fetch-v13-v17.ts";
import {
  BATCH_ATTRIBUTES_AT,
  BATCH_CRC_AT,
  BATCH_HEADER_BYTES,
  crc32c,
  FetchedRecords,
} from "./record-batch-reader.ts";
import { encodeRecordBatch } from "./record-batch-writer.ts";

const PRODUCER = { producerId: -1n, producerEpoch: -1 };

/** `records` as one batch from `baseOffset`, as a broker stores it. */
function stored(baseOffset: number, records: ProduceRecord[]): Buffer {
  const out = encodeRecordBatch(
    records,
    records.map((_, i) => i),
    0,
    PRODUCER,
    -1,
  );
  // The broker assigns the base offset; it lies outside the CRC's range.
  out.writeBigInt64BE(BigInt(baseOffset), 0);
  return out;
}

/** A batch of `count` records from `baseOffset`, values "v<offset>", every other one with a header. */
function batch(baseOffset: number, count: number): Buffer {
  const records: ProduceRecord[] = [];
  for (let i = 0; i < count; i++) {
    records.push({
      key: Buffer.from(`k${baseOffset + i}`),
      value: Buffer.from(`v${baseOffset + i}`),
      timestampMs: 1_700_000_000_000 + i,
      ...(i % 2 === 1 ? { headers: { h: Buffer.from([i]) } } : {}),
    });
  }
  return stored(baseOffset, records);
}

function answer(...batches: Buffer[]): FetchedPartition {
  return {
    partition: 0,
    errorCode: 0,
    highWatermark: 0,
    abortedTransactions: [],
    records: Buffer.concat(batches),
  };
}

function values(records: LogRecord[]): string[] {
  return records.map((r) => asBuffer(r.value!).toString("utf8"));
}

describe("FetchedRecords", () => {
  it("hands out records from its start, a page at a time, with keys, headers and timestamps", () => {
    const fetched = new FetchedRecords("t", 0, answer(batch(10, 4), batch(14, 3)), 12);
    expect(fetched.end).toBe(17);
    const first: LogRecord[] = [];
    expect(fetched.take(first, 3)).toBe(false);
    expect(values(first)).toEqual(["v12", "v13", "v14"]);
    expect(first[0]).toMatchObject({ topic: "t", partition: 0, offset: 12, timestampMs: 1_700_000_000_002 });
    expect(asBuffer(first[0]!.key!).toString()).toBe("k12");
    expect(first[0]!.headers).toEqual({});
    expect(first[1]!.headers).toEqual({ h: Buffer.from([3]) });
    expect(fetched.start).toBe(15);
    const rest: LogRecord[] = [];
    expect(fetched.take(rest, 100)).toBe(true);
    expect(values(rest)).toEqual(["v15", "v16"]);
  });

  it("gives records whose headers are the same bytes one shared, frozen headers object, across batches", () => {
    const tagged = (baseOffset: number, tags: string[]) =>
      stored(
        baseOffset,
        tags.map((tag, i) => ({
          key: null,
          value: Buffer.from(`v${baseOffset + i}`),
          ...(tag === "" ? {} : { headers: { source: Buffer.from(tag) } }),
        })),
      );
    const fetched = new FetchedRecords(
      "t",
      0,
      answer(tagged(0, ["sim", "sim", "", "sim", "sIm"]), tagged(5, ["sIm", "sim"])),
      0,
    );
    const out: LogRecord[] = [];
    expect(fetched.take(out, 100)).toBe(true);
    expect(values(out)).toEqual(["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
    expect(
      out.map((r) =>
        Object.entries(r.headers)
          .map(([k, v]) => `${k}=${v}`)
          .join(),
      ),
    ).toEqual(["source=sim", "source=sim", "", "source=sim", "source=sIm", "source=sIm", "source=sim"]);
    expect(out[1]!.headers).toBe(out[0]!.headers);
    expect(out[3]!.headers).toBe(out[0]!.headers);
    expect(out[5]!.headers).toBe(out[4]!.headers);
    expect(out[4]!.headers).not.toBe(out[3]!.headers);
    expect(out[6]!.headers).not.toBe(out[0]!.headers);
    for (const record of out) expect(Object.isFrozen(record.headers)).toBe(true);
  });

  it.for(["gzip", "snappy", "lz4"] as const)(
    "reads back a batch produce compressed with %s: the codec in its attributes, the records as written",
    (codec) => {
      const records: ProduceRecord[] = Array.from({ length: 200 }, (_, i) => ({
        key: Buffer.from(`user-${i % 7}`),
        value: Buffer.from(`{"event":"VIEW","page":"/product/${i % 13}","n":${i}}`),
        timestampMs: 1_700_000_000_000 + i,
        ...(i % 3 === 0 ? { headers: { source: Buffer.from("simulator") } } : {}),
      }));
      const indexes = records.map((_, i) => i);
      const plain = encodeRecordBatch(records, indexes, 0, PRODUCER, -1);
      const packed = encodeRecordBatch(records, indexes, 0, PRODUCER, -1, codec);
      const codecs = { gzip: 1, snappy: 2, lz4: 3 };
      expect(packed.readInt16BE(21) & 7).toBe(codecs[codec]);
      expect(plain.readInt16BE(21) & 7).toBe(0);
      // Repetitive records: the block is far smaller, and the batch length counts it.
      expect(packed.length).toBeLessThan(plain.length / 2);
      expect(packed.readInt32BE(8)).toBe(packed.length - 12);
      const out: LogRecord[] = [];
      // FetchedRecords checks each batch's CRC-32C before it decompresses it.
      expect(new FetchedRecords("t", 0, answer(packed), 0).take(out, 1_000)).toBe(true);
      const fromPlain: LogRecord[] = [];
      new FetchedRecords("t", 0, answer(plain), 0).take(fromPlain, 1_000);
      expect(out).toEqual(fromPlain);
      expect(values(out)).toEqual(records.map((r) => r.value!.toString()));
    },
  );

  it("skips forward when its start is moved past records not handed out yet", () => {
    const fetched = new FetchedRecords("t", 0, answer(batch(0, 5), batch(5, 5)), 0);
    fetched.start = 7;
    const out: LogRecord[] = [];
    expect(fetched.take(out, 100)).toBe(true);
    expect(values(out)).toEqual(["v7", "v8", "v9"]);
  });

  it("ignores a last batch the broker cut short", () => {
    const whole = batch(0, 2);
    const cut = batch(2, 2).subarray(0, 30);
    const fetched = new FetchedRecords("t", 0, answer(whole, cut), 0);
    expect(fetched.end).toBe(2);
    const out: LogRecord[] = [];
    expect(fetched.take(out, 100)).toBe(true);
    expect(values(out)).toEqual(["v0", "v1"]);
  });

  it("refuses a batch whose CRC-32C does not match, after handing out the whole batches before it", () => {
    const damaged = batch(3, 3);
    // One bit of the last record's value.
    damaged[damaged.length - 2]! ^= 0x01;
    const fetched = new FetchedRecords("events", 4, answer(batch(0, 3), damaged), 0);
    const out: LogRecord[] = [];
    expect(fetched.take(out, 3)).toBe(false);
    expect(values(out)).toEqual(["v0", "v1", "v2"]);
    let error: unknown;
    try {
      fetched.take(out, 100);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LogError);
    expect((error as LogError).code).toBe(LogErrorCode.storage);
    expect((error as LogError).message).toMatch(
      /damaged record batch on "events" partition 4, offsets 3 to 5: its CRC-32C is 0x[0-9a-f]{8} where the batch says 0x[0-9a-f]{8}/,
    );
    expect(values(out)).toEqual(["v0", "v1", "v2"]);
  });

  it("does not check batches below its start (they are never read)", () => {
    const damaged = batch(0, 2);
    damaged[damaged.length - 1]! ^= 0xff;
    const fetched = new FetchedRecords("t", 0, answer(damaged, batch(2, 2)), 2);
    const out: LogRecord[] = [];
    expect(fetched.take(out, 100)).toBe(true);
    expect(values(out)).toEqual(["v2", "v3"]);
  });

  it("refuses a batch whose CRC-32C holds but whose record runs past it, or that does not decompress", () => {
    /** `bytes` with its CRC-32C written again over what was changed. */
    const resealed = (bytes: Buffer) => {
      bytes.writeUInt32BE(crc32c(bytes.subarray(BATCH_ATTRIBUTES_AT)), BATCH_CRC_AT);
      return bytes;
    };
    // The first record's length (a zigzag varint right after the header) made 63 bytes: past the batch.
    const long = batch(0, 1);
    long[BATCH_HEADER_BYTES] = 126;
    const read = () => new FetchedRecords("t", 0, answer(resealed(long)), 0).take([], 10);
    expect(read).toThrow(LogError);
    expect(read).toThrow(/records run past its end/);
    // Compression bits set to gzip over bytes that are not gzip.
    const garbled = batch(0, 2);
    garbled.writeInt16BE(1, BATCH_ATTRIBUTES_AT);
    expect(() => new FetchedRecords("t", 0, answer(resealed(garbled)), 0).take([], 10)).toThrow(
      /does not decompress/,
    );
  });
});
