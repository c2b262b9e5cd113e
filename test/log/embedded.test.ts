// EmbeddedLog: the Log contract over temp SQLite files, plus persistence, retention and multi-process sharing.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { LogError, LogErrorCode } from "../../src/errors.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import type { Log, LogRecord } from "../../src/log/index.ts";
import { partitionForKey } from "../../src/log/partitioner.ts";
import { runLogContract } from "../conformance/log.ts";
import { matchesRecord, parseRecord } from "./fixtures/records.ts";
import { type Schema1Record, schema1RecordBytes, writeSchema1File } from "./fixtures/schema-1.ts";
import { asBuffer } from "../../src/bytes.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PRODUCER_SCRIPT = fileURLToPath(new URL("./fixtures/producer.ts", import.meta.url));
const MULTI_PROCESS_TIMEOUT_MS = 180_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "pulse-log-"));
}

runLogContract("EmbeddedLog", async () => {
  const dir = tempDir();
  // A nested path also checks that open creates parent folders.
  const log = EmbeddedLog.open({ path: join(dir, "nested", "log.db") });
  return {
    log,
    capabilities: { retentionNow: true },
    cleanup: async () => {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("EmbeddedLog", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A fresh log file in its own temp folder, closed and removed after the test. */
  function openTemp(synchronous?: "FULL" | "NORMAL"): { log: EmbeddedLog; path: string } {
    const dir = tempDir();
    const path = join(dir, "log.db");
    const log = EmbeddedLog.open({ path, synchronous });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => log.close());
    return { log, path };
  }

  /** A fixture producer process, SIGKILLed after the test if it is still running (e.g. on a failure). */
  function startProducer(path: string, topic: string, producer: string, total: number, batchSize: number) {
    const child = spawnProducer(path, topic, producer, total, batchSize);
    cleanups.push(() => {
      if (!child.isDone()) child.process.kill("SIGKILL");
    });
    return child;
  }

  function reopen(path: string): EmbeddedLog {
    const log = EmbeddedLog.open({ path });
    cleanups.push(() => log.close());
    return log;
  }

  it("keeps topics, retention, records and committed offsets across a reopen", async () => {
    const { log, path } = openTemp("FULL");
    const info = await log.ensureTopic({
      name: "events",
      partitions: 4,
      retention: { maxSizeBytes: 1 << 30 },
    });
    const produced = await log.produce(
      "events",
      Array.from({ length: 100 }, (_, i) => ({
        key: Buffer.from(`k${i}`),
        value: Buffer.from(`v${i}`),
        headers: { i: Buffer.from([i]) },
      })),
    );
    await log.commit("readers", "events", [{ partition: 1, offset: 3 }]);
    const before = await readPartitions(log, "events", 4);
    await log.close();

    const again = reopen(path);
    const described = await again.describeTopic("events");
    expect(described.retention).toEqual({ maxSizeBytes: 1 << 30 });
    expect(described.offsets).toEqual(
      info.offsets.map((o) => ({
        ...o,
        highWatermark: produced.filter((p) => p.partition === o.partition).length,
      })),
    );
    expect(await readPartitions(again, "events", 4)).toEqual(before);
    expect(await again.committed("readers", "events")).toEqual(new Map([[1, 3]]));
    // Appends continue from the stored high watermark.
    const [next] = await again.produce("events", [{ key: null, value: null, partition: 2 }]);
    expect(next).toEqual({ partition: 2, offset: described.offsets[2].highWatermark });
  });

  it("updates a topic's retention when ensureTopic passes a new one", async () => {
    const { log } = openTemp();
    await log.ensureTopic({ name: "t", partitions: 2, retention: { maxAgeMs: 1000 } });
    expect((await log.ensureTopic({ name: "t", partitions: 2 })).retention).toEqual({ maxAgeMs: 1000 });
    const updated = await log.ensureTopic({ name: "t", partitions: 2, retention: { maxSizeBytes: 5000 } });
    expect(updated.retention).toEqual({ maxSizeBytes: 5000 });
  });

  it("rejects invalid topic specs and record fields with PULSE_LOG_BAD_ARGUMENT", async () => {
    const { log } = openTemp();
    for (const spec of [
      { name: "has space", partitions: 1 },
      { name: "", partitions: 1 },
      { name: "ok", partitions: 0 },
      { name: "ok", partitions: 2.5 },
      { name: "ok", partitions: 1, retention: { maxAgeMs: -1 } },
    ]) {
      await expect(log.ensureTopic(spec)).rejects.toMatchObject({ code: LogErrorCode.badArgument });
    }
    await log.ensureTopic({ name: "ok", partitions: 1 });
    const notBytes = { key: null, value: "text" as unknown as Buffer };
    await expect(log.produce("ok", [notBytes])).rejects.toMatchObject({ code: LogErrorCode.badArgument });
    await expect(log.fetch("ok", 0, -1)).rejects.toMatchObject({ code: LogErrorCode.badArgument });
    await expect(log.fetch("ok", 0, 0, { maxRecords: 0 })).rejects.toMatchObject({
      code: LogErrorCode.badArgument,
    });
    expect((await log.describeTopic("ok")).offsets[0].highWatermark).toBe(0);
  });

  it("puts each batch's null-key records on one partition and moves on each batch", async () => {
    const { log } = openTemp();
    await log.ensureTopic({ name: "nulls", partitions: 4 });
    const batchPartitions: number[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const positions = await log.produce(
        "nulls",
        Array.from({ length: 10 }, () => ({ key: null, value: Buffer.from("x") })),
      );
      expect(new Set(positions.map((p) => p.partition)).size).toBe(1);
      batchPartitions.push(positions[0].partition);
    }
    for (let i = 1; i < batchPartitions.length; i++) {
      expect(batchPartitions[i]).toBe((batchPartitions[i - 1] + 1) % 4);
    }
  });

  // Regression: the end bound of partition 1023 carried into the topic bits, so fetch found nothing there
  // for topics with an odd id.
  it("reads the last partition (1023) of a topic with an odd id", async () => {
    const { log } = openTemp();
    await log.ensureTopic({ name: "odd-id", partitions: 1024 });
    await log.ensureTopic({ name: "even-id", partitions: 1024 });
    for (const topic of ["odd-id", "even-id"]) {
      await log.produce(topic, [{ key: null, value: Buffer.from(topic), partition: 1023 }]);
      const records = await log.fetch(topic, 1023, 0);
      expect(records.map((r) => (r.value === null ? undefined : asBuffer(r.value).toString()))).toEqual([
        topic,
      ]);
    }
  });

  it("produces and reads back batches larger than the reused scratch space", async () => {
    const { log } = openTemp();
    await log.ensureTopic({ name: "big", partitions: 6 });
    const records = Array.from({ length: 5_000 }, (_, i) => ({
      key: Buffer.from(`user-${i}`),
      value: Buffer.from(`value-${i}`),
    }));
    const positions = await log.produce("big", records);
    const byPartition = await readPartitions(log, "big", 6);
    positions.forEach((position, i) => {
      expect(position.partition).toBe(partitionForKey(records[i].key, 6));
      expect(byPartition[position.partition][position.offset].value).toEqual(
        records[i].value.toString("hex"),
      );
    });
  });

  describe("retention", () => {
    it("deletes by age across many bounded batches and returns the exact count", async () => {
      const { log } = openTemp();
      const nowMs = 1_800_000_000_000;
      await log.ensureTopic({ name: "aged", partitions: 2, retention: { maxAgeMs: 60_000 } });
      await log.ensureTopic({ name: "forever", partitions: 1 });
      // 4500 expired records (more than one retention batch) then 500 live ones, on partition 0.
      await log.produce(
        "aged",
        Array.from({ length: 5_000 }, (_, i) => ({
          key: null,
          value: Buffer.from(String(i)),
          partition: 0,
          timestampMs: i < 4_500 ? nowMs - 120_000 : nowMs - 1_000,
        })),
      );
      await log.produce("aged", [{ key: null, value: null, partition: 1, timestampMs: nowMs - 61_000 }]);
      await log.produce("forever", [{ key: null, value: null, timestampMs: 0 }]);

      expect(await log.enforceRetention(nowMs)).toBe(4_501);
      expect((await log.describeTopic("aged")).offsets).toEqual([
        { partition: 0, lowWatermark: 4_500, highWatermark: 5_000 },
        { partition: 1, lowWatermark: 1, highWatermark: 1 },
      ]);
      expect((await log.describeTopic("forever")).offsets[0].lowWatermark).toBe(0);
      const first = await log.fetch("aged", 0, 0, { maxRecords: 1 });
      expect(first.map((r) => [r.offset, asBuffer(r.value!).toString()])).toEqual([[4_500, "4500"]]);
      expect(await log.enforceRetention(nowMs)).toBe(0);
      // An emptied partition keeps its offsets: the next record follows the high watermark.
      expect(await log.produce("aged", [{ key: null, value: null, partition: 1 }])).toEqual([
        { partition: 1, offset: 1 },
      ]);
    });

    it("keeps a prefix: a young record shields older ones behind it, so offsets stay gap-free", async () => {
      const { log } = openTemp();
      const nowMs = 1_800_000_000_000;
      await log.ensureTopic({ name: "mixed", partitions: 1, retention: { maxAgeMs: 1_000 } });
      const ages = [5_000, 5_000, 10, 5_000, 10];
      await log.produce(
        "mixed",
        ages.map((age) => ({ key: null, value: null, timestampMs: nowMs - age })),
      );
      expect(await log.enforceRetention(nowMs)).toBe(2);
      expect((await log.fetch("mixed", 0, 0)).map((r) => r.offset)).toEqual([2, 3, 4]);
    });

    it("deletes by size counting key, value and header bytes, keeping the newest", async () => {
      const { log } = openTemp();
      await log.ensureTopic({ name: "sized", partitions: 1, retention: { maxSizeBytes: 100_000 } });
      // Each record: 10-byte key + 90-byte value + headers {h: 3 bytes} encoded as 1+1+1+1+3 = 7 bytes.
      const records = Array.from({ length: 5_000 }, (_, i) => ({
        key: Buffer.from(String(i).padStart(10, "0")),
        value: Buffer.alloc(90, i % 256),
        headers: { h: Buffer.from("abc") },
      }));
      await log.produce("sized", records);
      const keep = Math.floor(100_000 / 107);
      expect(await log.enforceRetention()).toBe(5_000 - keep);
      const info = await log.describeTopic("sized");
      expect(info.offsets[0]).toEqual({ partition: 0, lowWatermark: 5_000 - keep, highWatermark: 5_000 });
      const kept = await log.fetch("sized", 0, 0, { maxRecords: 10_000 });
      expect(kept).toHaveLength(keep);
      expect(asBuffer(kept[0].key!).toString()).toBe(String(5_000 - keep).padStart(10, "0"));
      expect(kept[0].headers).toEqual({ h: Buffer.from("abc") });
    });

    it("deletes whole batch rows by max timestamp, rewrites the row the prefix ends in, and keeps rows tiling", async () => {
      const { log, path } = openTemp();
      const nowMs = 1_800_000_000_000;
      await log.ensureTopic({ name: "batched", partitions: 1, retention: { maxAgeMs: 260_000 } });
      // Five rows of 100 records; record i of row b is nowMs − 500 s + b·100 s + i s old.
      for (let b = 0; b < 5; b++) {
        await log.produce(
          "batched",
          Array.from({ length: 100 }, (_, i) => ({
            key: null,
            value: Buffer.alloc(100, b),
            partition: 0,
            timestampMs: nowMs - 500_000 + b * 100_000 + i * 1_000,
          })),
        );
      }
      // The cutoff (nowMs − 260 s) falls at record 40 of row 2.
      expect(await log.enforceRetention(nowMs)).toBe(240);
      expect(batchRows(path, "batched").batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([
        [240, 60],
        [300, 100],
        [400, 100],
      ]);
      await expectTiled(log, path, "batched");
      const kept = await log.fetch("batched", 0, 0, { maxRecords: 3 });
      expect(kept.map((r) => [r.offset, r.timestampMs])).toEqual(
        [240, 241, 242].map((o) => [o, nowMs - 500_000 + o * 1_000]),
      );
      expect((await log.fetch("batched", 0, 250, { maxRecords: 100 })).map((r) => r.offset)).toEqual(
        Array.from({ length: 100 }, (_, i) => 250 + i),
      );
      expect(await log.enforceRetention(nowMs)).toBe(0);

      // 260 records of 100 bytes are left; 15,050 bytes keep the newest 150.
      await log.ensureTopic({ name: "batched", partitions: 1, retention: { maxSizeBytes: 15_050 } });
      expect(await log.enforceRetention(nowMs)).toBe(110);
      expect(batchRows(path, "batched").batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([
        [350, 50],
        [400, 100],
      ]);
      await expectTiled(log, path, "batched");
      expect((await log.fetch("batched", 0, 0, { maxRecords: 1 }))[0].offset).toBe(350);
    });

    it("works through more batch rows than one retention transaction takes", async () => {
      const { log, path } = openTemp();
      const nowMs = 1_800_000_000_000;
      await log.ensureTopic({ name: "many", partitions: 1, retention: { maxAgeMs: 1_000 } });
      for (let b = 0; b < 100; b++) {
        await log.produce(
          "many",
          Array.from({ length: 10 }, () => ({
            key: null,
            value: Buffer.from("x"),
            timestampMs: nowMs - 5_000,
          })),
        );
      }
      await log.produce("many", [{ key: null, value: Buffer.from("young"), timestampMs: nowMs }]);
      expect(await log.enforceRetention(nowMs)).toBe(1_000);
      expect(batchRows(path, "many").batches.map((b) => [b.baseOffset, b.recordCount])).toEqual([[1_000, 1]]);
      await expectTiled(log, path, "many");
    });

    it("applies age and size together", async () => {
      const { log } = openTemp();
      const nowMs = 1_800_000_000_000;
      await log.ensureTopic({
        name: "both",
        partitions: 1,
        retention: { maxAgeMs: 1_000, maxSizeBytes: 300 },
      });
      await log.produce(
        "both",
        Array.from({ length: 10 }, (_, i) => ({
          key: null,
          value: Buffer.alloc(100),
          timestampMs: i < 2 ? nowMs - 5_000 : nowMs,
        })),
      );
      // Age drops 2; size then keeps the newest 3 of the remaining 8.
      expect(await log.enforceRetention(nowMs)).toBe(7);
      expect((await log.describeTopic("both")).offsets[0].lowWatermark).toBe(7);
    });
  });

  describe("batch rows", () => {
    it("fetches from any offset, mid-batch included, exactly min(maxRecords, what is left) records", async () => {
      const { log, path } = openTemp();
      await log.ensureTopic({ name: "pages", partitions: 2 });
      const sizes = [1, 7, 50, 3, 120, 1];
      let seq = 0;
      for (const size of sizes) {
        await log.produce(
          "pages",
          Array.from({ length: size }, () => ({
            key: null,
            value: Buffer.from(String(seq++)),
            partition: 1,
          })),
        );
      }
      expect(batchRows(path, "pages").batches.map((b) => b.recordCount)).toEqual(sizes);
      const total = seq;
      for (let offset = 0; offset <= total + 1; offset++) {
        for (const maxRecords of [1, 2, 7, 51, 500]) {
          const page = await log.fetch("pages", 1, offset, { maxRecords });
          const want = Array.from(
            { length: Math.max(0, Math.min(maxRecords, total - offset)) },
            (_, i) => offset + i,
          );
          expect(
            page.map((r) => r.offset),
            `offset ${offset} maxRecords ${maxRecords}`,
          ).toEqual(want);
          expect(page.map((r) => Number(asBuffer(r.value!).toString()))).toEqual(want);
        }
      }
      expect(await log.fetch("pages", 0, 0)).toEqual([]);
    });

    it("stores one row per partition per produce, and splits a partition's records past about 1 MiB", async () => {
      const { log, path } = openTemp();
      await log.ensureTopic({ name: "rows", partitions: 3 });
      const positions = await log.produce(
        "rows",
        Array.from({ length: 600 }, (_, i) => ({
          key: Buffer.from(`user-${i}`),
          value: Buffer.from(`v${i}`),
        })),
      );
      const touched = new Set(positions.map((p) => p.partition));
      expect(batchRows(path, "rows").batches.map((b) => b.partition)).toEqual([...touched].sort());

      const large = Array.from({ length: 12 }, (_, i) => ({
        key: null,
        value: Buffer.alloc(200_000, i),
        partition: 2,
      }));
      const [first] = await log.produce("rows", large);
      const rows = batchRows(path, "rows").batches.filter((b) => b.partition === 2);
      expect(rows.slice(-3).map((b) => [b.baseOffset - first.offset, b.recordCount])).toEqual([
        [0, 5],
        [5, 5],
        [10, 2],
      ]);
      const read: number[] = [];
      for (let offset = first.offset; ; ) {
        const page = await log.fetch("rows", 2, offset, { maxRecords: 4 });
        if (page.length === 0) break;
        for (const record of page) read.push(record.value![0]);
        expect(page.every((r) => r.value!.length === 200_000)).toBe(true);
        offset = page[page.length - 1].offset + 1;
      }
      expect(read).toEqual(large.map((_, i) => i));
      await expectTiled(log, path, "rows");
    });

    // Regression: offsets bound as REAL were added to batch ids in floating point, which cannot hold an
    // id above 2^53 exactly, so fetch and retention missed batches of topic ids 16 and up.
    it("keeps positions exact for topics whose batch ids pass 2^53", async () => {
      const { log, path } = openTemp();
      for (let t = 1; t <= 20; t++) await log.ensureTopic({ name: `topic-${t}`, partitions: 1024 });
      const nowMs = 1_800_000_000_000;
      for (const t of [16, 20]) {
        const topic = `topic-${t}`;
        for (let b = 0; b < 2; b++) {
          await log.produce(
            topic,
            Array.from({ length: 50 }, (_, i) => ({
              key: null,
              value: Buffer.from(String(b * 50 + i)),
              partition: 1023,
              timestampMs: nowMs - 100_000 + (b * 50 + i) * 1_000,
            })),
          );
        }
        const page = await log.fetch(topic, 1023, 47, { maxRecords: 5 });
        expect(page.map((r) => [r.offset, asBuffer(r.value!).toString()])).toEqual(
          [47, 48, 49, 50, 51].map((o) => [o, String(o)]),
        );
        await log.ensureTopic({ name: topic, partitions: 1024, retention: { maxAgeMs: 30_000 } });
      }
      // Records older than nowMs − 30 s are offsets 0-69 of each topic.
      expect(await log.enforceRetention(nowMs)).toBe(140);
      for (const t of [16, 20]) {
        expect((await log.describeTopic(`topic-${t}`)).offsets[1023]).toEqual({
          partition: 1023,
          lowWatermark: 70,
          highWatermark: 100,
        });
        expect((await log.fetch(`topic-${t}`, 1023, 0, { maxRecords: 2 })).map((r) => r.offset)).toEqual([
          70, 71,
        ]);
        await expectTiled(log, path, `topic-${t}`);
      }
    });
  });

  describe("schema upgrade", () => {
    it("converts a schema-1 file (one row per record) in place, keeping every record, watermark and commit", async () => {
      const dir = tempDir();
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, "log.db");
      const record = (i: number): Schema1Record => ({
        key: i % 4 === 0 ? null : Buffer.from(`key-${i % 13}`),
        value: i % 9 === 0 ? null : Buffer.from(`value-${i}`),
        headers: i % 3 === 0 ? { source: Buffer.from("old"), n: Buffer.from([i & 255]) } : undefined,
        timestampMs: 1_700_000_000_000 + i * 10,
      });
      // Topic 17's record ids pass 2^53; 12,001 records take more than one read page while converting.
      const big = Array.from({ length: 12_001 }, (_, i) => record(i));
      const small = [record(1), record(2)];
      writeSchema1File(path, {
        topics: [
          {
            id: 1,
            name: "first",
            partitions: [
              { lowWatermark: 0, records: small },
              { lowWatermark: 5, records: [] },
            ],
          },
          {
            id: 17,
            name: "later",
            retention: { maxSizeBytes: 1 << 30 },
            partitions: [
              { lowWatermark: 0, records: [] },
              { lowWatermark: 300, records: big },
            ],
          },
        ],
        groupOffsets: [{ group: "readers", topicId: 17, partition: 1, nextOffset: 400 }],
      });

      const log = reopen(path);
      expect(await log.listTopics()).toEqual([
        {
          name: "first",
          partitions: 2,
          retention: {},
          offsets: [
            { partition: 0, lowWatermark: 0, highWatermark: 2 },
            { partition: 1, lowWatermark: 5, highWatermark: 5 },
          ],
        },
        {
          name: "later",
          partitions: 2,
          retention: { maxSizeBytes: 1 << 30 },
          offsets: [
            { partition: 0, lowWatermark: 0, highWatermark: 0 },
            { partition: 1, lowWatermark: 300, highWatermark: 12_301 },
          ],
        },
      ]);
      const comparable = (r: Schema1Record | LogRecord) => ({
        key: r.key === null ? null : asBuffer(r.key).toString("hex"),
        value: r.value === null ? null : asBuffer(r.value).toString("hex"),
        headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, v.toString("hex")])),
        timestampMs: r.timestampMs,
      });
      const laterRecords = (await readAllRecords(log, "later", 2))[1];
      expect(laterRecords.map((r) => r.offset)).toEqual(big.map((_, i) => 300 + i));
      expect(laterRecords.map(comparable)).toEqual(big.map(comparable));
      expect((await log.fetch("first", 0, 0)).map(comparable)).toEqual(small.map(comparable));
      expect(await log.committed("readers", "later")).toEqual(new Map([[1, 400]]));
      expect((await log.lag("readers"))[0].totalLag).toBe(12_301 - 400);

      const rows = batchRows(path, "later");
      expect(rows.userVersion).toBe(3);
      expect(rows.tables).not.toContain("records");
      expect(rows.batches.map((b) => b.recordCount)).toEqual([...Array(12).fill(1000), 1]);
      expect(rows.partitionBytes[1]).toBe(big.reduce((sum, r) => sum + schema1RecordBytes(r), 0));
      await expectTiled(log, path, "later");
      await expectTiled(log, path, "first");
      expect(await log.produce("later", [{ key: null, value: null, partition: 1 }])).toEqual([
        { partition: 1, offset: 12_301 },
      ]);
      // Opening the converted file again changes nothing.
      await log.close();
      expect((await reopen(path).describeTopic("later")).offsets[1].highWatermark).toBe(12_302);
    });

    it("refuses a schema-1 file it cannot convert with PULSE_LOG_STORAGE, says what to do, and changes nothing", () => {
      const dir = tempDir();
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, "log.db");
      const records = [0, 1, 2].map((i) => ({ key: null, value: Buffer.from([i]), timestampMs: i }));
      writeSchema1File(path, {
        topics: [{ id: 1, name: "damaged", partitions: [{ lowWatermark: 0, records }] }],
        // A header count of 5 with no headers after it.
        rawHeaders: { topicId: 1, partition: 0, offset: 1, bytes: Buffer.from([5]) },
      });
      let error: unknown;
      try {
        EmbeddedLog.open({ path });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LogError);
      expect((error as LogError).code).toBe(LogErrorCode.storage);
      expect((error as LogError).message).toContain(path);
      expect((error as LogError).message).toContain("schema-1 layout");
      expect((error as LogError).message).toContain("Nothing was changed");
      expect((error as LogError).message).toContain("remove the file");
      const db = new Database(path, { readonly: true });
      try {
        expect(db.pragma("user_version", { simple: true })).toBe(1);
        expect(db.prepare("SELECT count(*) FROM records").pluck().get()).toBe(3);
        expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'batches'").pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    });

    it("refuses a file written by a newer schema with PULSE_LOG_BAD_ARGUMENT", () => {
      const dir = tempDir();
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, "log.db");
      const db = new Database(path);
      db.pragma("user_version = 99");
      db.close();
      expect(() => EmbeddedLog.open({ path })).toThrow(
        expect.objectContaining({
          code: LogErrorCode.badArgument,
          message: expect.stringContaining("upgrade Pulse"),
        }),
      );
    });
  });

  describe("shared by several OS processes", () => {
    it(
      "a child producer and this process consuming concurrently see every record exactly once, in order",
      async () => {
        const { log, path } = openTemp();
        await log.ensureTopic({ name: "shared", partitions: 6 });
        const total = 50_000;
        const child = startProducer(path, "shared", "solo", total, 500);

        const nextOffset = [0, 0, 0, 0, 0, 0];
        const lastSeq = [-1, -1, -1, -1, -1, -1];
        const seen = new Uint8Array(total);
        for (;;) {
          const childDone = child.isDone();
          let progressed = false;
          for (let partition = 0; partition < 6; partition++) {
            const page = await log.fetch("shared", partition, nextOffset[partition], { maxRecords: 1000 });
            if (page.length === 0) continue;
            progressed = true;
            for (const record of page) {
              expect(record.offset).toBe(nextOffset[partition]++);
              const { producer, seq } = parseRecord(record);
              expect(producer).toBe("solo");
              expect(seq).toBeGreaterThan(lastSeq[partition]);
              lastSeq[partition] = seq;
              expect(matchesRecord(record, "solo", seq)).toBe(true);
              expect(partitionForKey(record.key!, 6)).toBe(partition);
              seen[seq]++;
            }
            await log.commit("checker", "shared", [{ partition, offset: nextOffset[partition] }]);
          }
          if (!progressed) {
            if (childDone) break;
            await sleep(10);
          }
        }

        expect(await child.exitCode).toBe(0);
        expect(child.acks.length).toBe(total / 500);
        expect(seen.every((count) => count === 1)).toBe(true);
        const info = await log.describeTopic("shared");
        expect(info.offsets.map((o) => o.highWatermark)).toEqual(nextOffset);
        const committed = await log.committed("checker", "shared");
        expect([...committed.entries()].sort((a, b) => a[0] - b[0]).map(([, offset]) => offset)).toEqual(
          nextOffset,
        );
        expect((await log.lag("checker"))[0].totalLag).toBe(0);
      },
      MULTI_PROCESS_TIMEOUT_MS,
    );

    it(
      "two concurrent producer processes get distinct, gap-free offsets",
      async () => {
        const { log, path } = openTemp();
        await log.ensureTopic({ name: "pair", partitions: 3 });
        const perProducer = 20_000;
        const children = [
          startProducer(path, "pair", "left", perProducer, 250),
          startProducer(path, "pair", "right", perProducer, 250),
        ];
        expect(await Promise.all(children.map((c) => c.exitCode))).toEqual([0, 0]);

        const byPartition = await readAllRecords(log, "pair", 3);
        const seen = new Map<string, number>();
        let total = 0;
        byPartition.forEach((records, partition) => {
          const lastSeq = new Map<string, number>();
          records.forEach((record, index) => {
            expect(record.offset).toBe(index);
            const { producer, seq } = parseRecord(record);
            expect(matchesRecord(record, producer, seq)).toBe(true);
            expect(partitionForKey(record.key!, 3)).toBe(partition);
            expect(seq).toBeGreaterThan(lastSeq.get(producer) ?? -1);
            lastSeq.set(producer, seq);
            const id = `${producer}:${seq}`;
            seen.set(id, (seen.get(id) ?? 0) + 1);
          });
          total += records.length;
        });
        expect(total).toBe(2 * perProducer);
        expect(seen.size).toBe(2 * perProducer);
        expect([...seen.values()].every((count) => count === 1)).toBe(true);
        // Each acknowledged position names a record of that producer.
        for (const [index, child] of children.entries()) {
          const producer = index === 0 ? "left" : "right";
          for (const ack of child.acks) {
            const record = byPartition[ack.partition][ack.offset];
            expect(parseRecord(record)).toEqual({ producer, seq: ack.seq });
          }
        }
      },
      MULTI_PROCESS_TIMEOUT_MS,
    );

    it(
      "SIGKILL mid-run loses no acknowledged record and leaves offsets contiguous",
      async () => {
        const { log, path } = openTemp();
        await log.ensureTopic({ name: "killed", partitions: 4 });
        await log.close();
        const batchSize = 200;
        const child = startProducer(path, "killed", "victim", 100_000_000, batchSize);
        await child.waitForAcks(25);
        child.process.kill("SIGKILL");
        await child.exited;
        expect(child.process.signalCode).toBe("SIGKILL");
        const acked = child.acks.length;
        expect(acked).toBeGreaterThanOrEqual(25);
        const lastAckedSeq = child.acks[acked - 1].seq;

        const recovered = reopen(path);
        const byPartition = await readAllRecords(recovered, "killed", 4);
        const seqs: number[] = [];
        byPartition.forEach((records, partition) => {
          let lastSeq = -1;
          records.forEach((record, index) => {
            expect(record.offset).toBe(index);
            const { producer, seq } = parseRecord(record);
            expect(producer).toBe("victim");
            expect(matchesRecord(record, "victim", seq)).toBe(true);
            expect(partitionForKey(record.key!, 4)).toBe(partition);
            expect(seq).toBeGreaterThan(lastSeq);
            lastSeq = seq;
            seqs.push(seq);
          });
        });
        // Batches commit whole and in order: what survived is seqs 0..n-1 for whole batches, n past every ack.
        seqs.sort((a, b) => a - b);
        expect(seqs.length).toBeGreaterThan(lastAckedSeq);
        expect(seqs.length % batchSize).toBe(0);
        expect(seqs.every((seq, i) => seq === i)).toBe(true);
        for (const ack of child.acks) {
          expect(parseRecord(byPartition[ack.partition][ack.offset]).seq).toBe(ack.seq);
        }
        // The recovered file takes new appends after the surviving ones.
        const info = await recovered.describeTopic("killed");
        const [next] = await recovered.produce("killed", [{ key: null, value: null, partition: 0 }]);
        expect(next.offset).toBe(info.offsets[0].highWatermark);
      },
      MULTI_PROCESS_TIMEOUT_MS,
    );
  });

  it("fails every call after close with PULSE_LOG_CLOSED", async () => {
    const { log } = openTemp();
    await log.close();
    const error = await log.listTopics().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogError);
    expect((error as LogError).code).toBe(LogErrorCode.closed);
    await expect(log.lag()).rejects.toMatchObject({ code: LogErrorCode.closed });
    await expect(log.enforceRetention()).rejects.toMatchObject({ code: LogErrorCode.closed });
  });
});

