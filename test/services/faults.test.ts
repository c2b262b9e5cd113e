// Faults with the real services: a Kafka broker restart and a live-store (FerretDB) outage mid-stream; producers and the stream job retry, resume, lose nothing.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { BSON, MongoClient } from "mongodb";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { StreamSummary } from "../../src/cli/commands/stream.ts";
import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import { KafkaLog, kafkaBrokers } from "../../src/log/kafka/index.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import type { RawEventRow } from "../../src/lake/index.ts";
import type { Checkpoint, LiveStore } from "../../src/store/index.ts";
import { MongoLiveStore } from "../../src/store/mongo/index.ts";
import { type OnCleanup, REPO_ROOT, runPulseJson, startPulse, tempDir } from "../helpers/cli.ts";
import { activityTruth, decodeV2, expectStoreMatchesTruth } from "../stream/truth.ts";
import { KAFKA_URL, MONGODB_URL, resetKafka } from "./services.ts";

const run = promisify(execFile);
const TIMEOUT_MS = 600_000;
const JOB = "pulse-stream";

function env(): Record<string, string> {
  return { PULSE_LOG: KAFKA_URL };
}

async function service(name: "kafka" | "ferretdb", action: "start" | "stop"): Promise<void> {
  await run(join(REPO_ROOT, `scripts/services/${name}.sh`), [action], { timeout: 600_000 });
}

