// Anomaly alerts end to end: a simulated burst through the log, the stream job, the alerts topic and the live store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, type TestContext } from "vitest";
import { asBuffer } from "../../src/bytes.ts";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import { TOPICS, type UserActivity } from "../../src/contracts/types.ts";
import { activityProducer } from "../../src/ingest/producer.ts";
import { simulateActivity } from "../../src/ingest/simulator.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import type { GroupMember, Log } from "../../src/log/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import type { AlertRow, LiveStore, StoreBatch } from "../../src/store/index.ts";
import { AnomalyDetector } from "../../src/stream/anomaly.ts";
import { JOB_HEADER, StreamJob, type StreamJobOptions } from "../../src/stream/job/index.ts";
import { runPulse, runPulseJson, tempDir } from "../helpers/cli.ts";
import { CommitFailingStore } from "../helpers/failing-store.ts";
import { expectAlertsMatchReference, referenceAlerts } from "../helpers/reference-alerts.ts";
import { activityTruth } from "./truth.ts";

const MINUTE_MS = 60_000;
const T0 = Date.UTC(2024, 4, 2, 10, 0);
const END = T0 + 60 * MINUTE_MS;
const BURST = { atMs: T0 + 30 * MINUTE_MS, durationMs: 2 * MINUTE_MS, multiplier: 5 };
const CREATED_AT = 1_700_000_000_000;
const PARTITIONS = 3;

interface Fixture {
  dataDir: string;
  log: EmbeddedLog;
  serde: AvroSerde;
  openStore(): LiveStore;
}

async function setup(ctx: TestContext): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), "pulse-alerts-"));
  const log = EmbeddedLog.open({ path: join(dataDir, "log.db") });
  const registry = SchemaRegistry.open({ path: join(dataDir, "registry.db") });
  const stores: LiveStore[] = [];
  await log.ensureTopic({ name: TOPICS.activity, partitions: PARTITIONS });
  ctx.onTestFinished(async () => {
    for (const store of stores) await store.close();
    await log.close();
    registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    log,
    serde: new AvroSerde(registry),
    openStore: () => {
      const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
      stores.push(store);
      return store;
    },
  };
}

/** One hour of steady simulated activity at 20 events/s of event time, 5× for two minutes at 10:30. */
async function produceBurstHour(fx: Fixture): Promise<number> {
  const events: UserActivity[] = [];
  for (const simulated of simulateActivity({
    seed: 11,
    startTimeMs: T0,
    ratePerSec: 20,
    dayNightAmplitude: 0,
    outOfOrderShare: 0.02,
    maxLatenessSec: 20,
    duplicateShare: 0.01,
    malformedShare: 0,
    burst: BURST,
  })) {
    const event = simulated.event as UserActivity;
    // Stop at the end of the hour, so the last window is whole (a partial one would read as a drop).
    if (simulated.kind === "valid" && event.event_time >= END) break;
    if (event.event_time < END) events.push(event);
  }
  const result = await activityProducer({ log: fx.log, serde: fx.serde }).send(events);
  expect(result.rejected).toEqual([]);
  return events.length;
}

function job(fx: Fixture, options: Partial<StreamJobOptions> & { store: LiveStore }): StreamJob {
  return new StreamJob({
    log: fx.log,
    serde: fx.serde,
    topics: [TOPICS.activity],
    nowMs: () => CREATED_AT,
    ...options,
  });
}

/**
 * The expected alerts, computed independently of the job: the ground-truth per-minute counts of the
 * produced input (truth.ts), scored by a fresh detector minute by minute, with 0 for every series
 * already seen and absent in a minute; that scoring itself equal to the reference (reference-alerts.ts).
 */
async function expectedAlerts(dataDir: string): Promise<AlertRow[]> {
  const truth = await activityTruth(dataDir);
  const byMinute = new Map<number, Map<string, number>>();
  for (const [key, [count]] of truth.minutes) {
    const [start, type] = key.split("|") as [string, string];
    let minute = byMinute.get(Number(start));
    if (minute === undefined) {
      minute = new Map();
      byMinute.set(Number(start), minute);
    }
    minute.set(`activity.${type}.event_count`, count);
  }
  const starts = [...byMinute.keys()].sort((a, b) => a - b);
  const detector = new AnomalyDetector({ nowMs: () => CREATED_AT });
  const alerts: AlertRow[] = [];
  const known = new Set<string>();
  for (let start = starts[0]!; start <= starts[starts.length - 1]!; start += MINUTE_MS) {
    const minute = byMinute.get(start) ?? new Map<string, number>();
    let total = 0;
    for (const [series, count] of minute) {
      known.add(series);
      total += count;
    }
    known.add("activity.all.event_count");
    const values = new Map([...known].map((s) => [s, minute.get(s) ?? 0]));
    values.set("activity.all.event_count", total);
    for (const series of [...values.keys()].sort()) {
      const alert = detector.observe(series, start, start + MINUTE_MS, values.get(series)!);
      if (alert !== undefined) alerts.push(alert);
    }
  }
  const sorted = sortAlerts(alerts);
  // The production detector's scoring, checked against a reference written from its documented rules.
  expectAlertsMatchReference(
    sorted,
    referenceAlerts(
      truth.minutes.map(([key, [count]]) => [key, count]),
      MINUTE_MS,
    ),
  );
  return sorted;
}

