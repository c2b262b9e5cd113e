// The Log conformance suite: every Log implementation (embedded SQLite, Kafka) runs these cases.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogError, LogErrorCode } from "../../src/errors.ts";
import type { Log, LogRecord, ProduceRecord } from "../../src/log/index.ts";
import { partitionForKey } from "../../src/log/partitioner.ts";
import { asBuffer } from "../../src/bytes.ts";

export interface LogContractCapabilities {
  /** enforceRetention(nowMs) deletes expired records synchronously (Kafka deletes whole segments, later). */
  retentionNow?: boolean;
}

export interface LogContractSubject {
  log: Log;
  cleanup: () => Promise<void>;
  capabilities?: LogContractCapabilities;
}

/*
 * The suite shares one log across its cases (a broker is expensive to start) and never assumes it
 * is empty: each case works on its own topic and group, named with a random suffix. Capabilities
 * are only known once makeLog resolves, so unsupported cases skip at run time with a reason
 * (ctx.skip) rather than with it.skipIf at collection time.
 */
export function runLogContract(name: string, makeLog: () => Promise<LogContractSubject>): void {
  describe(`Log contract: ${name}`, () => {
    let subject: LogContractSubject;
    let log: Log;

    beforeAll(async () => {
      subject = await makeLog();
      log = subject.log;
    });

    afterAll(async () => {
      await subject?.cleanup();
    });

    describe("topics", () => {
      it("ensureTopic creates a topic, persists its spec and is idempotent", async () => {
        const topic = uniqueName("create");
        const created = await log.ensureTopic({
          name: topic,
          partitions: 4,
          retention: { maxAgeMs: 86_400_000 },
        });
        expect(created.name).toBe(topic);
        expect(created.partitions).toBe(4);
        expect(created.retention.maxAgeMs).toBe(86_400_000);
        expect(created.offsets).toEqual(
          [0, 1, 2, 3].map((partition) => ({ partition, lowWatermark: 0, highWatermark: 0 })),
        );

        const again = await log.ensureTopic({
          name: topic,
          partitions: 4,
          retention: { maxAgeMs: 86_400_000 },
        });
        expect(again).toEqual(created);
        expect(await log.describeTopic(topic)).toEqual(created);
        const listed = (await log.listTopics()).find((t) => t.name === topic);
        expect(listed).toEqual(created);
      });

      it("ensureTopic with a different partition count is rejected and changes nothing", async () => {
        const topic = uniqueName("mismatch");
        await log.ensureTopic({ name: topic, partitions: 3 });
        const error = await rejection(log.ensureTopic({ name: topic, partitions: 5 }));
        expect(error).toBeInstanceOf(LogError);
        expect(error.code).toBe(LogErrorCode.topicExists);
        expect(error.message).toContain(topic);
        expect((await log.describeTopic(topic)).partitions).toBe(3);
      });

      it("unknown topics are rejected by every operation, naming the topic", async () => {
        const topic = uniqueName("missing");
        const attempts: Promise<unknown>[] = [
          log.describeTopic(topic),
          log.produce(topic, [{ key: null, value: Buffer.from("x") }]),
          log.fetch(topic, 0, 0),
          log.commit(uniqueName("group"), topic, [{ partition: 0, offset: 0 }]),
          log.committed(uniqueName("group"), topic),
        ];
        for (const attempt of attempts) {
          const error = await rejection(attempt);
          expect(error).toBeInstanceOf(LogError);
          expect(error.code).toBe(LogErrorCode.unknownTopic);
          expect(error.message).toContain(topic);
        }
      });
    });

    describe("produce", () => {
      it("returns one position per record, in order, with contiguous offsets per partition", async () => {
        const topic = uniqueName("positions");
        await log.ensureTopic({ name: topic, partitions: 3 });
        const records: ProduceRecord[] = Array.from({ length: 90 }, (_, i) => ({
          key: Buffer.from(`user-${i % 17}`),
          value: Buffer.from(`event-${i}`),
        }));
        const first = await log.produce(topic, records.slice(0, 40));
        const second = await log.produce(topic, records.slice(40));
        const positions = [...first, ...second];
        expect(positions).toHaveLength(90);

        const nextOffset = [0, 0, 0];
        positions.forEach((position, i) => {
          expect(position.partition).toBe(partitionForKey(records[i].key!, 3));
          expect(position.offset).toBe(nextOffset[position.partition]++);
        });
        const info = await log.describeTopic(topic);
        expect(info.offsets.map((o) => o.highWatermark)).toEqual(nextOffset);
        expect(info.offsets.map((o) => o.lowWatermark)).toEqual([0, 0, 0]);
      });

      it("places keys with Kafka's murmur2 default partitioner", async () => {
        const topic = uniqueName("murmur2");
        await log.ensureTopic({ name: topic, partitions: 6 });
        // toPositive(murmur2(key)) % 6, from the hashes in Kafka's UtilsTest.testMurmur2.
        const kafkaPlacement: Record<string, number> = {
          "21": 0,
          foobar: 0,
          "a-little-bit-long-string": 2,
          "a-little-bit-longer-string": 5,
          lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: 5,
          abc: 3,
        };
        const keys = [...Object.keys(kafkaPlacement), ...Array.from({ length: 50 }, (_, i) => `device-${i}`)];
        const positions = await log.produce(
          topic,
          keys.map((key) => ({ key: Buffer.from(key), value: null })),
        );
        keys.forEach((key, i) => {
          expect(positions[i].partition, key).toBe(partitionForKey(Buffer.from(key), 6));
          if (key in kafkaPlacement) expect(positions[i].partition, key).toBe(kafkaPlacement[key]);
        });
      });

      it("honours an explicit partition over the key", async () => {
        const topic = uniqueName("explicit");
        await log.ensureTopic({ name: topic, partitions: 6 });
        // "abc" hashes to partition 3; every record asks for another one.
        const positions = await log.produce(
          topic,
          [0, 1, 2, 4, 5, 5].map((partition) => ({ key: Buffer.from("abc"), value: null, partition })),
        );
        expect(positions).toEqual([
          { partition: 0, offset: 0 },
          { partition: 1, offset: 0 },
          { partition: 2, offset: 0 },
          { partition: 4, offset: 0 },
          { partition: 5, offset: 0 },
          { partition: 5, offset: 1 },
        ]);
      });

      it("spreads null-key records over partitions", async () => {
        const topic = uniqueName("nullkeys");
        await log.ensureTopic({ name: topic, partitions: 3 });
        const used = new Set<number>();
        for (let batch = 0; batch < 12; batch++) {
          const positions = await log.produce(
            topic,
            Array.from({ length: 5 }, () => ({ key: null, value: Buffer.from("v") })),
          );
          for (const position of positions) used.add(position.partition);
        }
        expect(used.size).toBeGreaterThan(1);
        const info = await log.describeTopic(topic);
        expect(info.offsets.reduce((sum, o) => sum + o.highWatermark, 0)).toBe(60);
      });

      it("rejects a bad partition and writes nothing of the batch", async () => {
        const topic = uniqueName("badpartition");
        await log.ensureTopic({ name: topic, partitions: 2 });
        for (const partition of [2, -1, 1.5]) {
          const error = await rejection(
            log.produce(topic, [
              { key: null, value: Buffer.from("ok"), partition: 0 },
              { key: null, value: Buffer.from("bad"), partition },
            ]),
          );
          expect(error).toBeInstanceOf(LogError);
          expect(error.code).toBe(LogErrorCode.badPartition);
          expect(error.message).toContain(topic);
        }
        const info = await log.describeTopic(topic);
        expect(info.offsets.map((o) => o.highWatermark)).toEqual([0, 0]);
      });

      it("appends calls made while earlier ones are pending in call order", async () => {
        const topic = uniqueName("pipelined");
        await log.ensureTopic({ name: topic, partitions: 2 });
        // Twenty calls at once, none awaited before the next, each one record on each partition.
        const calls = Array.from({ length: 20 }, (_, i) =>
          log.produce(
            topic,
            [0, 1].map((partition) => ({ key: null, value: Buffer.from(`${i}`), partition })),
          ),
        );
        const positions = await Promise.all(calls);
        for (const [i, pair] of positions.entries())
          expect(pair).toEqual([
            { partition: 0, offset: i },
            { partition: 1, offset: i },
          ]);
        for (const partition of [0, 1]) {
          const records = await log.fetch(topic, partition, 0, { maxRecords: 100 });
          expect(records.map((r) => Buffer.from(r.value!).toString())).toEqual(
            Array.from({ length: 20 }, (_, i) => `${i}`),
          );
        }
      });

      it("accepts an empty batch", async () => {
        const topic = uniqueName("empty");
        await log.ensureTopic({ name: topic, partitions: 1 });
        expect(await log.produce(topic, [])).toEqual([]);
      });
    });

    describe("fetch", () => {
      it("pages through every record exactly once with key, value, headers and timestamp intact", async () => {
        const topic = uniqueName("roundtrip");
        await log.ensureTopic({ name: topic, partitions: 3 });
        const beforeMs = Date.now();
        const records: ProduceRecord[] = Array.from({ length: 240 }, (_, i) => sampleRecord(i));
        const positions = [
          ...(await log.produce(topic, records.slice(0, 100))),
          ...(await log.produce(topic, records.slice(100, 101))),
          ...(await log.produce(topic, records.slice(101))),
        ];
        const afterMs = Date.now();

        const expected: LogRecord[][] = [[], [], []];
        positions.forEach((position, i) => {
          const record = records[i];
          expected[position.partition][position.offset] = {
            topic,
            partition: position.partition,
            offset: position.offset,
            key: record.key,
            value: record.value,
            headers: record.headers ?? {},
            timestampMs: record.timestampMs ?? -1,
          };
        });
        let total = 0;
        for (let partition = 0; partition < 3; partition++) {
          const fetched = await readAll(log, topic, partition, 0, 7);
          expect(fetched.map((r) => r.offset)).toEqual(expected[partition].map((_, offset) => offset));
          fetched.forEach((record, offset) => {
            const want = expected[partition][offset];
            if (want.timestampMs === -1) {
              expect(record.timestampMs).toBeGreaterThanOrEqual(beforeMs);
              expect(record.timestampMs).toBeLessThanOrEqual(afterMs);
              want.timestampMs = record.timestampMs;
            }
            expect(normalize(record)).toEqual(normalize(want));
          });
          total += fetched.length;
        }
        expect(total).toBe(240);
      });

      it("starts at the requested offset, honours maxRecords and returns nothing past the high watermark", async () => {
        const topic = uniqueName("offsets");
        await log.ensureTopic({ name: topic, partitions: 1 });
        await log.produce(
          topic,
          Array.from({ length: 30 }, (_, i) => ({ key: null, value: Buffer.from(String(i)), partition: 0 })),
        );
        const page = await log.fetch(topic, 0, 10, { maxRecords: 5 });
        expect(page.length).toBeGreaterThan(0);
        expect(page.length).toBeLessThanOrEqual(5);
        expect(page.map((r) => asBuffer(r.value!).toString())).toEqual(
          ["10", "11", "12", "13", "14"].slice(0, page.length),
        );
        expect((await readAll(log, topic, 0, 25, 100)).map((r) => r.offset)).toEqual([25, 26, 27, 28, 29]);
        expect(await log.fetch(topic, 0, 30)).toEqual([]);
        expect(await log.fetch(topic, 0, 1000)).toEqual([]);
      });

      it("rejects a bad partition", async () => {
        const topic = uniqueName("fetchbad");
        await log.ensureTopic({ name: topic, partitions: 2 });
        for (const partition of [2, -1]) {
          const error = await rejection(log.fetch(topic, partition, 0));
          expect(error).toBeInstanceOf(LogError);
          expect(error.code).toBe(LogErrorCode.badPartition);
          expect(error.message).toContain(topic);
        }
      });
    });

    describe("consumer groups", () => {
      it("commit stores the next offset per partition and committed returns it", async () => {
        const topic = uniqueName("commit");
        const group = uniqueName("group");
        await log.ensureTopic({ name: topic, partitions: 3 });
        await log.produce(
          topic,
          Array.from({ length: 12 }, (_, i) => ({ key: null, value: Buffer.from("x"), partition: i % 3 })),
        );
        expect(await log.committed(group, topic)).toEqual(new Map());
        await log.commit(group, topic, [
          { partition: 0, offset: 2 },
          { partition: 2, offset: 4 },
        ]);
        expect(await log.committed(group, topic)).toEqual(
          new Map([
            [0, 2],
            [2, 4],
          ]),
        );
        await log.commit(group, topic, [{ partition: 0, offset: 3 }]);
        expect((await log.committed(group, topic)).get(0)).toBe(3);
        expect(await log.committed(uniqueName("other"), topic)).toEqual(new Map());
      });

      it("commit rejects a bad partition", async () => {
        const topic = uniqueName("commitbad");
        await log.ensureTopic({ name: topic, partitions: 2 });
        const error = await rejection(log.commit(uniqueName("group"), topic, [{ partition: 7, offset: 0 }]));
        expect(error).toBeInstanceOf(LogError);
        expect(error.code).toBe(LogErrorCode.badPartition);
      });

      it("lag reports high watermark minus committed per partition, for one group or all", async () => {
        const topic = uniqueName("lag");
        const group = uniqueName("group");
        await log.ensureTopic({ name: topic, partitions: 3 });
        // 5, 3 and 0 records in partitions 0, 1, 2.
        await log.produce(topic, [
          ...Array.from({ length: 5 }, () => ({ key: null, value: Buffer.from("a"), partition: 0 })),
          ...Array.from({ length: 3 }, () => ({ key: null, value: Buffer.from("b"), partition: 1 })),
        ]);
        await log.commit(group, topic, [{ partition: 0, offset: 2 }]);

        const lags = await log.lag(group);
        expect(lags).toHaveLength(1);
        expect(lags[0]).toEqual({
          group,
          topic,
          partitions: [
            { partition: 0, committed: 2, highWatermark: 5, lag: 3 },
            { partition: 1, committed: null, highWatermark: 3, lag: 3 },
            { partition: 2, committed: null, highWatermark: 0, lag: 0 },
          ],
          totalLag: 6,
        });
        const everyGroup = await log.lag();
        expect(everyGroup.find((l) => l.group === group && l.topic === topic)).toEqual(lags[0]);

        await log.commit(group, topic, [
          { partition: 0, offset: 5 },
          { partition: 1, offset: 3 },
        ]);
        expect((await log.lag(group))[0].totalLag).toBe(0);
      });
    });

    describe("retention", () => {
      it("enforceRetention drops records older than maxAgeMs, as a prefix", async (ctx) => {
        ctx.skip(
          !subject.capabilities?.retentionNow,
          "this log applies retention asynchronously (retentionNow)",
        );
        const topic = uniqueName("age");
        const nowMs = Date.now();
        await log.ensureTopic({ name: topic, partitions: 2, retention: { maxAgeMs: 60_000 } });
        await log.produce(topic, [
          ...Array.from({ length: 10 }, (_, i) => ({
            key: null,
            value: Buffer.from(`old-${i}`),
            partition: 0,
            timestampMs: nowMs - 3_600_000 + i,
          })),
          ...Array.from({ length: 5 }, (_, i) => ({
            key: null,
            value: Buffer.from(`new-${i}`),
            partition: 0,
            timestampMs: nowMs - 1_000 + i,
          })),
          { key: null, value: Buffer.from("fresh"), partition: 1, timestampMs: nowMs },
        ]);
        expect(await log.enforceRetention(nowMs)).toBeGreaterThanOrEqual(10);
        const info = await log.describeTopic(topic);
        expect(info.offsets).toEqual([
          { partition: 0, lowWatermark: 10, highWatermark: 15 },
          { partition: 1, lowWatermark: 0, highWatermark: 1 },
        ]);
        const kept = await readAll(log, topic, 0, 0, 100);
        expect(kept.map((r) => asBuffer(r.value!).toString())).toEqual([
          "new-0",
          "new-1",
          "new-2",
          "new-3",
          "new-4",
        ]);
        expect(kept[0].offset).toBe(10);
      });

      it("enforceRetention keeps each partition under maxSizeBytes, dropping the oldest", async (ctx) => {
        ctx.skip(
          !subject.capabilities?.retentionNow,
          "this log applies retention asynchronously (retentionNow)",
        );
        const topic = uniqueName("size");
        await log.ensureTopic({ name: topic, partitions: 1, retention: { maxSizeBytes: 1_000 } });
        // 20 records of exactly 100 bytes (no key, no headers): 2000 bytes, so the oldest 10 must go.
        await log.produce(
          topic,
          Array.from({ length: 20 }, (_, i) => ({ key: null, value: Buffer.alloc(100, i), partition: 0 })),
        );
        await log.enforceRetention();
        const info = await log.describeTopic(topic);
        expect(info.offsets).toEqual([{ partition: 0, lowWatermark: 10, highWatermark: 20 }]);
        const kept = await readAll(log, topic, 0, 0, 100);
        expect(kept.map((r) => r.value![0])).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
        // A second pass finds nothing more to do on this topic.
        await log.enforceRetention();
        expect((await log.describeTopic(topic)).offsets[0].lowWatermark).toBe(10);
      });
    });

    describe("close", () => {
      it("is idempotent, and later calls fail with PULSE_LOG_CLOSED", async () => {
        const own = await makeLog();
        try {
          const topic = uniqueName("closed");
          await own.log.ensureTopic({ name: topic, partitions: 1 });
          await own.log.close();
          await own.log.close();
          for (const attempt of [
            own.log.produce(topic, [{ key: null, value: null }]),
            own.log.fetch(topic, 0, 0),
            own.log.describeTopic(topic),
          ]) {
            const error = await rejection(attempt);
            expect(error).toBeInstanceOf(LogError);
            expect(error.code).toBe(LogErrorCode.closed);
          }
        } finally {
          await own.cleanup();
        }
      });
    });
  });
}

