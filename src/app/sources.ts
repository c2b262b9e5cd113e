// The live sources `pulse up` runs into the platform's producers: the activity simulator paced in real time, and Wikimedia (live feed or a looped replay).

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PulseError, UsageError } from "../errors.ts";
import { pump } from "../ingest/pump.ts";
import {
  type SimulatedEvent,
  type SimulatorBurst,
  type SimulatorOptions,
  simulateActivity,
} from "../ingest/simulator.ts";
import { EventStreamsClient, EventStreamsCode } from "../ingest/wikimedia/client.ts";
import { replayWikimedia } from "../ingest/wikimedia/replay.ts";
import type { PulseConfig } from "../config/index.ts";
import { projectFile } from "../paths.ts";
import type { Platform } from "./platform.ts";

/** The recorded sample shipped with Pulse (see fixtures/wikimedia/SOURCES.md). */
export const BUNDLED_WIKIMEDIA_SAMPLE = fileURLToPath(
  projectFile("fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl"),
);

/** What the Wikimedia source is doing, for a status line and /api/health. */
export interface WikimediaState {
  mode: "off" | "connecting" | "live" | "reconnecting" | "replay" | "failed";
  detail: string;
}

/** What the sources say on the way that is not an error: for the console. */
export interface SourceNotices {
  /** The live feed could not be reached, so the bundled sample replays in a loop instead. */
  onLiveFeedUnreachable?: (reason: string) => void;
  /** A line of a replayed recording that could not be read; the replay goes on. */
  onBadLine?: (message: string) => void;
}

/** The simulator's population and defects from config `simulator`: seed, users and the shares of late, duplicate and malformed records. */
export function simulatorSettings(config: PulseConfig): SimulatorOptions {
  const sim = config.simulator;
  return {
    seed: sim.seed,
    users: sim.users,
    outOfOrderShare: sim.out_of_order_share,
    maxLatenessSec: sim.max_lateness_sec,
    duplicateShare: sim.duplicate_share,
    malformedShare: sim.malformed_share,
  };
}

/** Simulated activity (config `simulator`) at a steady rate from `startTimeMs`, released as the wall clock reaches each event. */
export async function runSimulator(
  platform: Platform,
  signal: AbortSignal,
  startTimeMs: number,
  burst: SimulatorBurst | undefined,
): Promise<void> {
  const { rate } = platform.config.simulator;
  if (rate <= 0) return;
  const events = simulateActivity({
    ...simulatorSettings(platform.config),
    startTimeMs,
    ratePerSec: rate,
    burst,
    // A steady rate, so the status line shows --rate; only a --burst changes it.
    dayNightAmplitude: 0,
  });
  await pump(paceByEventTime(events, signal), async (batch) => void (await platform.activity.send(batch)), {
    ratePerSec: 0,
    signal,
  });
}

/**
 * Live pacing: an event is released once the wall clock reaches its event time, so the processing-time
 * rate follows the simulated one, bursts included. Late and malformed events carry no schedule of their
 * own and go out with the events around them.
 */
async function* paceByEventTime(
  events: Iterable<SimulatedEvent>,
  signal: AbortSignal,
): AsyncGenerator<unknown> {
  for (const simulated of events) {
    if (signal.aborted) return;
    if (simulated.kind === "valid") {
      const waitMs = simulated.event.event_time - Date.now();
      // Sleeping only past a few ms keeps timers to a few hundred a second whatever the rate.
      if (waitMs > 5) await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    }
    yield simulated.event;
  }
}

/**
 * The Wikimedia source config `wikimedia.source` names: off, replay:<file> (looped, moved to the present)
 * or live, which falls back to the bundled sample when the feed cannot be reached at all.
 */
export async function runWikimedia(
  platform: Platform,
  signal: AbortSignal,
  state: WikimediaState,
  notices: SourceNotices = {},
): Promise<void> {
  const setting = platform.config.wikimedia.source;
  const send = async (batch: unknown[]): Promise<void> => void (await platform.wikimedia.send(batch));
  if (setting === "off") return;
  if (setting.startsWith("replay:")) {
    await replayLoop(setting.slice("replay:".length), send, signal, state, notices);
    return;
  }
  if (setting !== "live") {
    throw new UsageError(`wikimedia.source must be live, off or replay:<file>, got '${setting}'`);
  }
  const client = new EventStreamsClient({
    url: platform.config.wikimedia.url,
    signal,
    firstConnectAttempts: 2,
    connectTimeoutMs: 5_000,
    onStatus: (status) => {
      if (status.kind === "connecting") state.mode = "connecting";
      else if (status.kind === "connected") state.mode = "live";
      else if (status.kind === "reconnecting")
        Object.assign(state, { mode: "reconnecting", detail: status.reason });
    },
  });
  state.mode = "connecting";
  try {
    await pump(
      (async function* () {
        for await (const event of client.events()) yield event.data;
      })(),
      send,
      { ratePerSec: 0, maxBatch: 500, signal },
    );
  } catch (error) {
    if (!(error instanceof PulseError) || error.code !== EventStreamsCode.unreachable || signal.aborted)
      throw error;
    notices.onLiveFeedUnreachable?.(error.message);
    await replayLoop(BUNDLED_WIKIMEDIA_SAMPLE, send, signal, state, notices);
  }
}

async function replayLoop(
  path: string,
  send: (batch: unknown[]) => Promise<void>,
  signal: AbortSignal,
  state: WikimediaState,
  notices: SourceNotices,
): Promise<void> {
  state.mode = "replay";
  state.detail = path.split("/").pop() ?? path;
  const events = replayWikimedia(path, {
    speed: 1,
    loop: true,
    signal,
    onBadLine: (bad) => notices.onBadLine?.(bad.message),
  });
  await pump(rebaseToNow(events), send, { ratePerSec: 0, maxBatch: 500, signal });
}

/**
 * A looped recording stands in for the live feed, so each pass is moved to the present: event times are
 * shifted by (now − the pass's first event time) and each event gets a fresh id. Without this, every pass
 * after the first would be late for its windows and a duplicate of the one before.
 */
async function* rebaseToNow(events: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  let shiftMs = 0;
  let previousMs = Number.NEGATIVE_INFINITY;
  for await (const raw of events) {
    const event = raw as { meta?: { dt?: unknown; id?: unknown }; timestamp?: unknown };
    const dtMs = typeof event.meta?.dt === "string" ? Date.parse(event.meta.dt) : Number.NaN;
    if (!Number.isFinite(dtMs) || event.meta === undefined) {
      yield raw;
      continue;
    }
    // A jump back of more than a minute is the loop starting over.
    if (dtMs < previousMs - 60_000 || previousMs === Number.NEGATIVE_INFINITY) shiftMs = Date.now() - dtMs;
    previousMs = dtMs;
    const shifted = dtMs + shiftMs;
    yield {
      ...event,
      meta: { ...event.meta, dt: new Date(shifted).toISOString(), id: randomUUID() },
      ...(typeof event.timestamp === "number" ? { timestamp: Math.floor(shifted / 1000) } : {}),
    };
  }
}