function sortAlerts(alerts: readonly AlertRow[]): AlertRow[] {
  return [...alerts].sort((a, b) =>
    a.window_start !== b.window_start ? a.window_start - b.window_start : a.series < b.series ? -1 : 1,
  );
}

/**
 * The embedded log as a member of a consumer group that always owns `partitions`: a stand-in for Kafka's
 * group coordinator (test/services/scale-out.test.ts runs the real one), so members run one after the other.
 */
function withStaticGroup(log: EmbeddedLog, partitions: number[]): Log {
  const member: GroupMember = {
    group: "pulse-stream",
    generation: 1,
    assigned: () => [...partitions],
    ready: async () => undefined,
    commit: (topic, offsets) => log.commit("pulse-stream", topic, offsets),
    leave: async () => undefined,
  };
  return new Proxy(log, {
    get(target, name) {
      if (name === "joinGroup") return async () => member;
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Every alert on the `alerts` topic written by the default job, in log order. */
async function alertsOnTopic(fx: Fixture): Promise<AlertRow[]> {
  const info = await fx.log.describeTopic(TOPICS.alerts);
  const out: AlertRow[] = [];
  for (const { partition, highWatermark } of info.offsets) {
    const records = await fx.log.fetch(TOPICS.alerts, partition, 0, { maxRecords: highWatermark + 1 });
    for (const record of records) {
      expect(record.headers[JOB_HEADER]?.toString("utf8")).toBe("pulse-stream");
      const alert = JSON.parse(asBuffer(record.value!).toString("utf8")) as AlertRow;
      expect(record.key === null ? undefined : asBuffer(record.key).toString("utf8")).toBe(alert.series);
      out.push(alert);
    }
  }
  return out;
}

describe("stream job anomaly alerts", () => {
  it("flags the injected burst, and only it, in the store and on the alerts topic, equal to an independent scoring", async (ctx) => {
    const fx = await setup(ctx);
    await produceBurstHour(fx);
    const store = fx.openStore();
    const committed: StoreBatch[] = [];
    await job(fx, { store, maxBatchRecords: 5_000, onCommitted: (b) => committed.push(b) }).drain();

    const expected = await expectedAlerts(fx.dataDir);
    const stored = sortAlerts(await store.alerts(10_000));
    expect(stored).toEqual(expected);
    expect(sortAlerts(await alertsOnTopic(fx))).toEqual(expected);
    expect(sortAlerts(committed.flatMap((b) => b.alerts ?? []))).toEqual(expected);

    // The total series spikes in the burst's windows and nowhere else.
    const total = stored.filter((a) => a.series === "activity.all.event_count");
    expect(total.map((a) => [new Date(a.window_start).toISOString(), a.kind])).toEqual([
      ["2024-05-02T10:30:00.000Z", "spike"],
      ["2024-05-02T10:31:00.000Z", "spike"],
    ]);
    expect(total[0]!.observed).toBeGreaterThan(3 * total[0]!.expected);
    expect(total[0]!.score).toBeGreaterThan(4);
    // Per type, too: the busiest type spikes with the total.
    expect(stored.some((a) => a.series === "activity.VIEW.event_count" && a.kind === "spike")).toBe(true);
    for (const alert of stored) {
      expect(alert.window_start).toBeGreaterThanOrEqual(BURST.atMs);
      expect(alert.window_start).toBeLessThan(BURST.atMs + BURST.durationMs + 5 * MINUTE_MS);
    }
  });

  it("after crashes between the alerts produce and the store commit, a restart neither loses nor repeats an alert", async (ctx) => {
    const fx = await setup(ctx);
    await produceBurstHour(fx);
    // Round 1 crashes at its first commit that holds alerts (they are on the topic already); round 2
    // crashes a few batches later, with other batch sizes; round 3 drains.
    const first = new CommitFailingStore(fx.openStore(), (_, b) => (b.alerts?.length ?? 0) > 0);
    await expect(job(fx, { store: first, maxBatchRecords: 4_000 }).drain()).rejects.toThrow(/injected crash/);
    expect((await alertsOnTopic(fx)).length).toBeGreaterThan(0);
    let commits = 0;
    const second = new CommitFailingStore(fx.openStore(), () => ++commits === 4);
    await expect(job(fx, { store: second, maxBatchRecords: 1_500 }).drain()).rejects.toThrow(
      /injected crash/,
    );
    const store = fx.openStore();
    await job(fx, { store, maxBatchRecords: 7_000 }).drain();

    const expected = await expectedAlerts(fx.dataDir);
    expect(expected.length).toBeGreaterThan(0);
    expect(sortAlerts(await store.alerts(10_000))).toEqual(expected);
    expect(sortAlerts(await alertsOnTopic(fx))).toEqual(expected);
  });

  it("scaled out, then alone: the owner of partition 0 scores from the store, a lone job takes over, the alerts equal an independent scoring", async (ctx) => {
    const fx = await setup(ctx);
    await produceBurstHour(fx);
    const store = fx.openStore();
    // Two members of one group. B drains partitions 1 and 2. A, the alert owner, reads partition 0 in
    // small batches, scoring from the store (B's rows and its own) after every batch, and stops once
    // its partition is past 10:45: the windows after that are finished in B's partitions, not in A's.
    const b = job(fx, { store, log: withStaticGroup(fx.log, [1, 2]) });
    await b.drain();
    const stop = new AbortController();
    const a = job(fx, {
      store,
      log: withStaticGroup(fx.log, [0]),
      maxBatchRecords: 500,
      storedAlertsPollMs: 0,
      onCommitted: (batch) => {
        if (batch.windows?.activity?.some((w) => w.final && w.window_start >= T0 + 45 * MINUTE_MS))
          stop.abort();
      },
    });
    await a.drain(stop.signal);
    expect(stop.signal.aborted).toBe(true);
    const scaledOut = sortAlerts(await store.alerts(10_000));
    const expected = await expectedAlerts(fx.dataDir);
    // What the owner scored is what one job scores for those windows: the burst among them.
    expect(scaledOut).toEqual(expected.filter((e) => e.window_start < T0 + 45 * MINUTE_MS));
    expect(scaledOut.some((e) => e.series === "activity.all.event_count" && e.kind === "spike")).toBe(true);

    // A lone job, owning every partition, finishes the rest. Partitions 1 and 2 finished those windows
    // under B, so their rows come from the store: its own flushes hold only partition 0's.
    await job(fx, { store }).drain();
    expect(sortAlerts(await store.alerts(10_000))).toEqual(expected);
    expect(sortAlerts(await alertsOnTopic(fx))).toEqual(expected);
  });

  it("raises nothing with anomaly detection switched off", async (ctx) => {
    const fx = await setup(ctx);
    await produceBurstHour(fx);
    const store = fx.openStore();
    await job(fx, { store, anomaly: false }).drain();
    expect(await store.alerts(10_000)).toEqual([]);
    expect((await fx.log.listTopics()).map((t) => t.name)).not.toContain(TOPICS.alerts);
  });

  it("pulse produce --burst and pulse stream --drain: the burst's windows spike in the store", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const produced = await runPulseJson<ProduceSummary>(
      [
        ...["produce", "activity", "--count", "200000", "--seed", "5", "--start", "2024-05-02T12:00:00Z"],
        ...["--burst", "+720,120,4", "--malformed", "0", "--json", "--data-dir", dataDir],
      ],
      { timeoutMs: 120_000 },
    );
    expect(produced.sent).toBe(200_000);
    await runPulseJson(["stream", "--drain", "--json", "--topics", TOPICS.activity, "--data-dir", dataDir], {
      timeoutMs: 120_000,
    });
    const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
    onTestFinished(() => store.close());
    const spikes = (await store.alerts(10_000)).filter(
      (a) => a.series === "activity.all.event_count" && a.kind === "spike",
    );
    expect(spikes.map((a) => new Date(a.window_start).toISOString()).sort()).toEqual([
      "2024-05-02T12:12:00.000Z",
      "2024-05-02T12:13:00.000Z",
    ]);

    const bad = await runPulse([
      "produce",
      "activity",
      "--count",
      "10",
      "--burst",
      "+10,0,5",
      "--data-dir",
      dataDir,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--burst .*duration '0'/);
  }, 180_000);
});
