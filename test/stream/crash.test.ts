// The crash test: `pulse stream` SIGKILLed at random points over 1M events, restarted, then drained; nothing lost or doubled.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { StreamSummary } from "../../src/cli/commands/stream.ts";
import { SCHEMA_TEXTS, subjectFor } from "../../src/contracts/schemas.ts";
import type { DeadLetter, UserActivityV2 } from "../../src/contracts/types.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { type OnCleanup, runPulseJson, startPulse, tempDir } from "../helpers/cli.ts";
import { readTopic } from "../helpers/topics.ts";
import { activityTruth, expectStoreMatchesTruth } from "./truth.ts";

const TIMEOUT_MS = 420_000;
const CHUNKS = 4;
const CHUNK_EVENTS = 250_000;
/** The simulator's event time spans at most 3 × count / rate (100/s when not live): 7,500 s a chunk. */
const CHUNK_SPAN_MS = (3 * CHUNK_EVENTS * 1000) / 100 + 60_000;
const KILLS = 3;
const BAD_PER_INJECTION = 30;

/** Writes records the stream job must dead-letter straight into the topic, between produce runs. */
async function injectBadRecords(dataDir: string, round: number): Promise<string[]> {
  const log = EmbeddedLog.open({ path: join(dataDir, "log.db") });
  const registry = SchemaRegistry.open({ path: join(dataDir, "registry.db") });
  try {
    const serde = new AvroSerde(registry);
    const encode = await serde.encoder<UserActivityV2>(
      subjectFor("user-activity"),
      SCHEMA_TEXTS.userActivityV2,
    );
    const valid: UserActivityV2 = {
      event_id: "00000000-0000-4000-8000-000000000000",
      user_id: "u-bad",
      session_id: "s-bad",
      event_type: "VIEW",
      event_time: Date.now() - 3_600_000,
      page: "/",
      referrer: null,
      device: "MOBILE",
      country: null,
      amount: null,
      currency: null,
      app_version: null,
    };
    const frames = [
      () => Buffer.from(`not avro ${round}`),
      () => Buffer.from([0, 0x7f, 0, 0, round + 1, 2, 4, 6]),
      () => encode(valid).subarray(0, 12),
      () => encode({ ...valid, event_id: `bad-${round}` }),
      () => encode({ ...valid, event_type: "VIEW", amount: 3, currency: "EUR" }),
    ];
    const positions: string[] = [];
    const partitions = (await log.describeTopic("user-activity")).partitions;
    for (let i = 0; i < BAD_PER_INJECTION; i++) {
      const partition = (i * 7 + round) % partitions;
      const [pos] = await log.produce("user-activity", [
        { key: Buffer.from(`bad-${round}-${i}`), value: frames[i % frames.length]!(), partition },
      ]);
      positions.push(`${partition}:${pos!.offset}`);
    }
    return positions;
  } finally {
    await log.close();
    registry.close();
  }
}

/** Records covered by the job's checkpoints in the store (0 before the first commit). */
async function checkpointed(dataDir: string): Promise<number> {
  const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
  try {
    return (await store.checkpoints("pulse-stream", "user-activity")).reduce((a, c) => a + c.nextOffset, 0);
  } finally {
    await store.close();
  }
}

