// Independent ground truth for the speed layer's end-to-end tests: plain Maps and Sets over the produced input.
import { join } from "node:path";
import { expect } from "vitest";
import { asBuffer } from "../../src/bytes.ts";
import { userActivityV2Type } from "../../src/contracts/schemas.ts";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import type { Log } from "../../src/log/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { ACTIVITY_SERIES, type ActivityWindow, type LiveStore } from "../../src/store/index.ts";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const FETCH_BATCH = 20_000;

/** (window start, key) → [event_count, unique_users]; entries sorted by key, so toEqual diffs read well. */
export type Cells = Array<[string, [number, number]]>;

/** (window start, key) → [sessions, revenue]: distinct session_id, and the PURCHASE amounts summed in cents. */
export type SessionRevenueCells = Array<[string, [number, number]]>;

export interface ActivityTruth {
  /** Per window of `windowMs` (a minute unless asked otherwise). */
  minutes: Cells;
  days: Cells;
  minuteSessionsRevenue: SessionRevenueCells;
  daySessionsRevenue: SessionRevenueCells;
  accepted: number;
  duplicates: number;
  late: number;
  /** `partition:offset` of every late event. */
  latePositions: string[];
  /** Records skipped as not decodable (they are dead letters). */
  undecodable: number;
}

function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

class CellMap {
  readonly #cells = new Map<
    string,
    { count: number; users: Set<string>; sessions: Set<string>; cents: number }
  >();

  add(key: string, user: string, event?: Pick<UserActivityV2, "session_id" | "event_type" | "amount">): void {
    let cell = this.#cells.get(key);
    if (cell === undefined) {
      cell = { count: 0, users: new Set(), sessions: new Set(), cents: 0 };
      this.#cells.set(key, cell);
    }
    cell.count++;
    cell.users.add(user);
    if (event === undefined) return;
    cell.sessions.add(event.session_id);
    // Revenue is PURCHASE amounts, each rounded to whole cents before summing.
    if (event.event_type === "PURCHASE" && event.amount !== null)
      cell.cents += Math.round(event.amount * 100);
  }

