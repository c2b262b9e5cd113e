// Test helpers for the stream job: a real embedded log, registry and store, messy generated activity, a naive truth.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, type TestContext } from "vitest";
import { SCHEMA_TEXTS, subjectFor } from "../../src/contracts/schemas.ts";
import type { DeadLetter, EventType, UserActivityV2 } from "../../src/contracts/types.ts";
import { ValidationCode } from "../../src/contracts/validate.ts";
import { SerdeErrorCode } from "../../src/errors.ts";
import { activityProducer } from "../../src/ingest/producer.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import type { Log } from "../../src/log/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { ACTIVITY_SERIES, type LiveStore } from "../../src/store/index.ts";
import {
  JOB_HEADER,
  StreamJob,
  type StreamJobOptions,
  type StreamRunSummary,
} from "../../src/stream/job/index.ts";
import { prng } from "./stream.ts";

export const T0 = Date.UTC(2024, 4, 1, 23, 57);
export const PARTITIONS = 3;
export const ACTIVITY = "user-activity";
export const WIKI = "wikimedia.recentchange";
const TYPES: EventType[] = ["VIEW", "VIEW", "CLICK", "ADD_TO_CART", "PURCHASE", "SEARCH"];

/** A real embedded log, registry and live store in a fresh folder, removed when the test finishes. */
export class JobFixture {
  readonly dir: string;
  readonly log: Log;
  readonly serde: AvroSerde;
  readonly store: LiveStore;
  readonly #stores: LiveStore[] = [];

  constructor(dir: string, log: Log, serde: AvroSerde) {
    this.dir = dir;
    this.log = log;
    this.serde = serde;
    this.store = this.reopenStore();
  }

  /** A second, fresh store handle on the same file: what a restarted process would open. */
  reopenStore(): LiveStore {
    const store = EmbeddedLiveStore.open({ path: join(this.dir, "store.db") });
    this.#stores.push(store);
    return store;
  }

  async close(): Promise<void> {
    for (const s of this.#stores) await s.close();
  }

  /** A job reading the activity topic (with the fixture's first store unless `options` names another). */
  job(options: Partial<StreamJobOptions> = {}): StreamJob {
    return new StreamJob({
      log: this.log,
      serde: this.serde,
      store: this.store,
      topics: [ACTIVITY],
      ...options,
    });
  }

  async produceActivity(events: readonly UserActivityV2[]): Promise<void> {
    const producer = activityProducer({ log: this.log, serde: this.serde });
    const result = await producer.send(events);
    expect(result.rejected).toEqual([]);
  }

  /** The ground truth of the activity topic as it is now (truthOf). */
  truth(): Promise<Truth> {
    return truthOf(this.log, this.serde);
  }

  /** The stored minute windows, each final: `${window_start}|${event_type}` → [event_count, unique_users]. */
  async storedWindows(): Promise<Map<string, [number, number]>> {
    const rows = await this.store.windows(ACTIVITY_SERIES, { windowMs: 60_000, last: 1_000_000 });
    for (const row of rows) expect(row.final).toBe(true);
    return new Map(rows.map((r) => [`${r.window_start}|${r.event_type}`, [r.event_count, r.unique_users]]));
  }

  async storedDays(): Promise<Map<string, [number, number]>> {
    const rows = await this.store.daily(ACTIVITY_SERIES);
    return new Map(rows.map((r) => [`${r.window_start}|${r.event_type}`, [r.event_count, r.unique_users]]));
  }

  /** A run over `input` events counted them as the truth does, and stored its windows and days. */
  async expectTotalsAndWindows(summary: StreamRunSummary, input: number, truth: Truth): Promise<void> {
    expect(summary.totals).toMatchObject({ input, late: truth.late, duplicates: truth.duplicates });
    await this.expectWindowsAndDays(truth);
  }

  /** Every stored minute window final, and minutes and days equal to the truth. */
  async expectWindowsAndDays(truth: Truth): Promise<void> {
    await this.expectWindows(truth);
    expect(sortedEntries(await this.storedDays())).toEqual(sortedEntries(truth.days));
  }

  /** Every stored minute window final and equal to the truth. */
  async expectWindows(truth: Truth): Promise<void> {
    expect(sortedEntries(await this.storedWindows())).toEqual(sortedEntries(truth.windows));
  }

  /** The dead letters on the topic's dead-letter topic, each with the job its header names. */
  async deadLetters(topic = ACTIVITY): Promise<Array<DeadLetter & { job: string | null }>> {
    const info = await this.log.describeTopic(`${topic}.dlq`);
    const out: Array<DeadLetter & { job: string | null }> = [];
    for (const { partition, highWatermark } of info.offsets) {
      if (highWatermark === 0) continue;
      for (const record of await this.log.fetch(`${topic}.dlq`, partition, 0, {
        maxRecords: highWatermark,
      })) {
        const letter = await this.serde.decode<DeadLetter>(record.value);
        out.push({ ...letter, job: record.headers[JOB_HEADER]?.toString("utf8") ?? null });
      }
    }
    return out;
  }

  /** Writes records that must be dead-lettered, one of each kind, to explicit partitions. */
  async produceBadRecords(): Promise<Array<{ partition: number; offset: number; code: string }>> {
    const encode = await this.serde.encoder<UserActivityV2>(
      subjectFor(ACTIVITY),
      SCHEMA_TEXTS.userActivityV2,
    );
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
      const [pos] = await this.log.produce(ACTIVITY, [
        { key: Buffer.from("bad"), value: frames[i]!.value, partition },
      ]);
      out.push({ partition, offset: pos!.offset, code: frames[i]!.code });
    }
    return out;
  }
}

