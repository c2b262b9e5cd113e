// Bounded runs of one source into the log (`pulse produce`): simulated or replayed activity, the live or replayed Wikimedia feed.

import { replayActivityCsv } from "../ingest/activity-csv.ts";
import { readActivityCsvFrames } from "../ingest/activity-csv-frames.ts";
import type { ProducerCounters } from "../ingest/producer.ts";
import { pump } from "../ingest/pump.ts";
import {
  type SimulatedEvent,
  type SimulatorBurst,
  simulateActivity,
  startBefore,
} from "../ingest/simulator.ts";
import { EventStreamsClient } from "../ingest/wikimedia/client.ts";
import { replayWikimedia } from "../ingest/wikimedia/replay.ts";
import type { Platform } from "./platform.ts";
import { simulatorSettings } from "./sources.ts";

export interface ProduceSummary {
  topic: string;
  source: string;
  /** Records handed to the producer. */
  sent: number;
  /** Records appended to the topic. */
  produced: number;
  /** Records written to `<topic>.dlq`. */
  dead_lettered: number;
  /** Simulator only: how many records of each kind it emitted. */
  by_kind?: Record<string, number>;
  elapsed_ms: number;
  records_per_sec: number;
}

export interface ProduceRunOptions {
  signal: AbortSignal;
  /** Called every 200 ms while the run goes on, with the records sent so far and their rate. */
  onProgress?: (sent: number, total: number | undefined, ratePerSec: number) => void;
}

export interface ReplayOptions extends ProduceRunOptions {
  /** 1 = the recorded pace, 0 = as fast as possible. */
  speed: number;
}

export interface SimulateOptions extends ProduceRunOptions {
  /** How many events; undefined runs until the signal aborts. */
  count: number | undefined;
  /** Events per second in processing time; undefined or 0 sends as fast as possible. */
  ratePerSec: number | undefined;
  /** Event time of the first event; by default it starts far enough in the past that the last lands now. */
  startTimeMs?: number;
  /** A burst in event time, given the run's start (flags may count from it). */
  burst?: (startTimeMs: number) => SimulatorBurst | undefined;
}

/** Replays a REES46 clickstream CSV into user-activity; a row that fails to parse is dead-lettered with its raw line. */
export function replayActivityFile(
  platform: Platform,
  file: string,
  options: ReplayOptions,
): Promise<ProduceSummary> {
  const { speed, signal } = options;
  if (speed === 0) {
    // Unpaced: rows go as frames made from the file's bytes, a chunk a send (activity-csv-frames.ts).
    return produceRun(platform.activity, "replay", undefined, options, async (send) => {
      const schemaId = await platform.activity.valueSchemaId();
      let sent = 0;
      for await (const items of readActivityCsvFrames(file, { schemaId, signal })) {
        if (signal.aborted) break;
        await send(items);
        sent += items.length;
      }
      return sent;
    });
  }
  return produceRun(platform.activity, "replay", undefined, options, (send) => {
    const rows = replayActivityCsv(file, { speed, signal });
    // Mapped a batch at a time: one more async generator would cost a promise a row.
    return pump(rows, (batch) => send(batch.map((row) => (row.ok ? row.event : row.raw))), {
      ratePerSec: 0,
      signal,
    });
  });
}

/** Simulated activity (config `simulator`), `count` events or until aborted, with the count of each kind emitted. */
export async function simulateActivityRun(
  platform: Platform,
  options: SimulateOptions,
): Promise<ProduceSummary> {
  const { count, ratePerSec, signal } = options;
  const byKind: Record<string, number> = { valid: 0, out_of_order: 0, duplicate: 0, malformed: 0 };
  const live = ratePerSec !== undefined && ratePerSec > 0;
  const simRate = live ? ratePerSec : 100;
  const startTimeMs =
    options.startTimeMs ?? (live ? Date.now() : startBefore(Date.now(), count ?? 0, simRate));
  const events = simulateActivity({
    ...simulatorSettings(platform.config),
    startTimeMs,
    ratePerSec: simRate,
    // A live run is paced in processing time, so event time must advance at the same steady rate.
    dayNightAmplitude: live ? 0 : undefined,
    burst: options.burst?.(startTimeMs),
    count,
  });
  const summary = await produceRun(platform.activity, "simulator", count, options, (send) =>
    pump(
      mapSync(events, (e: SimulatedEvent) => countKind(byKind, e)),
      send,
      { ratePerSec: ratePerSec ?? 0, signal },
    ),
  );
  summary.by_kind = byKind;
  return summary;
}

/** The live Wikimedia EventStreams feed (config `wikimedia.url`) until aborted. */
export function produceWikimediaLive(
  platform: Platform,
  options: ProduceRunOptions,
): Promise<ProduceSummary> {
  const { signal } = options;
  const client = new EventStreamsClient({ url: platform.config.wikimedia.url, signal });
  return produceRun(platform.wikimedia, "wikimedia-live", undefined, options, (send) =>
    pump(
      mapAsync(client.events(), (e) => e.data),
      send,
      { ratePerSec: 0, maxBatch: 500, signal },
    ),
  );
}

/** Replays a recorded Wikimedia file (NDJSON or an SSE capture); a line that cannot be read is reported and skipped. */
export function replayWikimediaFile(
  platform: Platform,
  file: string,
  options: ReplayOptions & { onBadLine: (message: string) => void },
): Promise<ProduceSummary> {
  const { speed, signal } = options;
  return produceRun(platform.wikimedia, "wikimedia-replay", undefined, options, (send) =>
    pump(replayWikimedia(file, { speed, signal, onBadLine: (bad) => options.onBadLine(bad.message) }), send, {
      ratePerSec: 0,
      signal,
    }),
  );
}

/** Runs `drive` against the producer, counting what it sent and, from the producer's counters, what landed where. */
async function produceRun(
  producer: { topic: string; counters: ProducerCounters; send(raws: unknown[]): Promise<unknown> },
  source: string,
  total: number | undefined,
  options: ProduceRunOptions,
  drive: (send: (batch: unknown[]) => Promise<void>) => Promise<number>,
): Promise<ProduceSummary> {
  const before = producer.counters;
  const startMs = performance.now();
  let sent = 0;
  const { onProgress } = options;
  const timer =
    onProgress === undefined
      ? undefined
      : setInterval(() => {
          onProgress(sent, total, sent / Math.max(0.001, (performance.now() - startMs) / 1000));
        }, 200);
  try {
    await drive(async (batch) => {
      await producer.send(batch);
      sent += batch.length;
    });
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  const after = producer.counters;
  const elapsedMs = performance.now() - startMs;
  return {
    topic: producer.topic,
    source,
    sent,
    produced: after.accepted - before.accepted,
    dead_lettered: after.rejected - before.rejected,
    elapsed_ms: Math.round(elapsedMs),
    records_per_sec: sent / Math.max(0.001, elapsedMs / 1000),
  };
}

function countKind(byKind: Record<string, number>, simulated: SimulatedEvent): unknown {
  byKind[simulated.kind]!++;
  return simulated.event;
}

function* mapSync<T, U>(source: Iterable<T>, fn: (item: T) => U): Generator<U> {
  for (const item of source) yield fn(item);
}

async function* mapAsync<T, U>(source: AsyncIterable<T>, fn: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield fn(item);
}
