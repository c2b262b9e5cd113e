// StreamJob against the real embedded log, registry and live store: windows, late and raw events, dead letters, restarts.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, type TestContext } from "vitest";
import {
  DEFAULT_JOB_NAME,
  JOB_HEADER,
  StreamJob,
  type StreamJobOptions,
  type StreamProgress,
  type StreamRunSummary,
} from "./job.ts";
import { decodeRawEvent } from "../lake/decode.ts";
import { prng } from "../../test/helpers/stream.ts";
import { SCHEMA_TEXTS, subjectFor, userActivityV2Type } from "../contracts/schemas.ts";
import type { DeadLetter, EventType, UserActivityV2, WikimediaRecentChange } from "../contracts/types.ts";
import { ValidationCode } from "../contracts/validate.ts";
import { SerdeErrorCode, StoreError, StoreErrorCode, StreamError, StreamErrorCode } from "../errors.ts";
import { activityProducer, recentChangeProducer } from "../ingest/producer.ts";
import { EmbeddedLog } from "../log/embedded.ts";
import type { Log } from "../log/index.ts";
import { SchemaRegistry } from "../registry/registry.ts";
import { AvroSerde } from "../serde/index.ts";
import { EmbeddedLiveStore } from "../store/embedded/index.ts";
import type { LiveStore, StoreBatch } from "../store/index.ts";
import { decodeRawBatch } from "../lake/batch.ts";

const T0 = Date.UTC(2024, 4, 1, 23, 57);
const PARTITIONS = 3;
const ACTIVITY = "user-activity";
const WIKI = "wikimedia.recentchange";
const TYPES: EventType[] = ["VIEW", "VIEW", "CLICK", "ADD_TO_CART", "PURCHASE", "SEARCH"];

interface Fixture {
  dir: string;
  log: Log;
  serde: AvroSerde;
  store: LiveStore;
  /** A second, fresh store handle on the same file: what a restarted process would open. */
  reopenStore(): LiveStore;
}

async function setup(ctx: TestContext): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-job-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db") });
  const registry = SchemaRegistry.open({ path: ":memory:" });
  const serde = new AvroSerde(registry);
  const stores: LiveStore[] = [];
  const reopenStore = (): LiveStore => {
    const store = EmbeddedLiveStore.open({ path: join(dir, "store.db") });
    stores.push(store);
    return store;
  };
  const store = reopenStore();
  for (const topic of [ACTIVITY, WIKI]) {
    await log.ensureTopic({ name: topic, partitions: PARTITIONS });
    await log.ensureTopic({ name: `${topic}.dlq`, partitions: PARTITIONS });
  }
  ctx.onTestFinished(async () => {
    for (const s of stores) await s.close();
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, log, serde, store, reopenStore };
}

