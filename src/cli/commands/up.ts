// `pulse up`: the whole platform on one process: registry, log, sources, HTTP server and a live status line.

import { EventStreamsCode, EventStreamsClient } from "../../ingest/wikimedia/client.ts";
import { replayWikimedia } from "../../ingest/wikimedia/replay.ts";
import { pump } from "../../ingest/pump.ts";
import { type SimulatedEvent, type SimulatorBurst, simulateActivity } from "../../ingest/simulator.ts";
import { tumblingWindow } from "../../stream/windows.ts";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../../config/backends.ts";
import { PulseError, UsageError } from "../../errors.ts";
import { SseHub } from "../../serve/sse.ts";
import { StreamJob, type StreamProgress } from "../../stream/job/index.ts";
import { configFromFlags, durationFlag, numberFlag, parseCommandArgs } from "../args.ts";
import { parseBurst } from "./produce.ts";
import type { Command } from "../main.ts";
import { BUNDLED_WIKIMEDIA_SAMPLE, openPlatform, type Platform } from "../platform.ts";
import { startServing } from "../serving.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";
import { StatusLine } from "../status.ts";

const RETENTION_EVERY_MS = 60_000;

const OPTIONS = {
  duration: { type: "string" },
  rate: { type: "string" },
  port: { type: "string" },
  seed: { type: "string" },
  wikimedia: { type: "string" },
  burst: { type: "string" },
  window: { type: "string" },
  "out-of-orderness": { type: "string" },
} as const;

/** What the Wikimedia source is doing, for the status line and /api/health. */
interface WikimediaState {
  mode: "off" | "connecting" | "live" | "reconnecting" | "replay" | "failed";
  detail: string;
}

export const upCommand: Command = {
  summary: "run the whole platform: registry, log, sources, the stream job, live API and HTTP server",
  usage:
    "pulse up [--duration <sec>] [--rate <events/s>] [--port 8501] [--data-dir ./data] [--seed N] [--wikimedia live|replay:<file>|off]\n" +
    "         [--window 1m] [--out-of-orderness 10s] [--burst +SEC,DURATION_SEC,MULTIPLIER]\n" +
    "  --window: the stream job's tumbling window (e.g. 1s, 10s, 1m). --burst: multiply the simulated rate\n" +
    "  for DURATION_SEC of event time, SEC after start; e.g.\n" +
    "  --window 1s --out-of-orderness 2s --burst +15,5,5 shows an alert in /api/live/alerts within 30 s.",
  async run(argv) {
    const { values } = parseCommandArgs("up", argv, OPTIONS);
    const wikimediaFlag = values.wikimedia;
    if (wikimediaFlag !== undefined && !/^(live|off|replay:.+)$/.test(wikimediaFlag)) {
      throw new UsageError(`--wikimedia must be live, off or replay:<file>, got '${wikimediaFlag}'`);
    }
    const config = configFromFlags(values, {
      "simulator.rate": numberFlag("rate", values.rate, { min: 0 }),
      "simulator.seed": numberFlag("seed", values.seed, { integer: true, min: 0 }),
      "server.port": numberFlag("port", values.port, { integer: true, min: 0 }),
      "wikimedia.source": wikimediaFlag,
    });
    const duration = numberFlag("duration", values.duration, { min: 0 });
    const windowMs = durationFlag("window", values.window) ?? 60_000;
    if (windowMs < 1) throw new UsageError("--window must be at least 1ms, e.g. 1s or 1m");
    const outOfOrdernessMs = durationFlag("out-of-orderness", values["out-of-orderness"]) ?? 10_000;
    const startTimeMs = Date.now();
    const burst = values.burst === undefined ? undefined : parseBurst(values.burst, startTimeMs);
    const stop = abortOnSignals();
    const signal = withDeadline(stop.signal, duration);
    const platform = await openPlatform(config, { source: "up" });
    const store = await openStore(config).catch(async (error: unknown) => {
      await platform.close();
      throw error;
    });
    const hub = new SseHub();
    let latest: StreamProgress | undefined;
    const job = new StreamJob({
      log: platform.log,
      serde: platform.serde,
      store,
      window: tumblingWindow(windowMs),
      outOfOrdernessMs,
      onProgress: (progress) => {
        latest = progress;
        // Live dashboards follow the job batch by batch: counts, watermark and lag.
        if (progress.numInputRows > 0) hub.publish("progress", progress);
      },
      onCommitted: (batch) => {
        // Window updates as they happen (per source partition; readers sum partitions), and new alerts.
        const activity = batch.activityWindows ?? [];
        const wikimedia = batch.wikiWindows ?? [];
        if (activity.length > 0 || wikimedia.length > 0) hub.publish("windows", { activity, wikimedia });
        if (batch.alerts !== undefined && batch.alerts.length > 0) hub.publish("alerts", batch.alerts);
      },
    });
    const wikimedia: WikimediaState = { mode: "off", detail: "" };
    const failures: string[] = [];
    try {
      const serving = await startServing(platform, config.server.port, {
        store,
        progress: () => latest ?? job.progress(),
        hub,
      });
      serving.server.reportHealth("stream", () => ({
        status: failures.some((f) => f.startsWith("stream")) ? "down" : "ok",
        job: job.job,
        watermarkMs: latest?.eventTime.watermarkMs ?? null,
        ...(latest?.totals ?? {}),
      }));
      serving.server.reportHealth("activity-simulator", () => ({
        status: config.simulator.rate > 0 ? "ok" : "off",
        rate: config.simulator.rate,
        ...platform.activity.counters,
      }));
      serving.server.reportHealth("wikimedia", () => ({
        status: wikimedia.mode === "off" ? "off" : wikimedia.mode === "failed" ? "down" : "ok",
        mode: wikimedia.mode,
        detail: wikimedia.detail,
        ...platform.wikimedia.counters,
      }));
      process.stdout.write(
        `pulse up: data in ${config.data_dir}; API on ${serving.url} (GET /api/health, registry at ${serving.url}/subjects, POST /api/v1/events)` +
          `${duration !== undefined ? `; stopping after ${duration}s` : "; Ctrl-C to stop"}\n`,
      );

      const status = new StatusLine({
        counters: [
          { label: "user-activity", read: () => platform.activity.counters.accepted },
          { label: "dlq", read: () => platform.activity.counters.rejected },
          { label: "wikimedia.recentchange", read: () => platform.wikimedia.counters.accepted },
          { label: "dlq", read: () => platform.wikimedia.counters.rejected },
          { label: "stream", read: () => latest?.totals.input ?? 0 },
        ],
        suffix: () => `wikimedia: ${wikimedia.mode}${wikimedia.detail ? ` (${wikimedia.detail})` : ""}`,
      });
      status.start();
      const retention = setInterval(() => {
        platform.log
          .enforceRetention()
          .catch((error: unknown) => failures.push(`retention: ${(error as Error).message}`));
      }, RETENTION_EVERY_MS);
      retention.unref();

      const guard = (name: string, task: Promise<unknown>): Promise<void> =>
        task.then(
          () => undefined,
          (error: unknown) => {
            // A failed source is reported and the rest of the platform keeps running.
            const message =
              error instanceof PulseError ? `${error.message} [${error.code}]` : (error as Error).message;
            failures.push(`${name}: ${message}`);
            process.stderr.write(`\npulse up: ${name} stopped: ${message}\n`);
          },
        );
      await Promise.all([
        guard("activity simulator", runSimulator(platform, signal, startTimeMs, burst)),
        guard("wikimedia", runWikimedia(platform, signal, wikimedia)),
        guard("stream", job.run(signal)),
        new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener("abort", () => resolve(), { once: true });
        }),
      ]);
      clearInterval(retention);
      status.stop();
      hub.close();
      await serving.server.close();
      return 0;
    } finally {
      stop.dispose();
      await store.close();
      await platform.close();
    }
  },
};

