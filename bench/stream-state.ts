// Benchmark: speed-layer state for 1M distinct users in one event-time day (memory), and aggregator throughput.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { EVENT_TYPES, type UserActivity } from "../src/contracts/types.ts";
import { createActivityAggregator } from "../src/stream/aggregators.ts";
import type { WindowedAggregatorOptions } from "../src/stream/operator.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const USERS = 1_000_000;
const EVENTS_PER_USER = 3;
const PARTITIONS = 4;
const DAY_START = Date.UTC(2024, 0, 1);
const MB = 1024 * 1024;

setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;

/** JS heap plus external memory: the interners and id sets live in ArrayBuffers, outside the JS heap. */
function heapMb(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.external) / MB;
}

/**
 * One day of event time: every user is active EVENTS_PER_USER times, hours apart (a new session each
 * time), in a shuffled order so ids are interned in no helpful order. Events are built one at a time and
 * dropped, as the log consumer would, so what stays on the heap is the aggregator's state.
 */
function* day(
  count: number,
  users: number,
): Generator<{ event: UserActivity; partition: number; offset: number }> {
  const offsets = new Array<number>(PARTITIONS).fill(0);
  const gapMs = 86_400_000 / count;
  for (let i = 0; i < count; i++) {
    // 2654435761 is odd, so i → i·k mod users visits every user once per round.
    const user = Number((BigInt(i) * 2654435761n) % BigInt(users));
    const t = DAY_START + Math.floor(i * gapMs);
    const type = EVENT_TYPES[(i * 7 + (user % 5)) % EVENT_TYPES.length]!;
    const partition = user % PARTITIONS;
    yield {
      event: {
        event_id: `e-${i}`,
        user_id: `user-${user}`,
        session_id: `user-${user}-s${Math.floor(i / users)}`,
        event_type: type,
        event_time: t,
        page: "/",
        referrer: null,
        device: "DESKTOP",
        country: null,
        amount: type === "PURCHASE" ? 19.99 : null,
        currency: type === "PURCHASE" ? "USD" : null,
      },
      partition,
      offset: offsets[partition]!++,
    };
  }
}

function fmt(n: number): string {
  return n.toLocaleString("en", { maximumFractionDigits: 1 });
}

async function memory(): Promise<BenchResult[]> {
  const options: WindowedAggregatorOptions = {
    window: { sizeMs: 60_000, slideMs: 60_000 },
    outOfOrdernessMs: 5_000,
    allowedLatenessMs: 10_000,
  };
  const before = heapMb();
  const agg = createActivityAggregator(options);
  const count = USERS * EVENTS_PER_USER;
  let n = 0;
  const start = process.hrtime.bigint();
  for (const { event, partition, offset } of day(count, USERS)) {
    agg.process(event, partition, offset);
    if (++n % 10_000 === 0) agg.flush();
  }
  agg.flush();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const progress = agg.progress();
  const heap = heapMb() - before;
  let snapshotBytes = 0;
  for (const p of agg.partitions()) snapshotBytes += agg.snapshot(p).byteLength;
  const rssPeak = process.resourceUsage().maxRSS / 1024;
  agg.advanceToEnd();
  const finals = agg.flush().days;
  const uniqueDaily = new Set<number>();
  let users = 0;
  for (const r of finals) {
    uniqueDaily.add(r.window_start);
    users += r.unique_users;
  }
  const detail = `${fmt(USERS)} distinct users, ${fmt(count)} events in one UTC day, ${PARTITIONS} partitions, 1 min windows + day`;
  return [
    {
      name: "stream_state.heap_1m_users",
      value: Math.round(heap),
      unit: "MB",
      detail: `${detail}; heap + external after GC, state only`,
    },
    {
      name: "stream_state.rss_peak_1m_users",
      value: Math.round(rssPeak),
      unit: "MB",
      detail:
        "peak RSS of the whole process: node, the state and its garbage (run from a build, as pulse runs)",
    },
    {
      name: "stream_state.estimated_bytes",
      value: Math.round(progress.stateBytes / MB),
      unit: "MB",
      detail: "the progress metric's estimate",
    },
    {
      name: "stream_state.snapshot_bytes",
      value: Math.round(snapshotBytes / MB),
      unit: "MB",
      detail: "all partition snapshots at end of day, before drain",
    },
    {
      name: "stream_state.day_rate",
      value: Math.round(count / seconds),
      unit: "events/s",
      detail: "the same run, flush every 10k events",
    },
    {
      name: "stream_state.day_user_type_pairs",
      value: users,
      unit: "users",
      detail: `Σ unique_users over ${finals.length} daily (type, partition) rows`,
    },
  ];
}

function throughput(name: string, options: WindowedAggregatorOptions, detail: string): BenchResult {
  const count = 1_000_000;
  const events = [...day(count, 50_000)];
  // Warm-up on a separate aggregator so the JIT has compiled the hot path.
  const warm = createActivityAggregator(options);
  for (let i = 0; i < 200_000; i++) warm.process(events[i]!.event, events[i]!.partition, events[i]!.offset);
  const agg = createActivityAggregator(options);
  const start = process.hrtime.bigint();
  let i = 0;
  for (const { event, partition, offset } of events) {
    agg.process(event, partition, offset);
    if (++i % 5_000 === 0) agg.flush();
  }
  agg.advanceToEnd();
  agg.flush();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, value: Math.round(count / seconds), unit: "events/s", detail };
}

export async function run(): Promise<BenchResult[]> {
  const results = await memory();
  results.push(
    throughput(
      "stream.aggregator_tumbling",
      { window: { sizeMs: 60_000, slideMs: 60_000 }, outOfOrdernessMs: 5_000, allowedLatenessMs: 10_000 },
      "1M events, 50k users, 1 min tumbling + day, dedup on, flush every 5k, one core",
    ),
    throughput(
      "stream.aggregator_hopping",
      { window: { sizeMs: 300_000, slideMs: 60_000 }, outOfOrdernessMs: 5_000, allowedLatenessMs: 10_000 },
      "1M events, 50k users, 5 min sliding by 1 min (5 windows an event) + day",
    ),
  );
  return results;
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
