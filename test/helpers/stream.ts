// Test helpers for the speed layer: a seeded event generator with defects, and a naive ground truth.

import type { ActivityRow } from "../../src/stream/aggregates.ts";
import type { EventType, UserActivity } from "../../src/contracts/types.ts";

/** mulberry32, so every generated stream is a pure function of its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: EventType[] = [
  "VIEW",
  "VIEW",
  "VIEW",
  "CLICK",
  "CLICK",
  "ADD_TO_CART",
  "PURCHASE",
  "SEARCH",
  "LOGIN",
];

export interface GeneratedEvent {
  event: UserActivity;
  partition: number;
  offset: number;
}

export interface GenerateOptions {
  seed: number;
  count: number;
  partitions: number;
  users: number;
  startTimeMs: number;
  /** Mean event-time gap between consecutive events. */
  meanGapMs: number;
  /** Share re-emitting a recent event unchanged (same id, same event time). */
  duplicateShare: number;
  /** Share whose event time lags by up to maxLagMs (out of order, mostly on time). */
  outOfOrderShare: number;
  maxLagMs: number;
  /** Share whose event time lags by veryLateLagMs or more: late for every window. */
  veryLateShare: number;
  veryLateLagMs: number;
}

/** Keyed like the topic (user_id picks the partition), so per-partition distinct counts merge exactly. */
function partitionOf(userId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

export function generateActivity(options: GenerateOptions): GeneratedEvent[] {
  const random = prng(options.seed);
  const out: GeneratedEvent[] = [];
  const offsets = new Array<number>(options.partitions).fill(0);
  const recent: UserActivity[] = [];
  let clock = options.startTimeMs;
  for (let i = 0; i < options.count; i++) {
    const r = random();
    let event: UserActivity;
    if (r < options.duplicateShare && recent.length > 0) {
      event = { ...recent[Math.floor(random() * recent.length)]! };
    } else {
      clock += Math.floor(random() * options.meanGapMs * 2);
      let t = clock;
      const lag = random();
      if (lag < options.outOfOrderShare) t -= Math.floor(random() * options.maxLagMs);
      else if (lag < options.outOfOrderShare + options.veryLateShare)
        t -= options.veryLateLagMs + Math.floor(random() * options.veryLateLagMs);
      // Skewed users: a few are very active, most are rare.
      const user = Math.floor(random() ** 2 * options.users);
      const type = TYPES[Math.floor(random() * TYPES.length)]!;
      const purchase = type === "PURCHASE";
      event = {
        event_id: `e-${options.seed}-${i}`,
        user_id: `u${user}`,
        session_id: `u${user}-s${Math.floor(t / 1_800_000)}`,
        event_type: type,
        event_time: t,
        page: "/",
        referrer: null,
        device: "DESKTOP",
        country: null,
        amount: purchase ? Math.floor(random() * 100_000) / 100 : null,
        currency: purchase ? "USD" : null,
      };
      recent.push(event);
      if (recent.length > 256) recent.shift();
    }
    const partition = partitionOf(event.user_id, options.partitions);
    out.push({ event, partition, offset: offsets[partition]!++ });
  }
  return out;
}

export interface NaiveCell {
  events: number;
  users: Set<string>;
  sessions: Set<string>;
  cents: number;
}

export interface NaiveResult {
  windows: Map<string, NaiveCell>;
  days: Map<string, NaiveCell>;
  late: number;
  partiallyLate: number;
  duplicates: number;
  accepted: number;
}

/**
 * The semantics restated the slow, obvious way: per partition in offset order, watermark = max event
 * time − out-of-orderness; a window is closed once end + lateness ≤ watermark; an event whose windows
 * are all closed is late; otherwise a repeat id is a duplicate; otherwise it joins each open window.
 * Windows are found by scanning candidate starts, days by division; the seen-id set is unbounded for
 * on-time events. A late event is a duplicate when its id was seen at a time t0 whose slide slot s0 still
 * has s0 + 2 × (size + lateness) + out-of-orderness > watermark; a late event not so seen is remembered
 * (at its own time) the same way.
 */
export function naiveActivity(
  events: readonly GeneratedEvent[],
  options: { sizeMs: number; slideMs: number; outOfOrdernessMs: number; allowedLatenessMs: number },
): NaiveResult {
  const { sizeMs, slideMs, outOfOrdernessMs, allowedLatenessMs } = options;
  const DAY = 86_400_000;
  const result: NaiveResult = {
    windows: new Map(),
    days: new Map(),
    late: 0,
    partiallyLate: 0,
    duplicates: 0,
    accepted: 0,
  };
  const maxByPartition = new Map<number, number>();
  const seenByPartition = new Map<number, Map<string, number>>();
  const lateHorizonMs = 2 * (sizeMs + allowedLatenessMs) + outOfOrdernessMs;
  const seenIn = (partition: number): Map<string, number> => {
    let seen = seenByPartition.get(partition);
    if (seen === undefined) {
      seen = new Map();
      seenByPartition.set(partition, seen);
    }
    return seen;
  };
  const add = (cells: Map<string, NaiveCell>, key: string, e: UserActivity): void => {
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = { events: 0, users: new Set(), sessions: new Set(), cents: 0 };
      cells.set(key, cell);
    }
    cell.events++;
    cell.users.add(e.user_id);
    cell.sessions.add(e.session_id);
    if (e.event_type === "PURCHASE" && e.amount !== null) cell.cents += Math.round(e.amount * 100);
  };
  for (const { event, partition } of events) {
    const t = event.event_time;
    const max = Math.max(maxByPartition.get(partition) ?? Number.NEGATIVE_INFINITY, t);
    maxByPartition.set(partition, max);
    const wm = max - outOfOrdernessMs;
    const starts: number[] = [];
    for (let k = Math.floor((t - sizeMs) / slideMs) - 1; k <= Math.floor(t / slideMs) + 1; k++) {
      const s = k * slideMs;
      if (s <= t && t < s + sizeMs) starts.push(s);
    }
    const open = starts.filter((s) => s + sizeMs + allowedLatenessMs > wm);
    const seen = seenIn(partition);
    if (open.length === 0) {
      const t0 = seen.get(event.event_id);
      if (t0 !== undefined && Math.floor(t0 / slideMs) * slideMs + lateHorizonMs > wm) {
        result.duplicates++;
        continue;
      }
      if (Math.floor(t / slideMs) * slideMs + lateHorizonMs > wm) seen.set(event.event_id, t);
      result.late++;
      continue;
    }
    if (seen.has(event.event_id)) {
      result.duplicates++;
      continue;
    }
    seen.set(event.event_id, t);
    for (const s of open) add(result.windows, `${s}|${event.event_type}`, event);
    const day = Math.floor(t / DAY) * DAY;
    const dayOpen = day + DAY + allowedLatenessMs > wm;
    if (dayOpen) add(result.days, `${day}|${event.event_type}`, event);
    if (open.length < starts.length || !dayOpen) result.partiallyLate++;
    else result.accepted++;
  }
  return result;
}