async function runSimulator(
  platform: Platform,
  signal: AbortSignal,
  startTimeMs: number,
  burst: SimulatorBurst | undefined,
): Promise<void> {
  const sim = platform.config.simulator;
  if (sim.rate <= 0) return;
  const events = simulateActivity({
    seed: sim.seed,
    users: sim.users,
    startTimeMs,
    ratePerSec: sim.rate,
    burst,
    // A steady rate, so the status line shows --rate; only a --burst changes it.
    dayNightAmplitude: 0,
    outOfOrderShare: sim.out_of_order_share,
    maxLatenessSec: sim.max_lateness_sec,
    duplicateShare: sim.duplicate_share,
    malformedShare: sim.malformed_share,
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
async function* paceByEventTime(events: Iterable<SimulatedEvent>, signal: AbortSignal): AsyncGenerator<unknown> {
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

async function runWikimedia(platform: Platform, signal: AbortSignal, state: WikimediaState): Promise<void> {
  const setting = platform.config.wikimedia.source;
  const send = async (batch: unknown[]): Promise<void> => void (await platform.wikimedia.send(batch));
  if (setting === "off") return;
  if (setting.startsWith("replay:")) {
    await replayLoop(setting.slice("replay:".length), send, signal, state);
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
    process.stderr.write(
      `\npulse up: Wikimedia live feed unreachable (${error.message}); replaying the bundled sample in a loop instead, moved to the present\n`,
    );
    await replayLoop(BUNDLED_WIKIMEDIA_SAMPLE, send, signal, state);
  }
}

async function replayLoop(
  path: string,
  send: (batch: unknown[]) => Promise<void>,
  signal: AbortSignal,
  state: WikimediaState,
): Promise<void> {
  state.mode = "replay";
  state.detail = path.split("/").pop() ?? path;
  const events = replayWikimedia(path, {
    speed: 1,
    loop: true,
    signal,
    onBadLine: (bad) => process.stderr.write(`\n${bad.message}\n`),
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