function uniqueName(purpose: string): string {
  return `contract-${purpose}-${randomBytes(5).toString("hex")}`;
}

/** The rejection of a promise that must fail, typed for assertions. */
async function rejection(promise: Promise<unknown>): Promise<LogError> {
  try {
    await promise;
  } catch (error) {
    return error as LogError;
  }
  throw new Error("expected the operation to be rejected, but it succeeded");
}

/** Every record of a partition from `from` up to its high watermark, in pages of at most `pageSize`. */
async function readAll(log: Log, topic: string, partition: number, from: number, pageSize: number) {
  const { highWatermark } = (await log.describeTopic(topic)).offsets[partition];
  const records: LogRecord[] = [];
  let offset = from;
  // A remote log may return short or empty pages; bound the attempts instead of the page count.
  for (let attempts = 0; offset < highWatermark && attempts < 10_000; attempts++) {
    const page = await log.fetch(topic, partition, offset, { maxRecords: pageSize });
    expect(page.length).toBeLessThanOrEqual(pageSize);
    for (const record of page) {
      expect(record.topic).toBe(topic);
      expect(record.partition).toBe(partition);
      records.push(record);
    }
    if (page.length > 0) offset = page[page.length - 1].offset + 1;
  }
  return records;
}

/** Varied records: null and empty keys and values, binary and empty headers, explicit and default timestamps. */
function sampleRecord(i: number): ProduceRecord {
  const record: ProduceRecord = {
    key: i % 11 === 0 ? null : i % 13 === 0 ? Buffer.alloc(0) : Buffer.from(`key-${i % 23}`),
    value: i % 7 === 0 ? null : i % 19 === 0 ? Buffer.alloc(0) : randomBytes(1 + (i % 300)),
  };
  if (i % 3 === 0) {
    record.headers = {
      "content-type": Buffer.from("application/octet-stream"),
      binary: Buffer.from([0, 1, 2, 255, 254, 0]),
      empty: Buffer.alloc(0),
      [`n${i}`]: Buffer.from(String(i)),
    };
  }
  if (i % 2 === 0) record.timestampMs = 1_700_000_000_000 + i * 1_000;
  if (i % 11 === 0) record.partition = i % 3;
  return record;
}

/** Compares buffers by content (an implementation may return views or Uint8Array subclasses). */
function normalize(record: LogRecord) {
  const hex = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString("hex"));
  return {
    ...record,
    key: hex(record.key),
    value: hex(record.value),
    headers: Object.fromEntries(
      Object.entries(record.headers)
        .map(([name, value]) => [name, hex(value)] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  };
}
