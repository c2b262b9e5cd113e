// Pulse's files run as `pulse up` runs its parts: the stream job already running while the replay writes the log.

import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { DEFAULT_JOB_NAME } from "../../src/stream/job/index.ts";
import { PULSE_BIN, PULSE_WINDOW_FLAGS, pulseDrainArgs, pulseEnv, ROOT } from "./engines.ts";
import type { BenchInput } from "./input.ts";
import { runMeasured, startCommand } from "./process.ts";
import { check, type ThroughputRun } from "./report.ts";
import { pulseWindows, type Windows } from "./windows.ts";

/** Clock ticks a second in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a running process, from /proc. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * `pulse stream` (not --drain) started and ready, then `pulse produce activity --replay input.csv --speed 0`
 * into the same folder; when the job's checkpoints cover every record produced, the job is stopped and a
 * `pulse stream --drain` makes the last windows final (the topic's end does for Pulse what the sentinel
 * file does for Spark). The time runs from starting the replay to the drain's exit, start-ups included;
 * the stream job's own start-up before it is not counted, as Spark's query is started by its run.
 */
export async function pulseAtOnceRun(
  input: BenchInput,
  dir: string,
  reference: Windows,
): Promise<ThroughputRun> {
  const data = join(dir, "pulse-at-once");
  rmSync(data, { recursive: true, force: true });
  const env = pulseEnv();
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const stream = startCommand(
    process.execPath,
    [
      PULSE_BIN,
      "stream",
      "--topics",
      "user-activity",
      ...PULSE_WINDOW_FLAGS,
      "--no-alerts",
      "--data-dir",
      data,
    ],
    { env, cwd: ROOT, onLine: (line) => line.includes("pulse stream: job") && ready() },
  );
  let streamCpu = 0;
  let streamRss = 0;
  try {
    await Promise.race([
      started,
      stream.exited.then((code) => {
        throw new Error(`pulse stream exited (${code}) before it started`);
      }),
    ]);
    const startMs = performance.now();
    const produced = await runMeasured(
      process.execPath,
      [PULSE_BIN, "produce", "activity", "--replay", input.csv, "--speed", "0", "--data-dir", data, "--json"],
      { env, cwd: ROOT },
    );
    const records = (JSON.parse(produced.stdout) as { produced: number }).produced;
    const store = EmbeddedLiveStore.open({ path: join(data, "store.db") });
    try {
      for (;;) {
        let covered = 0;
        for (const next of (await store.checkpointOffsets(DEFAULT_JOB_NAME, "user-activity")).values()) {
          covered += next;
        }
        if (covered >= records) break;
        if (performance.now() - startMs > 600_000)
          throw new Error("pulse stream did not catch up in 10 minutes");
        await sleep(10);
      }
    } finally {
      await store.close();
    }
    const caughtUpMs = performance.now() - startMs;
    streamCpu = cpuSecondsOf(stream.pid);
    streamRss = (await stream.stop()).peakRssBytes;
    const drained = await runMeasured(process.execPath, pulseDrainArgs(data), { env, cwd: ROOT });
    const wallMs = performance.now() - startMs;
    check("Pulse", reference, pulseWindows(join(data, "store.db")));
    return {
      engine: "pulse",
      eventsPerSec: input.rows / (wallMs / 1000),
      wallMs,
      cpuSeconds: produced.cpuSeconds + streamCpu + drained.cpuSeconds,
      // The replay and the job ran at once: their peaks add up.
      peakRssBytes: produced.peakRssBytes + streamRss,
      load: `load ${produced.loadStart.toFixed(2)} → ${drained.loadEnd.toFixed(2)}`,
      detail: `replay ${(produced.wallMs / 1000).toFixed(1)} s with the job running, caught up at ${(caughtUpMs / 1000).toFixed(1)} s, the final drain ${(drained.wallMs / 1000).toFixed(1)} s`,
    };
  } finally {
    await stream.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