async function waitUntil(
  what: string | (() => string),
  condition: () => Promise<boolean>,
  timeoutMs = 180_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Scenario {
  dataDir: string;
  env: Record<string, string>;
  seed: number;
  openStore: () => Promise<LiveStore>;
  /** The job's checkpointed next offset per partition, read without disturbing the writer. */
  checkpointed: () => Promise<Map<number, number>>;
  /** What goes wrong while the producer and the stream job run. */
  fault: () => Promise<void>;
}

/**
 * The shape of every fault test: a running `pulse stream`, a producer paced over about 20 s, the fault in
 * the middle; then the job must catch up by itself, stop cleanly, and a drain must give windows equal to
 * the ground truth computed from the topic. Returns the producer's summary and the job's stderr.
 */
async function survives(
  scenario: Scenario,
  onCleanup: OnCleanup,
): Promise<{ produced: ProduceSummary; stderr: string; log: KafkaLog }> {
  const { dataDir, env } = scenario;
  const stream = await startPulse(["stream", "--topics", "user-activity", "--data-dir", dataDir], {
    env,
    waitFor: /consumer group pulse-stream assigned user-activity/,
    onCleanup,
    timeoutMs: 90_000,
  });
  const producing = runPulseJson<ProduceSummary>(
    [
      ...["produce", "activity", "--count", "60000", "--rate", "3000", "--seed", String(scenario.seed)],
      ...["--start", new Date(Date.now() - 3_600_000).toISOString()],
      ...["--json", "--data-dir", dataDir],
    ],
    { env, timeoutMs: 300_000 },
  );
  // Awaited after the fault: a producer that fails meanwhile is reported there, not as unhandled.
  producing.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  await scenario.fault();
  const produced = await producing;
  expect(produced.sent).toBe(60_000);

  const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
  onCleanup(() => log.close());
  // The job rode through the fault: it catches up with everything without being restarted.
  const highWatermarks = (await log.describeTopic("user-activity")).offsets.map((o) => o.highWatermark);
  await waitUntil(
    () => `the stream job to catch up after the fault; its stderr:\n${stream.stderr().slice(-2000)}`,
    async () => {
      const done = await scenario.checkpointed();
      return highWatermarks.every((high, p) => (done.get(p) ?? 0) === high);
    },
  );
  const stopped = await stream.stop();
  expect(stopped.code, stopped.stderr).toBe(0);

  const summary = await runPulseJson<StreamSummary>(
    ["stream", "--drain", "--topics", "user-activity", "--json", "--data-dir", dataDir],
    { env, timeoutMs: 300_000 },
  );
  const truth = await activityTruth(dataDir, { log });
  const total = highWatermarks.reduce((a, b) => a + b, 0);
  // Retried produce requests are idempotent: the topic holds each appended record exactly once.
  expect(total).toBe(produced.produced);
  expect(truth.accepted + truth.duplicates + truth.late).toBe(total);
  expect(summary).toMatchObject({ drained: true, input: total, accepted: truth.accepted, late: truth.late });
  const store = await scenario.openStore();
  try {
    await expectStoreMatchesTruth(store, truth);
  } finally {
    await store.close();
  }
  return { produced, stderr: stopped.stderr, log };
}

interface ProxiedCommand {
  name: string;
  collection: unknown;
}

/**
 * A TCP proxy to FerretDB that lists the commands its clients send and can break a connection: after
 * cut(), the first connection to send more than 256 KiB (a large write, not a heartbeat) stalls, so the
 * client's write waits for the socket to drain, and is then reset.
 */
async function faultyProxy(
  onCleanup: OnCleanup,
): Promise<{ url: string; commands: ProxiedCommand[]; cut: () => Promise<void> }> {
  const upstream = new URL(MONGODB_URL.replace(/^mongodb:/, "http:"));
  const clients = new Set<Socket>();
  const commands: ProxiedCommand[] = [];
  let armed: { sent: Map<Socket, number>; done: () => void } | undefined;
  const proxy = createServer((client) => {
    const server = createConnection(Number(upstream.port || 27017), upstream.hostname);
    clients.add(client);
    const tap = commandTap(commands);
    client.on("data", (chunk: Buffer) => {
      const sent = (armed?.sent.get(client) ?? 0) + chunk.length;
      if (armed === undefined || sent <= 256 * 1024) {
        armed?.sent.set(client, sent);
        tap(chunk);
        server.write(chunk);
        return;
      }
      const { done } = armed;
      armed = undefined;
      client.pause();
      setTimeout(() => {
        client.resetAndDestroy();
        server.destroy();
        done();
      }, 500);
    });
    server.on("data", (chunk) => client.write(chunk));
    for (const socket of [client, server]) {
      socket.on("error", () => undefined);
      socket.on("close", () => {
        client.destroy();
        server.destroy();
        clients.delete(client);
      });
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  onCleanup(async () => {
    for (const client of clients) client.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  const { port } = proxy.address() as { port: number };
  return {
    url: `mongodb://127.0.0.1:${port}`,
    commands,
    cut: () =>
      new Promise<void>((resolve) => {
        armed = { sent: new Map(), done: resolve };
      }),
  };
}

/**
 * Reads the commands of one client's byte stream. A message starts with its int32 length; an OP_MSG
 * (opCode 2013) has a 16-byte header, 4 bytes of flags, then a kind-0 section: the command document, whose
 * first field names the command and holds its collection.
 */
function commandTap(commands: ProxiedCommand[]): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  let size = 0;
  return (chunk) => {
    chunks.push(chunk);
    size += chunk.length;
    while (size >= 4) {
      if (chunks[0]!.length < 4) chunks = [Buffer.concat(chunks)];
      const length = chunks[0]!.readInt32LE(0);
      if (size < length) return;
      const bytes = Buffer.concat(chunks);
      const message = bytes.subarray(0, length);
      chunks = length < bytes.length ? [bytes.subarray(length)] : [];
      size -= length;
      if (message.readInt32LE(12) === 2013 && message[20] === 0) {
        const doc = BSON.deserialize(message.subarray(21, 21 + message.readInt32LE(21)));
        const name = Object.keys(doc)[0]!;
        commands.push({ name, collection: doc[name] });
      }
    }
  };
}

/** Raw-lake rows at offsets 0..count-1 of user-activity[0], each with a value of about padBytes. */
function rawRows(count: number, padBytes: number): RawEventRow[] {
  const rows: RawEventRow[] = [];
  for (let offset = 0; offset < count; offset++) {
    // Random padding: the lake compresses its batches, and a large write must stay large.
    const pad = randomBytes(Math.ceil(padBytes / 2))
      .toString("hex")
      .slice(0, padBytes);
    rows.push({
      topic: "user-activity",
      partition: 0,
      offset,
      event_time: 1_700_000_000_000 + offset,
      ingested_at: 1_700_000_100_000,
      value: Buffer.from(JSON.stringify({ offset, pad }), "utf8"),
    });
  }
  return rows;
}

function checkpointAt(nextOffset: number): Checkpoint {
  return {
    job: JOB,
    topic: "user-activity",
    partition: 0,
    nextOffset,
    state: new Uint8Array([1]),
    updatedAt: 1,
  };
}

/**
 * A MongoDB store, through a faulty proxy, in a database of its own (dropped afterwards), whose first
 * commit fails right after its commit point: durable checkpoints, the rest of the commit not done.
 */
async function storeCrashingOnce(
  onTestFinished: OnCleanup,
  prefix: string,
): Promise<{ store: MongoLiveStore; proxy: Awaited<ReturnType<typeof faultyProxy>> }> {
  const proxy = await faultyProxy(onTestFinished);
  const name = `${prefix}_${Date.now()}`;
  let crashes = 1;
  const store = await MongoLiveStore.open({
    url: `${proxy.url}/${name}`,
    testHooks: {
      afterCommitPoint: () => {
        if (crashes-- > 0) throw new Error("crash after the commit point");
      },
    },
  });
  const admin = new MongoClient(MONGODB_URL, { serverSelectionTimeoutMS: 5_000 });
  onTestFinished(async () => {
    await store.close();
    await admin.db(name).dropDatabase();
    await admin.close();
  });
  return { store, proxy };
}

/** The distinct event ids on user-activity, read with Pulse's own serde. */
async function distinctEventIds(log: KafkaLog): Promise<number> {
  const ids = new Set<string>();
  for (const { partition, highWatermark } of (await log.describeTopic("user-activity")).offsets) {
    let next = 0;
    while (next < highWatermark) {
      const page = await log.fetch("user-activity", partition, next, { maxRecords: 10_000 });
      for (const record of page) ids.add(decodeV2(record.value).event_id);
      next = page[page.length - 1]!.offset + 1;
    }
  }
  return ids.size;
}

describe("faults on the real services", () => {
  it(
    "a Kafka broker restart mid-stream: the producer and the stream job retry and resume, nothing is lost",
    async ({ onTestFinished }) => {
      onTestFinished(() => service("kafka", "start"));
      await resetKafka([JOB]);
      const dataDir = tempDir(onTestFinished, "pulse-fault-kafka-");
      const { produced, log } = await survives(
        {
          dataDir,
          env: env(),
          seed: 31,
          openStore: async () => EmbeddedLiveStore.open({ path: join(dataDir, "store.db") }),
          checkpointed: async () => {
            const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
            try {
              return new Map(
                (await store.checkpoints(JOB, "user-activity")).map((c) => [c.partition, c.nextOffset]),
              );
            } finally {
              await store.close();
            }
          },
          fault: async () => {
            await service("kafka", "stop");
            await new Promise((resolve) => setTimeout(resolve, 3_000));
            await service("kafka", "start");
          },
        },
        onTestFinished,
      );
      // Nothing lost on the producer's side either: every distinct event the simulator made is on the
      // topic (a retried send may add copies, which the stream job counts as duplicates).
      const kinds = produced.by_kind!;
      expect(await distinctEventIds(log)).toBe(kinds.valid! + kinds.out_of_order!);
    },
    TIMEOUT_MS,
  );

  // Regression: the driver reports a connection that breaks during a bulk write as a MongoBulkWriteError
  // around the network error, or as the socket's bare EPIPE or ECONNRESET; the store called both a
  // permanent storage error, and the stream job exited.
  it("a connection cut in the middle of a commit's bulk write is a retriable PULSE_STORE_UNAVAILABLE", async ({
    onTestFinished,
  }) => {
    const proxy = await faultyProxy(onTestFinished);
    const name = `pulse_fault_cut_${Date.now()}`;
    const store = await MongoLiveStore.open({ url: `${proxy.url}/${name}` });
    const admin = new MongoClient(MONGODB_URL, { serverSelectionTimeoutMS: 5_000 });
    onTestFinished(async () => {
      await store.close();
      await admin.db(name).dropDatabase();
      await admin.close();
    });
    // About 8 MB of raw-lake rows: more than a socket buffer takes, so the insert waits for it to drain.
    const rawEvents = rawRows(2_000, 4_000);
    const checkpoints = [checkpointAt(2_000)];
    const cut = proxy.cut();
    const failed = await store.commit({ rawEvents, checkpoints }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await cut;
    expect(failed).toBeInstanceOf(StoreError);
    expect(failed).toMatchObject({ code: StoreErrorCode.unavailable, retriable: true });
    // The retry commits the batch whole, whatever part of it the cut insert left behind.
    await store.commit({ rawEvents, checkpoints });
    expect(await store.lake.scanAfter("user-activity", new Map(), 5_000)).toEqual(rawEvents);
    expect((await store.checkpoints(JOB, "user-activity")).map((c) => c.nextOffset)).toEqual([2_000]);
  });

  // Regression: a commit retried after its raw-lake rows were stored rewrote all of them, one replace by
  // _id each; FerretDB scans the table for each, so the retry ran for minutes with the job silent.
  it("a retried commit does not rewrite the raw-lake rows its failed attempt stored", async ({
    onTestFinished,
  }) => {
    const { store, proxy } = await storeCrashingOnce(onTestFinished, "pulse_fault_retry");
    const batch = {
      rawEvents: rawRows(1_000, 100),
      checkpoints: [checkpointAt(1_000)],
    };
    await expect(store.commit(batch)).rejects.toThrow(/crash after the commit point/);
    proxy.commands.length = 0;
    await store.commit(batch);
    const rewrites = proxy.commands.filter((c) => c.name === "update" && c.collection === "raw_batches");
    expect(rewrites.length, "update commands on raw_batches in the retry").toBe(0);
    expect(await store.lake.scanAfter("user-activity", new Map(), 5_000)).toEqual(batch.rawEvents);
    expect((await store.checkpoints(JOB, "user-activity")).map((c) => c.nextOffset)).toEqual([1_000]);
  });

  // Regression: the retry of a commit whose checkpoint write the server applied before the connection
  // dropped took its own checkpoint for another member's and failed with a conflict, so the job reloaded.
  it("a retried fenced commit whose checkpoint its failed attempt wrote succeeds, not a conflict", async ({
    onTestFinished,
  }) => {
    const { store } = await storeCrashingOnce(onTestFinished, "pulse_fault_fenced");
    const first = { ...checkpointAt(1_000), expectedNextOffset: null };
    await expect(store.commit({ checkpoints: [first] })).rejects.toThrow(/crash after the commit point/);
    await store.commit({ checkpoints: [first] });
    // The next batch moves it on as usual, and a commit fenced on an offset that is no longer there, with
    // other values than the stored checkpoint's, is still a conflict.
    await store.commit({
      checkpoints: [{ ...checkpointAt(1_500), updatedAt: 2, expectedNextOffset: 1_000 }],
    });
    await expect(
      store.commit({ checkpoints: [{ ...checkpointAt(1_800), updatedAt: 3, expectedNextOffset: 1_000 }] }),
    ).rejects.toMatchObject({ code: StoreErrorCode.conflict });
    expect((await store.checkpoints(JOB, "user-activity")).map((c) => c.nextOffset)).toEqual([1_500]);
  });

  it(
    "a 10 s live-store outage: the stream job holds its batch and retries, then catches up; nothing is lost",
    async ({ onTestFinished }) => {
      onTestFinished(() => service("ferretdb", "start"));
      await resetKafka([JOB]);
      const storeUrl = `${MONGODB_URL.replace(/\/$/, "")}/pulse_fault_${Date.now()}`;
      const watcher = new MongoClient(storeUrl, { serverSelectionTimeoutMS: 2_000 });
      onTestFinished(async () => {
        await watcher
          .db()
          .dropDatabase()
          .catch(() => undefined);
        await watcher.close();
      });
      const { stderr } = await survives(
        {
          dataDir: tempDir(onTestFinished, "pulse-fault-store-"),
          env: { ...env(), PULSE_STORE: storeUrl },
          seed: 37,
          openStore: () => MongoLiveStore.open({ url: storeUrl }),
          // The checkpoint documents straight from the driver: a MongoLiveStore reader would also
          // re-apply the writer's in-flight redo records, racing it.
          checkpointed: async () => {
            const docs = await watcher
              .db()
              .collection<{ partition: number; next_offset: number; job: string; topic: string }>(
                "checkpoints",
              )
              .find({ job: JOB, topic: "user-activity" })
              .toArray();
            return new Map(docs.map((d) => [d.partition, d.next_offset]));
          },
          fault: async () => {
            await service("ferretdb", "stop");
            await new Promise((resolve) => setTimeout(resolve, 10_000));
            await service("ferretdb", "start");
          },
        },
        onTestFinished,
      );
      // It noticed the outage and held its batch rather than moving on.
      expect(stderr).toMatch(/the live store refused the commit .*holding the batch/);
    },
    TIMEOUT_MS,
  );
});
