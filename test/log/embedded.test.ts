// EmbeddedLog: the Log contract over temp SQLite files, plus persistence, retention and multi-process sharing.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { LogError, LogErrorCode } from "../../src/errors.ts";
import { EmbeddedLog } from "../../src/log/embedded.ts";
import type { Log, LogRecord } from "../../src/log/index.ts";
import { partitionForKey } from "../../src/log/partitioner.ts";
import { runLogContract } from "../contracts/log-contract.ts";
import { matchesRecord, parseRecord } from "./fixtures/records.ts";

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
      expect(records.map((r) => r.value?.toString())).toEqual([topic]);
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
      expect(first.map((r) => [r.offset, r.value!.toString()])).toEqual([[4_500, "4500"]]);
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
      expect(kept[0].key!.toString()).toBe(String(5_000 - keep).padStart(10, "0"));
      expect(kept[0].headers).toEqual({ h: Buffer.from("abc") });
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
      key: r.key?.toString("hex") ?? null,
      value: r.value?.toString("hex") ?? null,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString("hex")])),
      timestampMs: r.timestampMs,
    })),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