export interface MergedCell {
  events: number;
  users: number;
  sessions: number;
  cents: number;
}

/** Sums final rows over partitions by (window start, event_type); lists any (window, key, partition) finalised twice. */
export function mergeFinals(rows: readonly ActivityRow[]): {
  cells: Map<string, MergedCell>;
  twice: string[];
} {
  const seen = new Set<string>();
  const twice: string[] = [];
  const merged = new Map<string, MergedCell>();
  for (const row of rows) {
    if (!row.final) continue;
    const id = `${row.window_start}|${row.event_type}|${row.partition}`;
    if (seen.has(id)) twice.push(id);
    seen.add(id);
    const key = `${row.window_start}|${row.event_type}`;
    const cell = merged.get(key) ?? { events: 0, users: 0, sessions: 0, cents: 0 };
    cell.events += row.event_count;
    cell.users += row.unique_users;
    cell.sessions += row.sessions;
    cell.cents += row.revenue_cents;
    merged.set(key, cell);
  }
  return { cells: merged, twice };
}

export function naiveCells(cells: Map<string, NaiveCell>): Map<string, MergedCell> {
  const out = new Map<string, MergedCell>();
  for (const [key, c] of cells) {
    out.set(key, { events: c.events, users: c.users.size, sessions: c.sessions.size, cents: c.cents });
  }
  return out;
}
