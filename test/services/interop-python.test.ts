// Interop with Confluent's own client, Python confluent-kafka and its Avro serde, through the real broker and Pulse's registry, both ways.
import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { SchemasReport } from "../../src/cli/commands/schemas.ts";
import type { StreamSummary } from "../../src/cli/commands/stream.ts";
import { subjectFor } from "../../src/contracts/schemas.ts";
import { TOPICS, type UserActivityV2 } from "../../src/contracts/types.ts";
import { KafkaLog, kafkaBrokers } from "../../src/log/kafka/index.ts";
import { partitionForKey } from "../../src/log/partitioner.ts";
import { KafkaSchemaRegistry } from "../../src/registry/kafka/registry.ts";
import { AvroSerde, readSchemaId } from "../../src/serde/index.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { DEFAULT_JOB_NAME } from "../../src/stream/job/index.ts";
import { ACTIVITY_SERIES, type ActivityWindow } from "../../src/store/index.ts";
import { REPO_ROOT, runPulseJson, startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { countBy } from "../helpers/topics.ts";
import { KAFKA_URL } from "./services.ts";
import { asBuffer } from "../../src/bytes.ts";

const run = promisify(execFile);

const BROKERS = kafkaBrokers(KAFKA_URL);
const PYTHON_SCRIPTS = join(REPO_ROOT, "test", "services", "python");
/** Pulse's default `topics.partitions`: user-activity has this many on the broker. */
const PARTITIONS = 6;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Direction A's events fall on one day drawn from here (Pulse rejects event times before 2000). */
const FIRST_DAY_MS = Date.UTC(2000, 0, 1);
const DAYS = 6_574; // through 2017-12-31: clear of the REES46 sample (2019) and of simulated "now"
/** The same bound as `pulse live --last`. */
const MAX_LAST = 100_000;
const EVENTS = 2_000;
const PULSE_ENV = { PULSE_LOG: KAFKA_URL };

/** An event as produce_activity.py wrote it to --events-out: the value it serialized, and where Kafka put it. */
type ProducedEvent = UserActivityV2 & { partition: number; offset: number };

interface PythonProduceSummary {
  topic: string;
  subject: string;
  schema_ids: Record<string, number>;
  sent: number;
  produced: number;
  errors: string[];
  by_event_type: Record<string, number>;
  distinct_users: number;
  purchase_cents: number;
}

interface PythonConsumeSummary {
  read: number;
  decoded: number;
  /** Decoded events inside the asked event-time range. */
  tallied: number;
  failed: number;
  failures: string[];
  timed_out: boolean;
  by_event_type: Record<string, number>;
  by_partition: Record<string, number>;
  distinct_users: number;
  purchase_cents: number;
  schema_ids: Record<string, number>;
}

/** What a reader reports about a set of UserActivity records: the figures both sides must agree on. */
interface ActivityTally {
  tallied: number;
  by_event_type: Record<string, number>;
  by_partition: Record<string, number>;
  distinct_users: number;
  purchase_cents: number;
  schema_ids: Record<string, number>;
}

// One Pulse server (registry and log on Kafka) and one data folder for the whole file.
const suite = new SuiteCleanups();
let python: string;
let dataDir: string;
/** Pulse's registry, served by `pulse serve` at the root of its HTTP server. */
let registryUrl: string;
/** The id Pulse registered for user-activity-value when it opened its producers. */
let activityId: number;

beforeAll(async () => {
  if (process.env.PULSE_TEST_KAFKA === undefined) {
    // Idempotent: returns once the broker answers.
    await run(join(REPO_ROOT, "scripts/services/kafka.sh"), ["start"], { timeout: 600_000 });
  }
  // The first run builds the venv from PyPI; later runs find the stamp and return at once.
  const env = await run(join(REPO_ROOT, "scripts/services/python-env.sh"), [], { timeout: 600_000 });
  python = env.stdout.trim().split("\n").at(-1)!;

  dataDir = tempDir(suite.add, "pulse-interop-");
  const server = await startPulse(["serve", "--port", "0", "--data-dir", dataDir], {
    env: PULSE_ENV,
    waitFor: /listening on (http:\/\/[^\s]+) /,
    onCleanup: suite.add,
  });
  registryUrl = server.match[1]!;
  // `pulse serve` opened Pulse's producers, which registered the contract schemas the way every Pulse
  // producer does: the .avsc text under the TopicNameStrategy subject.
  const schemas = await runPulseJson<SchemasReport>(["schemas", "--json", "--data-dir", dataDir], {
    env: PULSE_ENV,
  });
  const activity = schemas.subjects.find((s) => s.subject === subjectFor(TOPICS.activity));
  expect(activity?.versions).toHaveLength(1);
  activityId = activity!.versions[0]!.id;
}, 900_000);

afterAll(suite.run);

describe("confluent-kafka's AvroSerializer against Pulse's registry", () => {
  it.each(["lookup", "register", "latest"])(
    "finds the id Pulse registered (schema mode %s), at / and at /registry",
    async (mode) => {
      for (const base of [registryUrl, `${registryUrl}/registry`]) {
        const resolved = await runPython<{ subject: string; schema_mode: string; schema_id: number }>(
          "produce_activity.py",
          [
            ...["--registry", base, "--schema-mode", mode, "--resolve-only"],
            ...["--start-ms", String(FIRST_DAY_MS)],
          ],
        );
        expect(resolved).toEqual({
          subject: subjectFor(TOPICS.activity),
          schema_mode: mode,
          schema_id: activityId,
        });
      }
    },
  );
});

describe("Python → Pulse", () => {
  it("the stream job's windows and daily totals equal those of the events confluent-kafka produced", async (context) => {
    const runId = randomBytes(5).toString("hex");
    // user-activity is shared by every Kafka-backed run (no topic-name setting), so these events get a
    // day of their own: the windows of that day hold them and nothing else.
    const dayMs = FIRST_DAY_MS + randomInt(DAYS) * DAY_MS;
    const eventsFile = join(dataDir, `python-${runId}.ndjson`);
    const produced = await runPython<PythonProduceSummary>("produce_activity.py", [
      ...["--bootstrap", BROKERS.join(","), "--registry", registryUrl, "--topic", TOPICS.activity],
      ...["--count", String(EVENTS), "--seed", String(randomInt(2 ** 31 - 1)), "--prefix", `py-${runId}`],
      ...["--start-ms", String(dayMs + 6 * HOUR_MS), "--span-ms", String(2 * HOUR_MS)],
      ...["--events-out", eventsFile],
    ]);
    expect(produced.errors).toEqual([]);
    expect(produced.produced).toBe(EVENTS);
    expect(produced.schema_ids).toEqual({ [activityId]: EVENTS });
    const events = readEvents(eventsFile);
    expect(events).toHaveLength(EVENTS);
    expect(events.every((e) => e.event_time >= dayMs && e.event_time < dayMs + DAY_MS)).toBe(true);
    // librdkafka's murmur2_random put every key where Pulse's partitioner (and Java's) puts it.
    const misplaced = events.filter(
      (e) => e.partition !== partitionForKey(Buffer.from(e.user_id), PARTITIONS),
    );
    expect(misplaced).toEqual([]);

    const job = `interop-python-${runId}`;
    cleanupGroup(context, job);
    // A fresh job reads the whole shared topic, where records of other runs carry event times up to now:
    // an out-of-orderness reaching back past this day keeps these events from being late on any partition.
    const outOfOrdernessHours = Math.ceil((Date.now() + DAY_MS - dayMs) / HOUR_MS);
    const stream = await runPulseJson<StreamSummary>(
      [
        ...["stream", "--drain", "--json", "--job", job, "--topics", TOPICS.activity, "--no-alerts"],
        ...["--window", "1m", "--out-of-orderness", `${outOfOrdernessHours}h`, "--data-dir", dataDir],
      ],
      { env: PULSE_ENV, timeoutMs: 300_000 },
    );
    expect(stream.drained).toBe(true);
    expect(stream.read).toBeGreaterThanOrEqual(EVENTS);

    const live = await runPulseJson<{ window_ms: number; windows: ActivityWindow[] }>(
      ["live", "activity", "--json", "--last", String(MAX_LAST), "--window", "1m", "--data-dir", dataDir],
      { env: PULSE_ENV },
    );
    const expected = expectedWindows(events, MINUTE_MS);
    // --last counts window starts back from the newest: the oldest one returned must reach this day.
    const oldest = live.windows.reduce((min, w) => Math.min(min, w.window_start), Number.POSITIVE_INFINITY);
    expect(oldest).toBeLessThanOrEqual(expected[0]!.window_start);
    const ofDay = live.windows.filter((w) => w.window_start >= dayMs && w.window_start < dayMs + DAY_MS);
    expect(sortWindows(ofDay)).toEqual(expected);

    const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
    try {
      const daily = await store.daily(ACTIVITY_SERIES, { fromMs: dayMs, toMs: dayMs + DAY_MS });
      expect(sortWindows(daily)).toEqual(expectedWindows(events, DAY_MS));
    } finally {
      await store.close();
    }
    // And the totals agree with what the Python side counted as it produced.
    expect(countBy(events, (e) => e.event_type)).toEqual(produced.by_event_type);
    expect(new Set(events.map((e) => e.user_id)).size).toBe(produced.distinct_users);
  }, 600_000);
});

describe("Pulse → Python", () => {
  it.for(["none", "lz4", "snappy", "gzip"] as const)(
    "compression %s: confluent-kafka's AvroDeserializer decodes every record `pulse produce` wrote, with the same counts as Pulse's serde",
    { timeout: 600_000 },
    async (codec) => {
      // Others may write to the shared topic meanwhile: this run's events get a day of their own, and both
      // readers tally only the events of that day among the records produced while it ran.
      const dayMs = FIRST_DAY_MS + randomInt(DAYS) * DAY_MS;
      const day = ["--event-time-from-ms", String(dayMs), "--event-time-to-ms", String(dayMs + DAY_MS)];
      const log = KafkaLog.open({ brokers: BROKERS, clientId: "pulse-interop-test" });
      try {
        const before = await highWatermarks(log, TOPICS.activity);
        const produced = await runPulseJson<ProduceSummary>(
          [
            ...["produce", "activity", "--count", String(EVENTS), "--seed", String(randomInt(2 ** 31 - 1))],
            ...["--start", new Date(dayMs + HOUR_MS).toISOString(), "--json", "--data-dir", dataDir],
          ],
          { env: { ...PULSE_ENV, PULSE_COMPRESSION: codec }, timeoutMs: 300_000 },
        );
        const after = await highWatermarks(log, TOPICS.activity);
        expect(produced.produced).toBe(EVENTS - produced.dead_lettered);
        expect(sumOffsets(after) - sumOffsets(before)).toBeGreaterThanOrEqual(produced.produced);

        const consumed = await runPython<PythonConsumeSummary>("consume_activity.py", [
          ...[
            "--bootstrap",
            BROKERS.join(","),
            "--registry",
            `${registryUrl}/registry`,
            "--topic",
            TOPICS.activity,
          ],
          ...["--from-offsets", JSON.stringify(before), "--to-offsets", JSON.stringify(after), ...day],
          ...["--timeout", "90"],
        ]);
        expect(consumed.failures).toEqual([]);
        expect(consumed.timed_out).toBe(false);
        expect(consumed.decoded).toBe(consumed.read);
        expect(consumed.tallied).toBe(produced.produced);
        expect(consumed.schema_ids).toEqual({ [activityId]: produced.produced });

        // On Kafka the registry is the cluster's (the _schemas topic), shared with `pulse serve`.
        const registry = KafkaSchemaRegistry.open({ brokers: BROKERS });
        try {
          const serde = new AvroSerde(registry);
          const pulseSide = await tallyRange(log, serde, TOPICS.activity, before, after, [
            dayMs,
            dayMs + DAY_MS,
          ]);
          const { tallied, by_event_type, by_partition, distinct_users, purchase_cents, schema_ids } =
            consumed;
          expect({
            tallied,
            by_event_type,
            by_partition,
            distinct_users,
            purchase_cents,
            schema_ids,
          }).toEqual(pulseSide);
        } finally {
          await registry.close();
        }
      } finally {
        await log.close();
      }
    },
  );
});

describe("Pulse reads the batches librdkafka writes", () => {
  // zstd included: on a Node without zlib zstd (20), KafkaLog reads it with a pure-JS decoder.
  const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

  it.for(codecs)(
    "compression %s: every value decodes to exactly the event Python serialized",
    async (codec, context) => {
      const log = KafkaLog.open({ brokers: BROKERS, clientId: "pulse-interop-test" });
      try {
        // A topic of its own, so the records read back are exactly the ones written here.
        const topic = `interop-python-${codec}-${randomBytes(5).toString("hex")}`;
        cleanupTopic(context, topic);
        await log.ensureTopic({ name: topic, partitions: PARTITIONS });
        const eventsFile = join(dataDir, `${topic}.ndjson`);
        const produced = await runPython<PythonProduceSummary>("produce_activity.py", [
          ...["--bootstrap", BROKERS.join(","), "--registry", registryUrl, "--topic", topic],
          // A new subject (<topic>-value) for the same schema: the registry answers with the same global id.
          ...["--schema-mode", "register", "--compression", codec, "--count", "300", "--seed", "11"],
          ...["--prefix", topic, "--start-ms", String(Date.UTC(2017, 0, 1)), "--events-out", eventsFile],
        ]);
        expect(produced.errors).toEqual([]);
        expect(produced.schema_ids).toEqual({ [activityId]: 300 });

        // On Kafka the registry is the cluster's (the _schemas topic), shared with `pulse serve`.
        const registry = KafkaSchemaRegistry.open({ brokers: BROKERS });
        try {
          const serde = new AvroSerde(registry);
          const decoded: ProducedEvent[] = [];
          for (const { partition, lowWatermark, highWatermark } of (await log.describeTopic(topic)).offsets) {
            for (const record of await fetchRange(log, topic, partition, lowWatermark, highWatermark)) {
              const value = await serde.decode<UserActivityV2>(record.value);
              expect(asBuffer(record.key!).toString("utf8")).toBe(value.user_id);
              decoded.push({ ...value, partition, offset: record.offset });
            }
          }
          const byId = (a: ProducedEvent, b: ProducedEvent): number => (a.event_id < b.event_id ? -1 : 1);
          expect(decoded.sort(byId)).toEqual(readEvents(eventsFile).sort(byId));
        } finally {
          await registry.close();
        }
      } finally {
        await log.close();
      }
    },
  );
});

describe("Pulse reads transactions as a read_committed consumer", () => {
  it.for(["none", "lz4"] as const)(
    "compression %s: only committed records, in order, a page of any size at a time",
    async (codec, context) => {
      const log = KafkaLog.open({ brokers: BROKERS, clientId: "pulse-interop-test" });
      try {
        const topic = `interop-python-txn-${codec}-${randomBytes(5).toString("hex")}`;
        cleanupTopic(context, topic);
        await log.ensureTopic({ name: topic, partitions: 1 });
        // Aborted transactions first, between, and last; plain records between transactions.
        const produced = await runPython<{ committed: string[]; aborted: string[]; errors: string[] }>(
          "produce_transactions.py",
          [
            ...["--brokers", BROKERS.join(","), "--topic", topic, "--compression", codec],
            ...["--plan", "abort:3,commit:2,plain:2,abort:4,commit:3,plain:1,abort:1,commit:1"],
            ...["--transactional-id", `pulse-test-${topic}`],
          ],
        );
        expect(produced.errors).toEqual([]);
        expect(produced.committed).toEqual(["1-0", "1-1", "2-0", "2-1", "4-0", "4-1", "4-2", "5-0", "7-0"]);
        expect(produced.aborted).toHaveLength(8);
        const { highWatermark } = (await log.describeTopic(topic)).offsets[0]!;
        // 17 records and 6 markers (each transaction's control batch).
        expect(highWatermark).toBe(17 + 6);

        // Each call starts where the last one ended: inside an answer kept from the call before, at an
        // aborted batch, or at a marker.
        for (const page of [1, 2, 3, 1000]) {
          const values: string[] = [];
          let offset = 0;
          for (let calls = 0; offset < highWatermark && calls < 100; calls++) {
            const records = await log.fetch(topic, 0, offset, { maxRecords: page });
            if (records.length === 0) break;
            expect(records.length).toBeLessThanOrEqual(page);
            for (const record of records) values.push(asBuffer(record.value!).toString("utf8"));
            offset = records.at(-1)!.offset + 1;
          }
          expect(values, `pages of ${page}`).toEqual(produced.committed);
          // The partition ends with a commit marker: the position is past it, at the high watermark.
          expect(await log.fetch(topic, 0, offset, { maxRecords: page })).toEqual([]);
          expect(log.position(topic, 0), `pages of ${page}`).toBe(highWatermark);
        }
        // A read from inside an aborted transaction goes on at the next committed record.
        expect(log.position(topic, 0)).toBe(highWatermark);
        const fromAborted = await log.fetch(topic, 0, 1, { maxRecords: 1 });
        expect(fromAborted.map((r) => asBuffer(r.value!).toString("utf8"))).toEqual(["1-0"]);
      } finally {
        await log.close();
      }
    },
  );
});

describe("a stream job on a transactional topic", () => {
  /**
   * A one-partition user-activity topic under a prefix of the test's own, written with confluent-kafka
   * transactions by `plan`, and the data folder and environment of a Pulse job on it.
   */
  async function transactionalTopic(context: TestContext, plan: string) {
    const prefix = `txn-${randomBytes(4).toString("hex")}-`;
    const topic = `${prefix}${TOPICS.activity}`;
    for (const name of [topic, `${topic}.dlq`]) cleanupTopic(context, name);
    const log = KafkaLog.open({ brokers: BROKERS, clientId: "pulse-interop-test" });
    try {
      await log.ensureTopic({ name: topic, partitions: 1 });
    } finally {
      await log.close();
    }
    const produced = await runPython<{ committed: string[]; aborted: string[]; errors: string[] }>(
      "produce_transactions.py",
      [
        ...["--brokers", BROKERS.join(","), "--topic", topic, "--plan", plan],
        ...["--transactional-id", `pulse-test-${topic}`],
      ],
    );
    expect(produced.errors).toEqual([]);
    return {
      produced,
      dataDir: tempDir((cleanup) => context.onTestFinished(cleanup), "pulse-txn-"),
      env: { ...PULSE_ENV, PULSE_TOPIC_PREFIX: prefix, PULSE_PARTITIONS: "1" },
    };
  }

  /** The job's checkpointed next offsets of user-activity in the data folder's store. */
  async function checkpoints(dataDir: string): Promise<Map<number, number>> {
    const store = EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
    try {
      return await store.checkpointOffsets(DEFAULT_JOB_NAME, TOPICS.activity);
    } finally {
      await store.close();
    }
  }

  it("drains it to its high watermark: the checkpoint is past the last commit marker, the lag 0", async (context) => {
    const { produced, dataDir, env } = await transactionalTopic(context, "commit:2,abort:2,commit:3");
    expect(produced.committed).toHaveLength(5);
    const stream = await runPulseJson<StreamSummary>(
      ["stream", "--drain", "--json", "--topics", TOPICS.activity, "--no-alerts", "--data-dir", dataDir],
      { env, timeoutMs: 300_000 },
    );
    // Only the committed records are read; they are not Avro, so each is a dead letter.
    expect(stream.drained).toBe(true);
    expect(stream.read).toBe(5);
    expect(stream.dead_lettered).toBe(5);
    // 7 records and 3 markers: the checkpoint is at 10, where Kafka's consumer position is too.
    expect(await checkpoints(dataDir)).toEqual(new Map([[0, 10]]));
  });

  it("a running job commits its position past a commit marker it reads alone", async (context) => {
    // One transaction of 3 records, then its commit marker: 4 offsets.
    const { dataDir, env } = await transactionalTopic(context, "commit:3");
    // Batches of 3 records: the first ends at the last record, so the next one finds only the marker.
    const job = await startPulse(
      ["stream", "--topics", TOPICS.activity, "--no-alerts", "--max-batch", "3", "--data-dir", dataDir],
      { env, waitFor: /pulse stream: job/, onCleanup: (cleanup) => context.onTestFinished(cleanup) },
    );
    try {
      let offsets = new Map<number, number>();
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
        offsets = await checkpoints(dataDir);
        if (offsets.get(0) === 4) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(offsets).toEqual(new Map([[0, 4]]));
    } finally {
      await job.stop();
    }
  });
});

// --- helpers ------------------------------------------------------------------------------------

/** Runs one of test/services/python/*.py with the venv's interpreter; its last stdout line is JSON. */
async function runPython<T>(script: string, args: readonly string[]): Promise<T> {
  let stdout: string;
  try {
    ({ stdout } = await run(python, [join(PYTHON_SCRIPTS, script), ...args], {
      cwd: REPO_ROOT,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    }));
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    throw new Error(
      `${script} ${args.join(" ")} exited with ${failed.code}\n--- stdout ---\n${failed.stdout?.slice(-4000)}\n--- stderr ---\n${failed.stderr?.slice(-4000)}`,
    );
  }
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as T;
}

function readEvents(file: string): ProducedEvent[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as ProducedEvent);
}