/** A fresh fixture with the activity and Wikimedia topics and their dead-letter topics, 3 partitions each. */
export async function setup(ctx: TestContext): Promise<JobFixture> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-job-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db") });
  const registry = SchemaRegistry.open({ path: ":memory:" });
  const fx = new JobFixture(dir, log, new AvroSerde(registry));
  for (const topic of [ACTIVITY, WIKI]) {
    await log.ensureTopic({ name: topic, partitions: PARTITIONS });
    await log.ensureTopic({ name: `${topic}.dlq`, partitions: PARTITIONS });
  }
  ctx.onTestFinished(async () => {
    await fx.close();
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fx;
}

/** A fresh fixture holding `options`' generated events on the topic, and their truth. */
export async function producedWithTruth(
  ctx: TestContext,
  options: GenOptions,
): Promise<{ fx: JobFixture; events: UserActivityV2[]; truth: Truth }> {
  const fx = await setup(ctx);
  const events = generate(options);
  await fx.produceActivity(events);
  return { fx, events, truth: await fx.truth() };
}

function uuid(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface GenOptions {
  seed: number;
  count: number;
  users?: number;
  /** Share of events re-sent unchanged (same event_id). */
  duplicateShare?: number;
  /** Share of events whose event time lags by 0–90 s (some late for a 10 s out-of-orderness). */
  lagShare?: number;
}

/** Events at about 20/s of event time from T0, crossing midnight UTC, with duplicates and stragglers. */
export function generate(options: GenOptions): UserActivityV2[] {
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

export interface Truth {
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
 * ends at or before it is late, unless its event_id was seen at a time t0 whose minute m0 has
 * m0 + 2 min + out-of-orderness > watermark (then a duplicate; a late event not so seen is remembered the
 * same way); otherwise an event_id seen before in the partition is a duplicate.
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
    const seen = new Map<string, number>();
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
      const watermark = max - outOfOrdernessMs;
      if (start + 60_000 <= watermark) {
        const t0 = seen.get(e.event_id);
        const lateHorizonMs = 120_000 + outOfOrdernessMs;
        if (t0 !== undefined && Math.floor(t0 / 60_000) * 60_000 + lateHorizonMs > watermark) {
          truth.duplicates++;
          continue;
        }
        if (start + lateHorizonMs > watermark) seen.set(e.event_id, e.event_time);
        truth.late++;
        truth.lake.set(`${partition}:${record.offset}`, e.event_id);
        continue;
      }
      if (seen.has(e.event_id)) {
        truth.duplicates++;
        continue;
      }
      seen.set(e.event_id, e.event_time);
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

export function sortedEntries<V>(map: Map<string, V>): Array<[string, V]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
