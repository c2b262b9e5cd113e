// Benchmark: the HTTP collector at a sustained rate in batches, with `pulse up`'s stream job running, then flooded; every acknowledged event counted back out of the log.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CollectorLoadReport,
  checkStored,
  cpuSeconds,
  driveCollector,
  quantile,
  sampleRss,
} from "../test/helpers/collector-load.ts";
import { envWithoutPulse, startPulseUp } from "./pulse-up.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

/** Events per second of the steady phase (issue 20: 20k). */
const RATE = Number(process.env.PULSE_BENCH_COLLECTOR_RATE ?? 20_000);
const BATCH = Number(process.env.PULSE_BENCH_COLLECTOR_BATCH ?? 100);
const STEADY_MS = Number(process.env.PULSE_BENCH_COLLECTOR_SECONDS ?? 60) * 1000;
const WARMUP_MS = 5_000;
const FLOOD_MS = Number(process.env.PULSE_BENCH_COLLECTOR_FLOOD_SECONDS ?? 10) * 1000;
const FLOOD_BATCH = 1000;
const FLOOD_CONCURRENCY = 256;
const API_KEY = "bench-key";

const MB = 1024 * 1024;

interface Health {
  parts: { stream?: { status?: string; accepted?: number }; collector?: { throttled?: number } };
}

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/api/health`)).json()) as Health;
}

function describeRun(run: CollectorLoadReport): string {
  const failed = Object.entries(run.failed).map(([what, n]) => `${n} × ${what}`);
  return (
    `${run.requests.toLocaleString("en-US")} requests of ${run.sentEvents / run.requests} events: ` +
    `${run.ok.toLocaleString("en-US")} × 200, ${run.throttled.toLocaleString("en-US")} × 429` +
    (failed.length > 0 ? `, ${failed.join(", ")}` : "")
  );
}

export async function run(): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "pulse-bench-collector-"));
  const up = startPulseUp(["--port", "0", "--rate", "0", "--wikimedia", "off", "--data-dir", dataDir], {
    ...envWithoutPulse(),
    PULSE_API_KEYS: API_KEY,
  });
  try {
    const url = await up.url;
    const events = `${url}/api/v1/events`;
    const before = await health(url);
    if (before.parts.stream?.status !== "ok")
      throw new Error(`the stream job is not running: ${JSON.stringify(before.parts.stream)}`);

    // Warm-up at the same rate (its events are checked too, not timed): the first seconds JIT-compile the path.
    const warmup = await driveCollector({
      url: events,
      apiKey: API_KEY,
      tag: "00000009",
      eventsPerBatch: BATCH,
      eventsPerSec: RATE,
      durationMs: WARMUP_MS,
      concurrency: 64,
    });
    const cpuBefore = cpuSeconds(up.child.pid!);
    const steadyRss = sampleRss(up.child.pid!);
    const steady = await driveCollector({
      url: events,
      apiKey: API_KEY,
      tag: "0000000a",
      eventsPerBatch: BATCH,
      eventsPerSec: RATE,
      durationMs: STEADY_MS,
      concurrency: 64,
    });
    const steadySamples = steadyRss.stop();
    const steadyCpu = (cpuSeconds(up.child.pid!) ?? Number.NaN) - (cpuBefore ?? Number.NaN);

    const floodRss = sampleRss(up.child.pid!, 250);
    const flood = await driveCollector({
      url: events,
      apiKey: API_KEY,
      tag: "0000000b",
      eventsPerBatch: FLOOD_BATCH,
      eventsPerSec: 0,
      durationMs: FLOOD_MS,
      concurrency: FLOOD_CONCURRENCY,
    });
    const floodSamples = floodRss.stop();
    // The stream job reads what the collector appended; give it a moment to catch up before asking.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await health(url);

    up.child.kill("SIGTERM");
    const code = await up.exited;
    if (code !== 0) throw new Error(`pulse up exited ${code}: ${up.output().slice(-4000)}`);
    const runs = [warmup, steady, flood];
    const checks = await checkStored(dataDir, runs);
    for (const run of runs) {
      const check = checks.get(run.tag)!;
      if (check.missing > 0 || check.duplicates > 0 || check.stored !== run.ackedEvents) {
        throw new Error(
          `run ${run.tag}: ${run.ackedEvents} events acknowledged, ${check.stored} stored, ` +
            `${check.missing} missing, ${check.duplicates} duplicates, ${check.unacked} stored without an acknowledgement`,
        );
      }
    }

    const seconds = STEADY_MS / 1000;
    const streamAccepted = (after.parts.stream?.accepted ?? 0) - (before.parts.stream?.accepted ?? 0);
    const ackedAll = runs.reduce((sum, r) => sum + r.ackedEvents, 0);
    const maxMb = (samples: number[]) => Math.round(Math.max(...samples) / MB);
    return [
      {
        name: "collector.steady_rate",
        value: Math.round(steady.ackedEvents / (steady.elapsedMs / 1000)),
        unit: "events/s",
        detail: `goal ${RATE.toLocaleString("en-US")} for ${seconds} s; ${describeRun(steady)}`,
      },
      {
        name: "collector.steady_latency_p50",
        value: Number(quantile(steady.latenciesMs, 0.5).toFixed(1)),
        unit: "ms",
        detail: `${BATCH}-event requests, up to 64 in flight`,
      },
      {
        name: "collector.steady_latency_p99",
        value: Number(quantile(steady.latenciesMs, 0.99).toFixed(1)),
        unit: "ms",
      },
      {
        name: "collector.steady_cpu",
        value: Number(((steadyCpu / steady.ackedEvents) * 1e6).toFixed(1)),
        unit: "ms/1k events",
        detail: `pulse up's user + system CPU over the steady phase: ${steadyCpu.toFixed(1)} s in ${seconds} s (collector and stream job)`,
      },
      {
        name: "collector.steady_rss_max",
        value: maxMb(steadySamples),
        unit: "MB",
        detail: `pulse up, sampled every second: first ${Math.round(steadySamples[0]! / MB)} MB, last ${Math.round(steadySamples.at(-1)! / MB)} MB`,
      },
      {
        name: "collector.acked_in_log",
        value: ackedAll,
        unit: "events",
        detail: `warm-up, steady and flood: every acknowledged event id in user-activity exactly once (read back after stopping); the stream job accepted ${streamAccepted.toLocaleString("en-US")} meanwhile`,
      },
      {
        name: "collector.flood_rate",
        value: Math.round(flood.ackedEvents / (flood.elapsedMs / 1000)),
        unit: "events/s",
        detail: `unpaced, ${FLOOD_CONCURRENCY} in flight, ${FLOOD_MS / 1000} s; ${describeRun(flood)}; ${flood.throttledMalformed} 429s without Retry-After or a message`,
      },
      {
        name: "collector.flood_rss_max",
        value: maxMb(floodSamples),
        unit: "MB",
        detail: `sampled every 250 ms; collector.max_pending_batches 64 × max_body_bytes 1 MiB bounds the bodies held`,
      },
    ];
  } finally {
    if (up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill("SIGKILL");
      await up.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResults(await run());