/**
 * The windows Pulse should report for `events` with tumbling windows of `sizeMs` (a day: the daily
 * totals), computed here from the events alone: counts, distinct users and sessions, revenue from
 * whole cents per PURCHASE, every window final after a drain.
 */
function expectedWindows(events: readonly UserActivityV2[], sizeMs: number): ActivityWindow[] {
  const groups = new Map<string, { start: number; type: string; events: UserActivityV2[] }>();
  for (const event of events) {
    const start = Math.floor(event.event_time / sizeMs) * sizeMs;
    const key = `${start}/${event.event_type}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { start, type: event.event_type, events: [] };
      groups.set(key, group);
    }
    group.events.push(event);
  }
  return sortWindows(
    [...groups.values()].map(({ start, type, events: members }) => ({
      window_start: start,
      window_end: start + sizeMs,
      event_type: type,
      event_count: members.length,
      unique_users: new Set(members.map((e) => e.user_id)).size,
      sessions: new Set(members.map((e) => e.session_id)).size,
      revenue:
        members.reduce(
          (cents, e) => cents + (e.event_type === "PURCHASE" ? Math.round(e.amount! * 100) : 0),
          0,
        ) / 100,
      final: true,
    })),
  );
}

function sortWindows(windows: readonly ActivityWindow[]): ActivityWindow[] {
  return [...windows].sort((a, b) =>
    a.window_start !== b.window_start
      ? a.window_start - b.window_start
      : a.event_type < b.event_type
        ? -1
        : a.event_type > b.event_type
          ? 1
          : 0,
  );
}

async function highWatermarks(log: KafkaLog, topic: string): Promise<Record<string, number>> {
  const { offsets } = await log.describeTopic(topic);
  return Object.fromEntries(offsets.map((o) => [String(o.partition), o.highWatermark]));
}

function sumOffsets(offsets: Record<string, number>): number {
  return Object.values(offsets).reduce((a, b) => a + b, 0);
}

async function fetchRange(log: KafkaLog, topic: string, partition: number, from: number, to: number) {
  const records = [];
  let next = from;
  while (next < to) {
    const page = await log.fetch(topic, partition, next, { maxRecords: Math.min(5_000, to - next) });
    if (page.length === 0) throw new Error(`${topic}[${partition}]: no records at ${next} below ${to}`);
    for (const record of page) if (record.offset < to) records.push(record);
    next = page[page.length - 1]!.offset + 1;
  }
  return records;
}

/**
 * Pulse's own reading of the records in [from, to) of each partition, tallied like consume_activity.py:
 * the events with an event time in [fromMs, toMs).
 */
async function tallyRange(
  log: KafkaLog,
  serde: AvroSerde,
  topic: string,
  from: Record<string, number>,
  to: Record<string, number>,
  [fromMs, toMs]: [number, number],
): Promise<ActivityTally> {
  const events: UserActivityV2[] = [];
  const partitions: string[] = [];
  const ids: string[] = [];
  for (const partition of Object.keys(to)) {
    for (const record of await fetchRange(
      log,
      topic,
      Number(partition),
      from[partition] ?? 0,
      to[partition]!,
    )) {
      const event = await serde.decode<UserActivityV2>(record.value);
      if (event.event_time < fromMs || event.event_time >= toMs) continue;
      events.push(event);
      ids.push(String(readSchemaId(record.value)));
      partitions.push(partition);
    }
  }
  return {
    tallied: events.length,
    by_event_type: countBy(events, (e) => e.event_type),
    by_partition: countBy(partitions, (p) => p),
    distinct_users: new Set(events.map((e) => e.user_id)).size,
    purchase_cents: events.reduce(
      (cents, e) =>
        cents + (e.event_type === "PURCHASE" && e.amount !== null ? Math.round(e.amount * 100) : 0),
      0,
    ),
    schema_ids: countBy(ids, (id) => id),
  };
}

/** Deletes a consumer group this test made, when the test ends (the job commits its offsets as one). */
function cleanupGroup(context: TestContext, group: string): void {
  context.onTestFinished(() => withAdmin((admin) => admin.deleteGroups({ groups: [group] })));
}

/** Deletes a topic this test made, when the test ends. */
function cleanupTopic(context: TestContext, topic: string): void {
  context.onTestFinished(() => withAdmin((admin) => admin.deleteTopics({ topics: [topic] })));
}

async function withAdmin(action: (admin: Admin) => Promise<void>): Promise<void> {
  const admin = new Admin({ clientId: "pulse-interop-test", bootstrapBrokers: BROKERS });
  try {
    await action(admin);
  } finally {
    await admin.close();
  }
}