interface Ack {
  seq: number;
  partition: number;
  offset: number;
}

interface ProducerChild {
  process: ChildProcess;
  acks: Ack[];
  /** Resolves when the process has exited and its output is read. */
  exited: Promise<boolean>;
  exitCode: Promise<number | null>;
  /** True once the process has exited and all of its acks are read. */
  isDone(): boolean;
  waitForAcks(count: number): Promise<void>;
}

/** Starts test/log/fixtures/producer.ts as a separate OS process appending to the same file. */
function spawnProducer(path: string, topic: string, producer: string, total: number, batchSize: number) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", PRODUCER_SCRIPT, path, topic, producer, String(total), String(batchSize)],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const acks: Ack[] = [];
  let stderr = "";
  const waiters: { count: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    acks.push(JSON.parse(line) as Ack);
    for (const waiter of waiters.splice(0)) {
      if (acks.length >= waiter.count) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  let done = false;
  const linesClosed = new Promise<void>((resolve) => lines.once("close", resolve));
  const exitCode = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
  }).then(async (code) => {
    await linesClosed;
    done = true;
    for (const waiter of waiters.splice(0)) {
      waiter.reject(new Error(`producer exited (${code}) after ${acks.length} acks; stderr: ${stderr}`));
    }
    if (code !== 0 && code !== null) throw new Error(`producer ${producer} exited with ${code}: ${stderr}`);
    return code;
  });
  // Keep a failing child from surfacing as an unhandled rejection before a test awaits it.
  exitCode.catch(() => {});
  const result: ProducerChild = {
    process: child,
    acks,
    exitCode,
    isDone: () => done,
    exited: exitCode.then(
      () => true,
      () => true,
    ),
    waitForAcks: (count) =>
      acks.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => waiters.push({ count, resolve, reject })),
  };
  return result;
}