  sorted(): Cells {
    return [...this.#cells]
      .map(([k, c]): [string, [number, number]] => [k, [c.count, c.users.size]])
      .sort(byKey);
  }

  /** Sessions and revenue in currency units (cents / 100, as the store presents it). */
  sessionsRevenue(): SessionRevenueCells {
    return [...this.#cells]
      .map(([k, c]): [string, [number, number]] => [k, [c.sessions.size, c.cents / 100]])
      .sort(byKey);
  }
}

export function cellsOf(rows: readonly ActivityWindow[]): Cells {
  return rows
    .map((r): [string, [number, number]] => [
      `${r.window_start}|${r.event_type}`,
      [r.event_count, r.unique_users],
    ])
    .sort(byKey);
}

export function sessionsRevenueOf(rows: readonly ActivityWindow[]): SessionRevenueCells {
  return rows
    .map((r): [string, [number, number]] => [`${r.window_start}|${r.event_type}`, [r.sessions, r.revenue]])
    .sort(byKey);
}

/**
 * The speed layer's promised semantics, applied naively to the user-activity topic of `<dataDir>/log.db`
 * (or of `options.log`):
 * per partition, in offset order, watermark = max event time seen − outOfOrdernessMs; an event whose
 * window (windowMs long, a minute by default) ends at or before the watermark is late, unless its
 * event_id was seen at a time t0 whose window w0 has w0 + 2 × windowMs + outOfOrdernessMs > watermark
 * (then a duplicate; a late event not so seen is remembered the same way); otherwise an event_id already
 * counted in the partition is a duplicate; everything else counts once in its window and its UTC day.
 */
export async function activityTruth(
  dataDir: string,
  options: { outOfOrdernessMs?: number; windowMs?: number; skip?: ReadonlySet<string>; log?: Log } = {},
): Promise<ActivityTruth> {
  const outOfOrdernessMs = options.outOfOrdernessMs ?? 10_000;
  const windowMs = options.windowMs ?? MINUTE_MS;
  // Another log (Kafka) is the caller's to close.
  const log = options.log ?? EmbeddedLog.open({ path: join(dataDir, "log.db") });
  // On another log the registry may live elsewhere (Kafka's _schemas topic): Pulse's producers write
  // UserActivity v2, so those records are read with that schema directly, past the 5-byte frame header.
  const registry =
    options.log === undefined ? SchemaRegistry.open({ path: join(dataDir, "registry.db") }) : undefined;
  const minutes = new CellMap();
  const days = new CellMap();
  const truth: ActivityTruth = {
    minutes: [],
    days: [],
    minuteSessionsRevenue: [],
    daySessionsRevenue: [],
    accepted: 0,
    duplicates: 0,
    late: 0,
    latePositions: [],
    undecodable: 0,
  };
  try {
    const serde = registry === undefined ? undefined : new AvroSerde(registry);
    const info = await log.describeTopic("user-activity");
    for (const { partition, highWatermark } of info.offsets) {
      let maxEventTimeMs = Number.NEGATIVE_INFINITY;
      const seen = new Map<string, number>();
      let next = 0;
      while (next < highWatermark) {
        const records = await log.fetch("user-activity", partition, next, { maxRecords: FETCH_BATCH });
        if (records.length === 0) throw new Error(`user-activity[${partition}]: nothing at ${next}`);
        for (const record of records) {
          if (options.skip?.has(`${partition}:${record.offset}`)) continue;
          let e: UserActivityV2;
          try {
            e =
              serde === undefined ? decodeV2(record.value) : await serde.decode<UserActivityV2>(record.value);
          } catch {
            truth.undecodable++;
            continue;
          }
          maxEventTimeMs = Math.max(maxEventTimeMs, e.event_time);
          const minute = Math.floor(e.event_time / windowMs) * windowMs;
          const watermark = maxEventTimeMs - outOfOrdernessMs;
          if (minute + windowMs <= watermark) {
            const t0 = seen.get(e.event_id);
            const lateHorizonMs = 2 * windowMs + outOfOrdernessMs;
            if (t0 !== undefined && Math.floor(t0 / windowMs) * windowMs + lateHorizonMs > watermark) {
              truth.duplicates++;
              continue;
            }
            if (minute + lateHorizonMs > watermark) seen.set(e.event_id, e.event_time);
            truth.late++;
            truth.latePositions.push(`${partition}:${record.offset}`);
            continue;
          }
          if (seen.has(e.event_id)) {
            truth.duplicates++;
            continue;
          }
          seen.set(e.event_id, e.event_time);
          truth.accepted++;
          minutes.add(`${minute}|${e.event_type}`, e.user_id, e);
          days.add(`${Math.floor(e.event_time / DAY_MS) * DAY_MS}|${e.event_type}`, e.user_id, e);
        }
        next = records[records.length - 1]!.offset + 1;
      }
    }
  } finally {
    if (options.log === undefined) await log.close();
    registry?.close();
  }
  truth.minutes = minutes.sorted();
  truth.days = days.sorted();
  truth.minuteSessionsRevenue = minutes.sessionsRevenue();
  truth.daySessionsRevenue = days.sessionsRevenue();
  truth.latePositions.sort();
  return truth;
}

/** A Confluent-framed UserActivity v2 record, whatever its schema id. */
export function decodeV2(value: Uint8Array | null): UserActivityV2 {
  if (value === null || value.length < 5 || value[0] !== 0) throw new Error("not a Confluent-framed record");
  return userActivityV2Type.fromBuffer(asBuffer(value).subarray(5)) as UserActivityV2;
}

/** After a drain: every minute window final; minutes and days (every metric) and late events equal to the truth. */
export async function expectStoreMatchesTruth(store: LiveStore, truth: ActivityTruth): Promise<void> {
  const minutes = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE_MS, last: 10_000_000 });
  expect(minutes.every((w) => w.final)).toBe(true);
  expect(cellsOf(minutes)).toEqual(truth.minutes);
  expect(sessionsRevenueOf(minutes)).toEqual(truth.minuteSessionsRevenue);
  const days = await store.daily(ACTIVITY_SERIES);
  expect(cellsOf(days)).toEqual(truth.days);
  expect(sessionsRevenueOf(days)).toEqual(truth.daySessionsRevenue);
  const late = await store.lateEvents(10_000_000);
  expect(late.map((e) => `${e.partition}:${e.offset}`).sort()).toEqual(truth.latePositions);
}

export { CellMap };