function uuid(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface GenOptions {
  seed: number;
  count: number;
  users?: number;
  /** Share of events re-sent unchanged (same event_id). */
  duplicateShare?: number;
  /** Share of events whose event time lags by 0–90 s (some late for a 10 s out-of-orderness). */
  lagShare?: number;
}

/** Events at about 20/s of event time from T0, crossing midnight UTC, with duplicates and stragglers. */
function generate(options: GenOptions): UserActivityV2[] {
  const rand = prng(options.seed);
  const out: UserActivityV2[] = [];
  let t = T0;
  while (out.length < options.count) {
    if (out.length > 10 && rand() < (options.duplicateShare ?? 0)) {
      out.push({ ...out[out.length - 1 - Math.floor(rand() * 10)]! });
      continue;
    }
    t += Math.floor(rand() * 100);
    const lag = rand() < (options.lagShare ?? 0) ? Math.floor(rand() * 90_000) : 0;
    const type = TYPES[Math.floor(rand() * TYPES.length)]!;
    const user = `u${Math.floor(rand() * (options.users ?? 200))}`;
    out.push({
      event_id: uuid(rand),
      user_id: user,
      session_id: `${user}-s${Math.floor(rand() * 3)}`,
      event_type: type,
      event_time: t - lag,
      page: "/p",
      referrer: null,
      device: "DESKTOP",
      country: null,
      amount: type === "PURCHASE" ? Math.round(rand() * 10_000) / 100 : null,
      currency: type === "PURCHASE" ? "EUR" : null,
      app_version: null,
    });
  }
  return out;
}

async function produceActivity(fx: Fixture, events: readonly UserActivityV2[]): Promise<void> {
  const producer = activityProducer({ log: fx.log, serde: fx.serde });
  const result = await producer.send(events);
  expect(result.rejected).toEqual([]);
}

interface Truth {
  /** `${window_start}|${event_type}` → [event_count, unique_users]. */
  windows: Map<string, [number, number]>;
  /** `${day_start}|${event_type}` → [event_count, unique_users]. */
  days: Map<string, [number, number]>;
  late: number;
  duplicates: number;
  accepted: number;
  /** `${partition}:${offset}` → event_id of every event the raw lake keeps (on time and late). */
  lake: Map<string, string>;
}

/**
 * The speed layer's rules, written naively over the records of the topic in offset order per partition:
 * watermark = max event time seen in the partition − out-of-orderness; an event whose 1-minute window
 * ends at or before it is late; an event_id seen before (on time) in the partition is a duplicate.
 */
async function truthOf(log: Log, serde: AvroSerde, outOfOrdernessMs = 10_000): Promise<Truth> {
  const cells = new Map<string, { count: number; users: Set<string> }>();
  const days = new Map<string, { count: number; users: Set<string> }>();
  const truth: Truth = {
    windows: new Map(),
    days: new Map(),
    late: 0,
    duplicates: 0,
    accepted: 0,
    lake: new Map(),
  };
  const add = (map: typeof cells, key: string, user: string): void => {
    let cell = map.get(key);
    if (cell === undefined) {
      cell = { count: 0, users: new Set() };
      map.set(key, cell);
    }
    cell.count++;
    cell.users.add(user);
  };
  const info = await log.describeTopic(ACTIVITY);
  for (const { partition, highWatermark } of info.offsets) {
    let max = Number.NEGATIVE_INFINITY;
    const seen = new Set<string>();
    for (const record of await log.fetch(ACTIVITY, partition, 0, { maxRecords: highWatermark + 1 })) {
      let e: UserActivityV2;
      try {
        e = await serde.decode<UserActivityV2>(record.value);
      } catch {
        continue;
      }
      // The contract rules the bad records break: a UUID event_id, no event time 5 min past the append.
      if (!/^[0-9a-f-]{36}$/.test(e.event_id) || e.event_time > record.timestampMs + 300_000) continue;
      max = Math.max(max, e.event_time);
      const start = Math.floor(e.event_time / 60_000) * 60_000;
      if (start + 60_000 <= max - outOfOrdernessMs) {
        truth.late++;
        truth.lake.set(`${partition}:${record.offset}`, e.event_id);
        continue;
      }
      if (seen.has(e.event_id)) {
        truth.duplicates++;
        continue;
      }
      seen.add(e.event_id);
      truth.accepted++;
      truth.lake.set(`${partition}:${record.offset}`, e.event_id);
      add(cells, `${start}|${e.event_type}`, e.user_id);
      add(days, `${Math.floor(e.event_time / 86_400_000) * 86_400_000}|${e.event_type}`, e.user_id);
    }
  }
  for (const [k, c] of cells) truth.windows.set(k, [c.count, c.users.size]);
  for (const [k, c] of days) truth.days.set(k, [c.count, c.users.size]);
  return truth;
}

async function storedWindows(store: LiveStore): Promise<Map<string, [number, number]>> {
  const rows = await store.activityWindows({ windowMs: 60_000, last: 1_000_000 });
  for (const row of rows) expect(row.final).toBe(true);
  return new Map(rows.map((r) => [`${r.window_start}|${r.event_type}`, [r.event_count, r.unique_users]]));
}

async function storedDays(store: LiveStore): Promise<Map<string, [number, number]>> {
  const rows = await store.activityDaily();
  return new Map(rows.map((r) => [`${r.window_start}|${r.event_type}`, [r.event_count, r.unique_users]]));
}

/** A fresh fixture holding `options`' generated events on the topic, and their truth. */
async function producedWithTruth(
  ctx: TestContext,
  options: GenOptions,
): Promise<{ fx: Fixture; events: UserActivityV2[]; truth: Truth }> {
  const fx = await setup(ctx);
  const events = generate(options);
  await produceActivity(fx, events);
  return { fx, events, truth: await truthOf(fx.log, fx.serde) };
}

/** A run over `input` events counted them as the truth does, and stored its windows and days. */
async function expectTotalsAndWindows(
  store: LiveStore,
  summary: StreamRunSummary,
  input: number,
  truth: Truth,
): Promise<void> {
  expect(summary.totals).toMatchObject({ input, late: truth.late, duplicates: truth.duplicates });
  await expectWindowsAndDays(store, truth);
}

/** Every stored minute window final, and minutes and days equal to the truth. */
async function expectWindowsAndDays(store: LiveStore, truth: Truth): Promise<void> {
  expect(sortedEntries(await storedWindows(store))).toEqual(sortedEntries(truth.windows));
  expect(sortedEntries(await storedDays(store))).toEqual(sortedEntries(truth.days));
}

function sortedEntries<V>(map: Map<string, V>): Array<[string, V]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function deadLetters(
  fx: Fixture,
  topic = ACTIVITY,
): Promise<Array<DeadLetter & { job: string | null }>> {
  const info = await fx.log.describeTopic(`${topic}.dlq`);
  const out: Array<DeadLetter & { job: string | null }> = [];
  for (const { partition, highWatermark } of info.offsets) {
    if (highWatermark === 0) continue;
    for (const record of await fx.log.fetch(`${topic}.dlq`, partition, 0, { maxRecords: highWatermark })) {
      const letter = await fx.serde.decode<DeadLetter>(record.value);
      out.push({ ...letter, job: record.headers[JOB_HEADER]?.toString("utf8") ?? null });
    }
  }
  return out;
}

function job(fx: Fixture, options: Partial<StreamJobOptions> = {}): StreamJob {
  return new StreamJob({ log: fx.log, serde: fx.serde, store: fx.store, topics: [ACTIVITY], ...options });
}

/**
 * A test double around the real store: its first commit after `shouldFail()` turns true fails, as a
 * crash between the job's dead-letter produce and its store commit would.
 */
class CommitFailingStore implements LiveStore {
  failed = false;
  attempts = 0;
  /** `when` "after": the failing commit is applied, then its answer is lost (a retriable error). */
  constructor(
    private readonly inner: LiveStore,
    private readonly shouldFail: (attempt: number) => boolean | Promise<boolean>,
    private readonly when: "before" | "after" = "before",
  ) {}
  async commit(batch: StoreBatch): Promise<void> {
    this.attempts++;
    const fail = !this.failed && (await this.shouldFail(this.attempts));
    if (fail) this.failed = true;
    if (fail && this.when === "before")
      throw new StoreError(StoreErrorCode.storage, "injected crash before commit");
    await this.inner.commit(batch);
    if (fail) {
      throw new StoreError(StoreErrorCode.unavailable, "injected: connection closed after the commit", {
        retriable: true,
      });
    }
  }
  checkpoints = (job: string, topic: string) => this.inner.checkpoints(job, topic);
  checkpointOffsets = (job: string, topic: string) => this.inner.checkpointOffsets(job, topic);
  activityWindows = (q: Parameters<LiveStore["activityWindows"]>[0]) => this.inner.activityWindows(q);
  activityDaily = (r?: Parameters<LiveStore["activityDaily"]>[0]) => this.inner.activityDaily(r);
  wikiWindows = (q: Parameters<LiveStore["wikiWindows"]>[0]) => this.inner.wikiWindows(q);
  finalWindowStarts = (...a: Parameters<LiveStore["finalWindowStarts"]>) =>
    this.inner.finalWindowStarts(...a);
  activityWindowRows = (r: Parameters<LiveStore["activityWindowRows"]>[0]) =>
    this.inner.activityWindowRows(r);
  wikiWindowRows = (r: Parameters<LiveStore["wikiWindowRows"]>[0]) => this.inner.wikiWindowRows(r);
  topPages = (w: number, l: number) => this.inner.topPages(w, l);
  alerts = (l: number) => this.inner.alerts(l);
  lateEvents = (l: number) => this.inner.lateEvents(l);
  get lake() {
    return this.inner.lake;
  }
  close = () => Promise.resolve();
}

/** Writes records that must be dead-lettered, one of each kind, to explicit partitions. */
async function produceBadRecords(
  fx: Fixture,
): Promise<Array<{ partition: number; offset: number; code: string }>> {
  const encode = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
  const good = generate({ seed: 99, count: 3 });
  const notUuid = encode({ ...good[0]!, event_id: "not-a-uuid" });
  const future = encode({ ...good[1]!, event_time: Date.now() + 3_600_000 });
  const frames: Array<{ value: Buffer | null; code: string }> = [
    { value: Buffer.from('{"json": true}'), code: SerdeErrorCode.badMagicByte },
    { value: Buffer.from([0, 0, 0, 0x7f, 0x7f, 1, 2, 3]), code: SerdeErrorCode.unknownSchemaId },
    { value: notUuid.subarray(0, notUuid.length - 4), code: SerdeErrorCode.truncated },
    { value: notUuid, code: ValidationCode.badEventId },
    { value: future, code: ValidationCode.futureEventTime },
    { value: null, code: SerdeErrorCode.invalidPayload },
  ];
  const out: Array<{ partition: number; offset: number; code: string }> = [];
  for (let i = 0; i < frames.length; i++) {
    const partition = i % PARTITIONS;
    const [pos] = await fx.log.produce(ACTIVITY, [
      { key: Buffer.from("bad"), value: frames[i]!.value, partition },
    ]);
    out.push({ partition, offset: pos!.offset, code: frames[i]!.code });
  }
  return out;
}

describe("StreamJob.drain", () => {
  it("turns a bounded topic into final windows and day totals equal to a naive computation", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, {
      seed: 1,
      count: 6_000,
      duplicateShare: 0.03,
      lagShare: 0.05,
    });
    expect(truth.late).toBeGreaterThan(10);
    expect(truth.duplicates).toBeGreaterThan(10);

    const summary = await job(fx, { maxBatchRecords: 700 }).drain();

    await expectWindowsAndDays(fx.store, truth);
    expect(summary).toMatchObject({
      read: events.length,
      drained: true,
      totals: {
        input: events.length,
        accepted: truth.accepted,
        late: truth.late,
        duplicates: truth.duplicates,
        deadLettered: 0,
        partiallyLate: 0,
      },
    });
    expect(summary.windowsFinal).toBe(new Set([...truth.windows.keys()].map((k) => k.split("|")[0])).size);
    expect(summary.watermarkMs).not.toBeNull();

    const late = await fx.store.lateEvents(100_000);
    expect(late).toHaveLength(truth.late);
    for (const row of late) {
      expect(row.topic).toBe(ACTIVITY);
      expect(Math.floor(row.event_time / 60_000) * 60_000 + 60_000).toBeLessThanOrEqual(row.watermark);
      const payload = JSON.parse(row.payload) as UserActivityV2;
      expect(payload.event_time).toBe(row.event_time);
      expect(payload.event_id).toBe(truth.lake.get(`${row.partition}:${row.offset}`));
    }
    // The raw lake holds every valid event once: on time and late, not the dropped duplicates. Each
    // row's value decodes (through the registry) to the event at its position, with its event time.
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(truth.accepted + truth.late);
    const lake = new Map<string, string>();
    for (const row of raw) {
      const event = await decodeRawEvent<UserActivityV2>(fx.serde, row, userActivityV2Type);
      expect(event.event_time).toBe(row.event_time);
      lake.set(`${row.partition}:${row.offset}`, event.event_id);
    }
    expect(sortedEntries(lake)).toEqual(sortedEntries(truth.lake));

    // Checkpoints cover every record, and the group offsets (for lag) match them.
    const checkpoints = await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY);
    const info = await fx.log.describeTopic(ACTIVITY);
    expect(new Map(checkpoints.map((c) => [c.partition, c.nextOffset]))).toEqual(
      new Map(info.offsets.map((o) => [o.partition, o.highWatermark])),
    );
    const lag = await fx.log.lag(DEFAULT_JOB_NAME);
    expect(lag.find((g) => g.topic === ACTIVITY)?.totalLag).toBe(0);
  });

  it("counts records of either schema version, and ids bytes alone cannot judge, as the truth does", async (ctx) => {
    const fx = await setup(ctx);
    const v1 = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV1);
    const v2 = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const events = generate({ seed: 5, count: 3_000, duplicateShare: 0.03, lagShare: 0.05 });
    // v2 frames are read from their bytes; v1 frames (and v2 ones whose ids are only non-ASCII
    // characters, which may be whitespace) are decoded. Both kinds share users and duplicates.
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (i % 7 === 0)
        events[i] = { ...e, user_id: `\u00e9\u00e8${e.user_id.length}`, session_id: "\u00a0\u00e9" };
    }
    await fx.log.produce(
      ACTIVITY,
      events.map((e, i) => ({ key: Buffer.from(e.user_id), value: i % 3 === 0 ? v1(e) : v2(e) })),
    );
    const truth = await truthOf(fx.log, fx.serde);
    expect(truth.duplicates).toBeGreaterThan(10);

    const summary = await job(fx, { maxBatchRecords: 500 }).drain();

    await expectTotalsAndWindows(fx.store, summary, events.length, truth);
    expect(summary.totals.deadLettered).toBe(0);
  });

  it("reads larger batches while the store's commits take longer than the work, unless a size is set", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, { seed: 8, count: 40_000 });
    const largest = async (store: LiveStore, options: Partial<StreamJobOptions>): Promise<number> => {
      let most = 0;
      const summary = await job(fx, {
        store,
        rawLake: true,
        onCommitted: (b) => {
          let rows = 0;
          for (const run of b.rawRuns ?? [])
            rows += decodeRawBatch(Buffer.from(run.bytes), run.topic, run.partition).length;
          most = Math.max(most, rows);
        },
        ...options,
      }).drain();
      expect(summary.totals.input).toBe(events.length);
      return most;
    };
    // A store whose commits take 150 ms: far longer than processing 5,000 records.
    const slow = new CommitFailingStore(fx.store, async () => {
      await sleep(150);
      return false;
    });
    expect(await largest(slow, { job: "slow" })).toBeGreaterThan(5_000);
    expect(await largest(slow, { job: "fixed", maxBatchRecords: 5_000 })).toBeLessThanOrEqual(5_000);
    await expectWindowsAndDays(fx.store, truth);
  });

  it("dead-letters undecodable and invalid records with their source position and reason, and keeps going", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 2, count: 500 });
    await produceActivity(fx, events.slice(0, 250));
    const bad = await produceBadRecords(fx);
    await produceActivity(fx, events.slice(250));

    const summary = await job(fx).drain();

    expect(summary.totals).toMatchObject({
      input: 500 + bad.length,
      deadLettered: bad.length,
      accepted: 500,
    });
    const letters = await deadLetters(fx);
    expect(
      letters.map((l) => ({ partition: l.source_partition, offset: l.source_offset, code: l.error_code })),
    ).toEqual(expect.arrayContaining(bad));
    expect(letters).toHaveLength(bad.length);
    for (const letter of letters) {
      expect(letter).toMatchObject({ source_topic: ACTIVITY, job: DEFAULT_JOB_NAME });
      expect(letter.error_message).not.toBe("");
    }
    const truth = await truthOf(fx.log, fx.serde);
    expect(sortedEntries(await storedWindows(fx.store))).toEqual(sortedEntries(truth.windows));
  });

  it("after a crash between the dead letters and the store commit, a restart neither loses nor repeats a dead letter", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 3, count: 3_000, duplicateShare: 0.02, lagShare: 0.05 });
    await produceActivity(fx, events.slice(0, 1_000));
    const bad1 = await produceBadRecords(fx);
    await produceActivity(fx, events.slice(1_000, 2_000));
    const bad2 = await produceBadRecords(fx);
    await produceActivity(fx, events.slice(2_000));
    const truth = await truthOf(fx.log, fx.serde);

    // Each round crashes at its first commit after it produced dead letters; the batch sizes differ, so
    // a replay re-reads the crashed batch's offsets over several smaller batches.
    let crashes = 0;
    for (const maxBatchRecords of [400, 50, 170, 50]) {
      const before = (await deadLetters(fx)).length;
      const crashing = new CommitFailingStore(
        fx.reopenStore(),
        async () => (await deadLetters(fx)).length > before,
      );
      try {
        await job(fx, { store: crashing, maxBatchRecords }).drain();
      } catch (error) {
        expect((error as Error).message).toMatch(/injected crash/);
        crashes++;
      }
    }
    expect(crashes).toBeGreaterThanOrEqual(2);
    const summary = await job(fx, { store: fx.reopenStore(), maxBatchRecords: 400 }).drain();

    const letters = await deadLetters(fx);
    const positions = letters.map((l) => `${l.source_partition}:${l.source_offset}`);
    expect(positions.sort()).toEqual([...bad1, ...bad2].map((b) => `${b.partition}:${b.offset}`).sort());
    expect(summary.totals.deadLettered).toBe(bad1.length + bad2.length);
    expect(summary.totals.input).toBe(events.length + bad1.length + bad2.length);
    expect(summary.totals.late).toBe(truth.late);
    expect(summary.totals.duplicates).toBe(truth.duplicates);
    expect(sortedEntries(await storedWindows(fx.store))).toEqual(sortedEntries(truth.windows));
    expect(await fx.store.lateEvents(100_000)).toHaveLength(truth.late);
  });

  it("keeps the dead-letter scan mark below a recovered dead letter until a checkpoint passes its offset", async (ctx) => {
    const fx = await setup(ctx);
    const encode = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const good = generate({ seed: 7, count: 200 }).map((e) => ({
      key: null,
      value: encode(e),
      partition: 0,
    }));
    await fx.log.produce(ACTIVITY, good.slice(0, 100));
    await fx.log.produce(ACTIVITY, [{ key: null, value: Buffer.from("garbage"), partition: 0 }]);
    await fx.log.produce(ACTIVITY, good.slice(100));

    // 1: the dead letter for offset 100 is produced, then the commit fails.
    const first = new CommitFailingStore(fx.reopenStore(), () => true);
    await expect(job(fx, { store: first }).drain()).rejects.toThrow(/injected crash/);
    // 2: small batches commit offsets below 100 (the dead letter is not covered yet), then a crash.
    const second = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === 3);
    await expect(job(fx, { store: second, maxBatchRecords: 30 }).drain()).rejects.toThrow(/injected crash/);
    expect(
      (await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY)).find((c) => c.partition === 0)?.nextOffset,
    ).toBe(60);
    // 3: the scan after the second crash must still find the first dead letter.
    const summary = await job(fx, { store: fx.reopenStore() }).drain();

    const letters = await deadLetters(fx);
    expect(letters.map((l) => [l.source_partition, l.source_offset])).toEqual([[0, 100]]);
    expect(summary.totals).toMatchObject({ input: 201, accepted: 200, deadLettered: 1 });
  });

  it("resumes from its checkpoints after an abort and ends with the same windows as one uninterrupted run", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, {
      seed: 4,
      count: 5_000,
      duplicateShare: 0.02,
      lagShare: 0.05,
    });

    let read = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const controller = new AbortController();
      const summary = await job(fx, {
        store: fx.reopenStore(),
        maxBatchRecords: 300,
        onProgress: (p) => {
          if (p.batchId === 2) controller.abort();
        },
      }).drain(controller.signal);
      expect(summary.drained).toBe(false);
      read += summary.read;
    }
    expect(read).toBe(9 * 300);
    const summary = await job(fx, { store: fx.reopenStore() }).drain();
    expect(read + summary.read).toBe(events.length);
    await expectTotalsAndWindows(fx.store, summary, events.length, truth);
  });

  it("with its state written rarely, replays from the last state after crashes and stores every row exactly once", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, {
      seed: 5,
      count: 6_000,
      duplicateShare: 0.03,
      lagShare: 0.08,
    });

    // An hour between state checkpoints: only a partition's first checkpoint carries state, every later
    // batch moves offsets only, so each crash replays from the start of the log.
    let read = 0;
    for (const crashAt of [4, 9, 3]) {
      const crashing = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === crashAt);
      const crashed = job(fx, { store: crashing, maxBatchRecords: 250, checkpointIntervalMs: 3_600_000 });
      await expect(crashed.drain()).rejects.toThrow(/injected crash/);
      read += crashed.recordsRead;
    }
    const last = job(fx, { store: fx.reopenStore(), maxBatchRecords: 250, checkpointIntervalMs: 3_600_000 });
    const summary = await last.drain();
    read += summary.read;
    // The replays re-read offsets the crashed runs had committed.
    expect(summary.read).toBeGreaterThan(250 * 2);
    expect(read).toBeGreaterThan(events.length);
    await expectTotalsAndWindows(fx.store, summary, events.length, truth);
    const late = await fx.store.lateEvents(100_000);
    expect(late).toHaveLength(truth.late);
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(events.length - truth.duplicates);
    expect(new Set(raw.map((r) => `${r.partition}:${r.offset}`)).size).toBe(raw.length);
    // The drain's end wrote every partition's state where it stopped: a restart replays nothing.
    const again = await job(fx, { store: fx.reopenStore(), checkpointIntervalMs: 3_600_000 }).drain();
    expect(again.read).toBe(0);
  });

  it("after a commit whose answer was lost (it applied, then the connection dropped), reloads and ends exact", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, {
      seed: 8,
      count: 4_000,
      duplicateShare: 0.02,
      lagShare: 0.05,
    });
    // The third commit reaches the store, then its answer is lost: the job's retry finds its own
    // checkpoints moved, takes that for a conflict, reloads every partition from the store and goes on.
    const lossy = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === 3, "after");
    const errors: unknown[] = [];
    const summary = await job(fx, {
      store: lossy,
      maxBatchRecords: 300,
      onRetry: (error) => errors.push(error),
    }).drain();
    expect(errors.map((e) => (e as StoreError).code)).toEqual([
      StoreErrorCode.unavailable,
      StoreErrorCode.conflict,
    ]);
    expect(summary.drained).toBe(true);
    await expectTotalsAndWindows(fx.store, summary, events.length, truth);
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(events.length - truth.duplicates);
  });

  it("judges future event times against the record's log timestamp, so a replay decides the same way", async (ctx) => {
    const fx = await setup(ctx);
    const encode = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const [a, b] = generate({ seed: 5, count: 2 });
    // Appended "in 2024": b is 10 minutes ahead of its append time, a is not.
    await fx.log.produce(ACTIVITY, [
      { key: Buffer.from(a!.user_id), value: encode(a!), timestampMs: a!.event_time + 60_000, partition: 0 },
      { key: Buffer.from(b!.user_id), value: encode(b!), timestampMs: b!.event_time - 600_000, partition: 0 },
    ]);
    const summary = await job(fx, { maxFutureSkewMs: 300_000 }).drain();
    expect(summary.totals).toMatchObject({ accepted: 1, deadLettered: 1 });
    expect((await deadLetters(fx))[0]).toMatchObject({
      source_offset: 1,
      error_code: ValidationCode.futureEventTime,
    });
  });

  it("aggregates Wikimedia changes per wiki with top pages", async (ctx) => {
    const fx = await setup(ctx);
    const changes: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      changes.push({
        meta: {
          id: `id-${i}`,
          dt: new Date(T0 + i * 3_000).toISOString(),
          domain: "x",
          stream: "mediawiki.recentchange",
        },
        type: i % 10 === 0 ? "new" : i % 7 === 0 ? "log" : "edit",
        title: `Page ${i % 3}`,
        user: `editor${i % 4}`,
        bot: i % 5 === 0,
        length: { old: 10, new: 10 + i },
        server_name: i % 2 === 0 ? "en.wikipedia.org" : "de.wikipedia.org",
        wiki: i % 2 === 0 ? "enwiki" : "dewiki",
      });
    }
    const result = await recentChangeProducer({ log: fx.log, serde: fx.serde }).send(changes);
    expect(result.rejected).toEqual([]);

    const summary = await job(fx, { topics: [WIKI] }).drain();
    expect(summary.totals).toMatchObject({ input: 40, accepted: 40 });
    const windows = await fx.store.wikiWindows({ windowMs: 60_000, last: 100 });
    const expected = new Map<string, { edits: number; bot: number; newPages: number }>();
    for (const c of changes as Array<WikimediaRecentChange & { meta: { dt: string } }>) {
      const key = `${Math.floor(Date.parse(c.meta.dt) / 60_000) * 60_000}|${c.wiki}`;
      const cell = expected.get(key) ?? { edits: 0, bot: 0, newPages: 0 };
      if (c.type === "edit" || c.type === "new") {
        cell.edits++;
        if (c.bot) cell.bot++;
        if (c.type === "new") cell.newPages++;
      }
      expected.set(key, cell);
    }
    expect(
      new Map(
        windows.map((w) => [
          `${w.window_start}|${w.wiki}`,
          { edits: w.edits, bot: w.bot_edits, newPages: w.new_pages },
        ]),
      ),
    ).toEqual(expected);
    const top = await fx.store.topPages(60_000, 3);
    expect(top.pages.length).toBeGreaterThan(0);
  });

  it("refuses a topic it has no aggregate for", async (ctx) => {
    const fx = await setup(ctx);
    const error = (() => {
      try {
        job(fx, { topics: ["orders"] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe(StreamErrorCode.badOption);
  });
});

describe("StreamJob.run", () => {
  it("processes records as they arrive, reports progress per batch, and commits the batch in flight on abort", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 6, count: 2_000 });
    await produceActivity(fx, events.slice(0, 1_000));
    const progress: StreamProgress[] = [];
    const controller = new AbortController();
    const streamJob = job(fx, {
      pollIntervalMs: 5,
      maxBatchRecords: 250,
      onProgress: (p) => progress.push(p),
    });
    const running = streamJob.run(controller.signal);
    await waitFor(() => streamJob.recordsRead === 1_000);
    await produceActivity(fx, events.slice(1_000));
    await waitFor(() => streamJob.recordsRead === 2_000);
    controller.abort();
    const summary = await running;

    expect(summary).toMatchObject({ read: 2_000, drained: false });
    expect(progress.length).toBeGreaterThanOrEqual(8);
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({ job: DEFAULT_JOB_NAME, totals: { input: 2_000 } });
    expect(last.sources[0]!.lag).toBe(0);
    expect(last.sources[0]!.partitions).toHaveLength(PARTITIONS);
    expect(last.eventTime.watermarkMs).toBeGreaterThan(T0);
    expect(last.stateRows).toBeGreaterThan(0);
    expect(last.batchDurationMs).toBeGreaterThanOrEqual(0);
    expect(progress.map((p) => p.batchId)).toEqual(progress.map((_, i) => i));
    expect(streamJob.progress()).toBe(last);
    // Not drained: the last windows are still open, but everything read is checkpointed.
    const checkpoints = await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY);
    expect(checkpoints.reduce((a, c) => a + c.nextOffset, 0)).toBe(2_000);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