async function readAllRecords(log: Log, topic: string, partitions: number): Promise<LogRecord[][]> {
  const result: LogRecord[][] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const records: LogRecord[] = [];
    for (;;) {
      const page = await log.fetch(
        topic,
        partition,
        records.length === 0 ? 0 : records[records.length - 1].offset + 1,
        {
          maxRecords: 5_000,
        },
      );
      if (page.length === 0) break;
      records.push(...page);
    }
    result.push(records);
  }
  return result;
}

/** Records per partition as plain comparable values, indexed by offset. */
async function readPartitions(log: Log, topic: string, partitions: number) {
  const all = await readAllRecords(log, topic, partitions);
  return all.map((records) =>
    records.map((r) => ({
      offset: r.offset,
      key: r.key === null ? null : asBuffer(r.key).toString("hex"),
      value: r.value === null ? null : asBuffer(r.value).toString("hex"),
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString("hex")])),
      timestampMs: r.timestampMs,
    })),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface BatchRow {
  partition: number;
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  maxTimestampMs: number;
  sizeBytes: number;
}

/** The topic's batch rows and partition sizes, read straight from the file with a separate connection. */
function batchRows(path: string, topic: string) {
  const db = new Database(path, { readonly: true });
  try {
    const topicId = db.prepare("SELECT topic_id FROM topics WHERE name = ?").pluck().get(topic) as number;
    const batches = db
      .prepare(
        `SELECT (id >> 41) & 1023 AS partition, id & 0x1FFFFFFFFFF AS baseOffset, last_offset AS lastOffset,
                record_count AS recordCount, max_timestamp_ms AS maxTimestampMs, size_bytes AS sizeBytes
         FROM batches WHERE id >> 51 = ? ORDER BY id`,
      )
      .all(topicId) as BatchRow[];
    const partitionBytes = db
      .prepare("SELECT size_bytes FROM partitions WHERE topic_id = ? ORDER BY partition")
      .pluck()
      .all(topicId) as number[];
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .pluck()
      .all() as string[];
    const userVersion = db.pragma("user_version", { simple: true }) as number;
    return { batches, partitionBytes, tables, userVersion };
  } finally {
    db.close();
  }
}

/** Checks the layout invariants: each partition's rows tile [low, high) and their sizes add up. */
async function expectTiled(log: Log, path: string, topic: string): Promise<void> {
  const { offsets } = await log.describeTopic(topic);
  const { batches, partitionBytes } = batchRows(path, topic);
  for (const { partition, lowWatermark, highWatermark } of offsets) {
    const rows = batches.filter((b) => b.partition === partition);
    let next = lowWatermark;
    let sizeBytes = 0;
    for (const row of rows) {
      expect(row.baseOffset, `topic ${topic} partition ${partition}`).toBe(next);
      expect(row.recordCount).toBeGreaterThan(0);
      expect(row.lastOffset).toBe(row.baseOffset + row.recordCount - 1);
      next = row.lastOffset + 1;
      sizeBytes += row.sizeBytes;
    }
    expect(next, `topic ${topic} partition ${partition} ends at the high watermark`).toBe(highWatermark);
    expect(sizeBytes).toBe(partitionBytes[partition]);
  }
}