async function waitForProgress(dataDir: string, above: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await checkpointed(dataDir).catch(() => 0);
    if (now > above) return now;
    if (Date.now() > deadline) throw new Error(`no checkpoint progress past ${above} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every raw-lake row of the topic, counted page by page so 1M rows never sit in memory at once. */
async function countRawEvents(store: EmbeddedLiveStore): Promise<{ rows: number; ordered: boolean }> {
  const after = new Map<number, number>();
  let rows = 0;
  let ordered = true;
  for (;;) {
    const page = await store.lake.scanAfter("user-activity", after, 50_000);
    if (page.length === 0) return { rows, ordered };
    for (const row of page) {
      const last = after.get(row.partition) ?? -1;
      if (row.offset <= last) ordered = false;
      after.set(row.partition, row.offset);
    }
    rows += page.length;
  }
}

async function startStream(dataDir: string, onCleanup: OnCleanup) {
  return startPulse(["stream", "--data-dir", dataDir], {
    waitFor: /pulse stream: job pulse-stream/,
    onCleanup,
    timeoutMs: 60_000,
  });
}

describe("pulse stream crash test", () => {
  it(
    "SIGKILLed at random points and restarted, then drained: the windows equal the ground truth exactly",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished, "pulse-crash-");
      const baseMs = Date.now() - CHUNKS * CHUNK_SPAN_MS - 120_000;
      let produced = 0;
      let malformed = 0;
      const injected: string[] = [];
      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        const summary = await runPulseJson<ProduceSummary>(
          [
            ...["produce", "activity", "--count", String(CHUNK_EVENTS), "--seed", String(11 + chunk)],
            ...["--start", new Date(baseMs + chunk * CHUNK_SPAN_MS).toISOString()],
            ...["--out-of-order", "0.05", "--duplicates", "0.02", "--malformed", "0.01"],
            ...["--json", "--data-dir", dataDir],
          ],
          { timeoutMs: 120_000 },
        );
        produced += summary.produced;
        malformed += summary.by_kind!.malformed!;
        if (chunk < CHUNKS - 1) injected.push(...(await injectBadRecords(dataDir, chunk)));
      }
      const total = produced + injected.length;

      // Kill the job at random points of its input: each kill waits for a random share of the records to be
      // checkpointed (within the first three quarters, past the last kill's), then a random 0–300 ms more, so
      // kills land in every phase of a batch. A share, not a delay, keeps every kill short of the end however
      // fast the job drains.
      let progress = 0;
      const points: string[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        const share = 0.1 + (0.62 * kill) / KILLS + Math.random() * (0.62 / KILLS);
        const running = await startStream(dataDir, onTestFinished);
        const reached = await waitForProgress(dataDir, Math.max(progress, Math.floor(total * share)));
        const delayMs = Math.floor(Math.random() * 300);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        const result = await running.kill("SIGKILL");
        points.push(`${reached} + ${delayMs} ms`);
        expect(result.signal, `kill ${kill} at ${points.join(", ")}`).toBe("SIGKILL");
        const after = await checkpointed(dataDir);
        expect(after, `kill ${kill} at ${points.join(", ")}`).toBeLessThan(total);
        progress = after;
      }
      // One more run, stopped cleanly: SIGTERM commits the batch in flight and exits 0.
      const running = await startStream(dataDir, onTestFinished);
      progress = await waitForProgress(dataDir, progress);
      const stopped = await running.stop();
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stdout).toMatch(/stopped: read \d+ records/);

      const summary = await runPulseJson<StreamSummary>(
        ["stream", "--drain", "--json", "--data-dir", dataDir],
        {
          timeoutMs: 300_000,
        },
      );
      const truth = await activityTruth(dataDir, { skip: new Set(injected) });
      expect(truth.undecodable).toBe(0);
      expect(truth.accepted + truth.duplicates + truth.late).toBe(produced);
      expect(summary).toMatchObject({
        drained: true,
        input: total,
        accepted: truth.accepted,
        duplicates: truth.duplicates,
        late: truth.late,
        dead_lettered: injected.length,
      });

      const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
      onTestFinished(() => store.close());
      await expectStoreMatchesTruth(store, truth);
      expect(await countRawEvents(store)).toEqual({ rows: truth.accepted + truth.late, ordered: true });

      // Dead letters: the producer's (malformed, no source position) and the job's, each exactly once.
      const letters = (await readTopic<DeadLetter>(dataDir, "user-activity.dlq")).map((r) => r.value);
      const fromJob = letters.filter((l) => l.source_partition !== null);
      expect(letters.length - fromJob.length).toBe(malformed);
      expect(fromJob.map((l) => `${l.source_partition}:${l.source_offset}`).sort()).toEqual(
        [...injected].sort(),
      );
    },
    TIMEOUT_MS,
  );
});
