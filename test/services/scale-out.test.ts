// Scale-out on the real Kafka broker: two `pulse stream` processes in one consumer group split the partitions;
// one is SIGKILLed mid-stream and restarted; after a drain the windows equal the ground truth exactly.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { StreamSummary } from "../../src/cli/commands/stream.ts";
import { KafkaLog, kafkaBrokers } from "../../src/log/kafka/index.ts";
import { withTopicPrefix } from "../../src/log/prefixed.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { type OnCleanup, type RunningPulse, runPulseJson, startPulse, tempDir } from "../helpers/cli.ts";
import { expectAlertsMatchReference, referenceAlerts } from "../helpers/reference-alerts.ts";
import { activityTruth, expectStoreMatchesTruth } from "../stream/truth.ts";
import { KAFKA_URL, resetKafka } from "./services.ts";

const TIMEOUT_MS = 600_000;
const EVENTS = 200_000;
const JOB = "pulse-stream";

function env(): Record<string, string> {
  return { PULSE_LOG: KAFKA_URL };
}

async function startMember(
  dataDir: string,
  onCleanup: OnCleanup,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<RunningPulse> {
  const args = options.args ?? [];
  return startPulse(
    ["stream", "--topics", "user-activity", "--max-batch", "5000", ...args, "--data-dir", dataDir],
    {
      env: options.env ?? env(),
      waitFor: /consumer group pulse-stream assigned user-activity \[[\d,]*\]/,
      onCleanup,
      timeoutMs: 90_000,
    },
  );
}

/** Records covered by the job's checkpoints in the store, per partition. */
async function checkpointed(dataDir: string): Promise<Map<number, number>> {
  const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
  try {
    return new Map((await store.checkpoints(JOB, "user-activity")).map((c) => [c.partition, c.nextOffset]));
  } finally {
    await store.close();
  }
}

async function waitUntil(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The partition lists of every "assigned" line a member printed, in order. */
function assignments(member: RunningPulse): number[][] {
  return [...member.stdout().matchAll(/assigned user-activity \[([\d,]*)\]/g)].map((m) =>
    m[1] === "" ? [] : m[1]!.split(",").map(Number),
  );
}

describe("scale-out on Kafka", () => {
  it(
    "two members split the partitions; one SIGKILLed and restarted; the drained windows equal the ground truth",
    async ({ onTestFinished }) => {
      await resetKafka([JOB]);
      const dataDir = tempDir(onTestFinished, "pulse-scale-");
      const startMs = Date.now() - 8 * 3_600_000;
      const produce = (seed: number, count: number, fromMs: number) =>
        runPulseJson<ProduceSummary>(
          [
            ...["produce", "activity", "--count", String(count), "--seed", String(seed)],
            ...["--start", new Date(fromMs).toISOString()],
            ...["--out-of-order", "0.05", "--duplicates", "0.02", "--malformed", "0.01"],
            ...["--json", "--data-dir", dataDir],
          ],
          { env: env(), timeoutMs: 180_000 },
        );
      const first = await produce(23, EVENTS, startMs);
      const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
      onTestFinished(() => log.close());
      const partitions = (await log.describeTopic("user-activity")).partitions;
      expect(partitions).toBeGreaterThan(1);

      // Two members: each ends up with a share, together all partitions, none twice.
      const one = await startMember(dataDir, onTestFinished);
      const two = await startMember(dataDir, onTestFinished);
      await waitUntil("the first member to hand over part of its partitions", async () => {
        const latest = assignments(one).at(-1)!;
        return latest.length > 0 && latest.length < partitions;
      });
      const shares = [assignments(one).at(-1)!, assignments(two).at(-1)!];
      expect(shares.flat().sort((a, b) => a - b)).toEqual([...Array(partitions).keys()]);

      // Both make progress, then the second dies mid-stream without leaving the group.
      await waitUntil("progress on both shares", async () => {
        const done = await checkpointed(dataDir);
        return shares.every((share) => share.some((p) => (done.get(p) ?? 0) > 0));
      });
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 1_000)));
      const killed = await two.kill("SIGKILL");
      expect(killed.signal).toBe("SIGKILL");
      const atKill = await checkpointed(dataDir);
      expect([...atKill.values()].reduce((a, b) => a + b, 0)).toBeLessThan(
        first.produced + first.dead_lettered,
      );

      // After the session timeout the survivor owns everything; a restarted member takes a share back.
      await waitUntil(
        "the survivor to take every partition",
        async () => assignments(one).at(-1)!.length === partitions,
      );
      const restarted = await startMember(dataDir, onTestFinished);
      await waitUntil("the restarted member to get a share", async () => {
        const latest = assignments(restarted).at(-1)!;
        return latest.length > 0 && assignments(one).at(-1)!.length + latest.length === partitions;
      });
      const restartedShare = assignments(restarted).at(-1)!;

      // More input while both run: the restarted member's share moves past where it was.
      const before = await checkpointed(dataDir);
      const second = await produce(29, EVENTS / 2, startMs + 4 * 3_600_000);
      const produced = first.produced + second.produced;
      const highWatermarks = (await log.describeTopic("user-activity")).offsets.map((o) => o.highWatermark);
      await waitUntil("both members to catch up with the new input", async () => {
        const now = await checkpointed(dataDir);
        return highWatermarks.every((high, p) => now.get(p) === high);
      });
      const after = await checkpointed(dataDir);
      expect(restartedShare.some((p) => after.get(p)! > (before.get(p) ?? 0))).toBe(true);
      for (const member of [one, restarted]) {
        const stopped = await member.stop();
        expect(stopped.code, stopped.stderr).toBe(0);
      }

      // A lone member drains the rest: the group's only member owns every partition.
      const summary = await runPulseJson<StreamSummary>(
        ["stream", "--drain", "--topics", "user-activity", "--json", "--data-dir", dataDir],
        { env: env(), timeoutMs: 300_000 },
      );
      const truth = await activityTruth(dataDir, { log });
      expect(truth.accepted + truth.duplicates + truth.late).toBe(produced);
      expect(summary).toMatchObject({
        drained: true,
        input: produced,
        accepted: truth.accepted,
        duplicates: truth.duplicates,
        late: truth.late,
      });
      const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
      onTestFinished(() => store.close());
      await expectStoreMatchesTruth(store, truth);
    },
    TIMEOUT_MS,
  );

  it(
    "alerts keep flowing while scaled out: the owner of partition 0 flags a burst from every member's rows, once",
    async ({ onTestFinished }) => {
      // Topics of its own under a prefix, so the other test's reset and fixed names do not meet this one.
      const prefix = `alerts-${Date.now()}.`;
      const alertEnv = { PULSE_LOG: KAFKA_URL, PULSE_TOPIC_PREFIX: prefix };
      const dataDir = tempDir(onTestFinished, "pulse-scale-alerts-");
      const windowArgs = ["--window", "10s", "--out-of-orderness", "1s"];
      const startMs = Date.UTC(2024, 4, 1, 10);
      const produce = (seed: number, count: number, fromMs: number, extra: string[] = []) =>
        runPulseJson<ProduceSummary>(
          [
            ...["produce", "activity", "--count", String(count), "--seed", String(seed)],
            ...["--start", new Date(fromMs).toISOString(), ...extra, "--json", "--data-dir", dataDir],
          ],
          { env: alertEnv, timeoutMs: 180_000 },
        );
      // A first batch creates the topics; the members split them before the rest arrives.
      const first = await produce(41, 2_000, startMs);
      const one = await startMember(dataDir, onTestFinished, { args: windowArgs, env: alertEnv });
      const two = await startMember(dataDir, onTestFinished, { args: windowArgs, env: alertEnv });
      const log = withTopicPrefix(KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) }), prefix);
      onTestFinished(() => log.close());
      const partitions = (await log.describeTopic("user-activity")).partitions;
      await waitUntil("the members to split the partitions", async () => {
        const shares = [assignments(one).at(-1) ?? [], assignments(two).at(-1) ?? []];
        return (
          shares.every((share) => share.length > 0) && shares[0]!.length + shares[1]!.length === partitions
        );
      });
      const shares = [assignments(one).at(-1)!, assignments(two).at(-1)!];

      // Six times the rate for 30 s, 300 s into the second batch (10 s windows: 30 to warm the baseline).
      const burstFromMs = startMs + 30_000 + 300_000;
      const second = await produce(43, 60_000, startMs + 30_000, ["--burst", "+300,30,6"]);
      const highWatermarks = (await log.describeTopic("user-activity")).offsets.map((o) => o.highWatermark);
      expect(highWatermarks.reduce((a, b) => a + b, 0)).toBe(first.produced + second.produced);
      await waitUntil("both members to catch up", async () => {
        const done = await checkpointed(dataDir);
        return highWatermarks.every((high, p) => done.get(p) === high);
      });
      const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
      onTestFinished(() => store.close());
      type Alert = Awaited<ReturnType<typeof store.alerts>>[number];
      let spikes: Alert[] = [];
      await waitUntil(
        "a spike in the burst on activity.all.event_count",
        async () => {
          spikes = (await store.alerts(1_000)).filter(
            (a) =>
              a.series === "activity.all.event_count" &&
              a.kind === "spike" &&
              a.window_start >= burstFromMs &&
              a.window_start < burstFromMs + 30_000,
          );
          return spikes.length > 0;
        },
        30_000,
      );
      expect(spikes[0]!.observed).toBeGreaterThan(2 * spikes[0]!.expected);
      // Still split: the burst was scored from the store by the owner of partition 0, not by a lone member.
      expect([assignments(one).at(-1), assignments(two).at(-1)]).toEqual(shares);
      for (const member of [one, two]) {
        const stopped = await member.stop();
        expect(stopped.code, stopped.stderr).toBe(0);
      }

      // Exactly once: every stored alert is on the alerts topic once, with the same values.
      const stored = await store.alerts(10_000);
      const onTopic = (await log.fetch("alerts", 0, 0, { maxRecords: 100_000 })).map(
        (r) => JSON.parse(Buffer.from(r.value!).toString("utf8")) as Alert,
      );
      const key = (a: Alert) => `${a.series} ${a.window_start}`;
      expect(new Set(onTopic.map(key)).size).toBe(onTopic.length);
      const summary = (alerts: Alert[]) =>
        alerts.map((a) => [key(a), a.observed, a.expected, a.score, a.kind]).sort();
      expect(summary(onTopic)).toEqual(summary(stored));

      // The reference: the topic's ground truth in 10 s windows (1 s out-of-orderness), scored by the
      // detector's documented rules. The owner scores windows in order, so while scaled out it has raised
      // exactly the reference's alerts up to the newest window it flagged.
      const truth = await activityTruth(dataDir, { log, windowMs: 10_000, outOfOrdernessMs: 1_000 });
      expect(truth.accepted + truth.duplicates + truth.late).toBe(first.produced + second.produced);
      const reference = referenceAlerts(
        truth.minutes.map(([k, [count]]) => [k, count]),
        10_000,
      );
      const scoredThroughMs = Math.max(...stored.map((a) => a.window_start));
      expect(scoredThroughMs).toBeGreaterThanOrEqual(spikes[0]!.window_start);
      expectAlertsMatchReference(
        stored,
        reference.filter((a) => a.window_start <= scoredThroughMs),
      );

      // A lone member drains the rest, owning every partition: the windows the members finished but the
      // owner had not scored come from the store, so each window it scores counts every partition's events.
      const drained = await runPulseJson<StreamSummary>(
        ["stream", "--drain", "--topics", "user-activity", ...windowArgs, "--json", "--data-dir", dataDir],
        { env: alertEnv, timeoutMs: 300_000 },
      );
      expect(drained.drained).toBe(true);
      // After it, every alert is the reference's, those it scored and those scored while scaled out.
      const all = await store.alerts(10_000);
      expectAlertsMatchReference(all, reference);
      const before = new Set(stored.map(key));
      const scoredByDrain = all.filter((a) => !before.has(key(a)));
      console.log(`alerts: ${stored.length} while scaled out, ${scoredByDrain.length} by the lone drain`);
    },
    TIMEOUT_MS,
  );
});
