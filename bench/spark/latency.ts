// The Spark bench's latency runs: REES46 rows appended at 10k events/s to each engine, timed from the append that closes a window to its final row.

import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { TOPICS, type UserActivity } from "../../src/contracts/types.ts";
import { parseActivityCsvHeader, parseActivityCsvLine } from "../../src/ingest/activity-csv.ts";
import { activityProducer } from "../../src/ingest/producer.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import {
  PULSE_BIN,
  PULSE_WINDOW_FLAGS,
  pulseEnv,
  ROOT,
  type SparkInstall,
  sparkEnv,
  sparkSubmitArgs,
} from "./engines.ts";
import {
  csvRow,
  type FixtureRow,
  fileName,
  HEADER,
  readFixture,
  sentinel,
  WATERMARK_DELAY_MS,
  WINDOW_MS,
} from "./input.ts";
import { startCommand } from "./process.ts";
import { readSparkSink } from "./windows.ts";

/*
 * Both engines get the same schedule. Every TICK_MS the harness appends RATE × TICK_MS / 1000 rows (the
 * fixture's rows in turn, each with a session suffix of its own): for Spark as one new CSV file in the
 * folder its file source watches (written under a hidden name, then renamed), for Pulse through Pulse's
 * producer into the embedded log a running `pulse stream` reads (the rows parsed by the replay's parser).
 * Event time runs EVENT_SPEEDUP times faster than the wall clock, so windows close during the run: tick k
 * holds event times [t0 + k·Δ, t0 + (k+1)·Δ), Δ = TICK_MS × EVENT_SPEEDUP.
 *
 * A window [s, e) is final once the watermark (the largest event time seen − 10 minutes) reaches e, so
 * the append that closes it is the first tick holding an event at or after e + 10 minutes. Its latency is
 * the time from that append (the rename, or the producer's acknowledgement) to its final rows being
 * visible: for Spark the wall-clock time its foreachBatch sink wrote them, for Pulse the first of the
 * harness's store polls (every POLL_MS) that saw every row of the window final.
 */
const RATE_PER_SEC = 10_000;
const TICK_MS = 100;
const EVENT_SPEEDUP = 120;
/** Windows closed in the first WARMUP_MS of appends are not counted (JIT, the JVM's first batches). */
const WARMUP_MS = Number(process.env.SPARK_BENCH_LATENCY_WARMUP_SECONDS ?? 10) * 1000;
const MEASURE_MS = Number(process.env.SPARK_BENCH_LATENCY_SECONDS ?? 30) * 1000;
/** After the last append, how long to wait for the last windows. */
const SETTLE_MS = 30_000;
const POLL_MS = 5;
const PARTITIONS = 6;
const FIXTURE = join(ROOT, "fixtures", "activity", "rees46-multicategory-2019-10-01.csv");
/** First event time: the fixture's day, on a window boundary. */
const T0_MS = Date.UTC(2019, 9, 1);

export interface LatencyRun {
  engine: "pulse" | "spark";
  p50Ms: number;
  p99Ms: number;
  windows: number;
  summary: string;
}

/** The rows of tick k, as CSV text. */
function tickRows(fixture: readonly FixtureRow[], k: number): string[] {
  const perTick = (RATE_PER_SEC * TICK_MS) / 1000;
  const spanMs = TICK_MS * EVENT_SPEEDUP;
  const rows: string[] = [];
  for (let j = 0; j < perTick; j++) {
    const i = k * perTick + j;
    const t = T0_MS + k * spanMs + Math.floor((j * spanMs) / perTick / 1000) * 1000;
    rows.push(csvRow(fixture[i % fixture.length]!, t, `-L${i}`));
  }
  return rows;
}

/** The first tick holding an event at or after `ms`. */
function firstTickAtOrAfter(ms: number): number {
  const spanMs = TICK_MS * EVENT_SPEEDUP;
  return Math.max(0, Math.ceil((ms - T0_MS - spanMs + 1000) / spanMs));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Latency of each window closed after the warm-up: visible − the append of its closing tick. */
function latencies(
  engine: "pulse" | "spark",
  visibleMs: Map<number, number>,
  appendedMs: readonly number[],
  startMs: number,
): LatencyRun {
  const samples: number[] = [];
  for (const [windowStart, visible] of visibleMs) {
    const k = firstTickAtOrAfter(windowStart + WINDOW_MS + WATERMARK_DELAY_MS);
    const appended = appendedMs[k];
    if (appended === undefined || appended - startMs < WARMUP_MS) continue;
    samples.push(visible - appended);
  }
  samples.sort((a, b) => a - b);
  if (samples.length === 0) throw new Error(`${engine}: no window closed after the warm-up`);
  const p50Ms = percentile(samples, 50);
  const p99Ms = percentile(samples, 99);
  return {
    engine,
    p50Ms,
    p99Ms,
    windows: samples.length,
    summary: `${samples.length} windows, p50 ${p50Ms} ms, p99 ${p99Ms} ms, max ${samples.at(-1)} ms`,
  };
}

/** Appends tick after tick on the wall clock (a late tick does not shift the next ones); returns each append's end. */
async function pace(
  append: (k: number) => Promise<void> | void,
): Promise<{ appendedMs: number[]; startMs: number }> {
  const ticks = (WARMUP_MS + MEASURE_MS) / TICK_MS;
  const appendedMs: number[] = [];
  const startMs = Date.now();
  for (let k = 0; k < ticks; k++) {
    const waitMs = startMs + k * TICK_MS - Date.now();
    if (waitMs > 0) await sleep(waitMs);
    await append(k);
    appendedMs.push(Date.now());
  }
  return { appendedMs, startMs };
}

/** Windows that can close during the run: those whose closing tick was appended. */
function expectedWindows(ticks: number): number {
  const lastEventMs = T0_MS + ticks * TICK_MS * EVENT_SPEEDUP - 1000;
  return Math.max(0, Math.floor((lastEventMs - WATERMARK_DELAY_MS - T0_MS) / WINDOW_MS));
}

export async function runSparkLatency(spark: SparkInstall, dir: string): Promise<LatencyRun> {
  rmSync(dir, { recursive: true, force: true });
  const input = join(dir, "files");
  mkdirSync(input, { recursive: true });
  const output = join(dir, "windows.jsonl");
  const fixture = readFixture(FIXTURE);
  const ticks = (WARMUP_MS + MEASURE_MS) / TICK_MS;
  const end = sentinel(T0_MS + ticks * TICK_MS * EVENT_SPEEDUP);
  let started: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  const job = startCommand(
    spark.sparkSubmit,
    [
      ...sparkSubmitArgs(spark, false),
      "--source",
      "files",
      "--input",
      input,
      "--max-files-per-trigger",
      "100000",
      "--output",
      output,
      "--checkpoint",
      join(dir, "checkpoint"),
      "--stop-watermark-ms",
      String(end.stopWatermarkMs),
    ],
    { env: sparkEnv(spark), cwd: dir, onLine: (line) => line.startsWith("SPARK-BENCH-STARTED") && started() },
  );
  try {
    await Promise.race([
      ready,
      job.exited.then((code) => {
        throw new Error(`the Spark job exited (${code}) before its query started`);
      }),
    ]);
    const write = (name: string, rows: readonly string[]) => {
      const tmp = join(input, `.${name}.tmp`);
      writeFileSync(tmp, `${HEADER}\n${rows.join("\n")}\n`);
      renameSync(tmp, join(input, name));
    };
    const { appendedMs, startMs } = await pace((k) => write(fileName(k), tickRows(fixture, k)));
    write(fileName(ticks), [end.row]);
    const exited = await Promise.race([job.exited, sleep(SETTLE_MS + 60_000).then(() => "timeout" as const)]);
    if (exited !== 0) {
      const { output: log } = await job.stop();
      throw new Error(`the Spark latency job did not end cleanly (${exited}):\n${log.slice(-3000)}`);
    }
    const { peakRssBytes } = await job.stop();
    const visible = new Map<number, number>();
    for (const r of readSparkSink(output)) {
      visible.set(r.window_start, Math.max(visible.get(r.window_start) ?? 0, r.written_ms));
    }
    // The windows closed by the data, not those only the sentinel closed.
    for (const windowStart of [...visible.keys()]) {
      const k = firstTickAtOrAfter(windowStart + WINDOW_MS + WATERMARK_DELAY_MS);
      if (k >= ticks) visible.delete(windowStart);
    }
    const result = latencies("spark", visible, appendedMs, startMs);
    return {
      ...result,
      summary: `${result.summary} (${visible.size} of ${expectedWindows(ticks)} windows closed by the data; peak RSS ${Math.round(peakRssBytes / 1e6)} MB)`,
    };
  } finally {
    await job.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPulseLatency(dir: string): Promise<LatencyRun> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fixture = readFixture(FIXTURE);
  const header = parseActivityCsvHeader(HEADER);
  if (!header.ok) throw new Error(header.message);
  const ticks = (WARMUP_MS + MEASURE_MS) / TICK_MS;
  // As pulse opens them (src/app/backends.ts).
  const log = EmbeddedLog.open({ path: join(dir, "log.db"), backgroundCheckpoints: true });
  const registry = SchemaRegistry.open({ path: join(dir, "registry.db") });
  const producer = activityProducer({ log, serde: new AvroSerde(registry), source: "bench" });
  await producer.ensureTopics(PARTITIONS);
  await producer.ready();
  let started: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  const job = startCommand(
    process.execPath,
    [
      PULSE_BIN,
      "stream",
      "--topics",
      TOPICS.activity,
      ...PULSE_WINDOW_FLAGS,
      "--no-alerts",
      "--data-dir",
      dir,
    ],
    { env: pulseEnv(), cwd: ROOT, onLine: (line) => line.includes("pulse stream: job") && started() },
  );
  let store: Database.Database | undefined;
  try {
    await Promise.race([
      ready,
      job.exited.then((code) => {
        throw new Error(`pulse stream exited (${code}) before it started`);
      }),
    ]);
    const visible = new Map<number, number>();
    let polling = true;
    const poller = (async () => {
      for (; polling; await sleep(POLL_MS)) {
        store ??= openStore(join(dir, "store.db"));
        if (store === undefined) continue;
        const now = Date.now();
        for (const w of store
          .prepare<[number], { window_start: number; open: number }>(
            "SELECT window_start, SUM(final = 0) AS open FROM activity_windows WHERE window_ms = ? GROUP BY window_start",
          )
          .all(WINDOW_MS)) {
          if (w.open === 0 && !visible.has(w.window_start)) visible.set(w.window_start, now);
        }
      }
    })();
    const { appendedMs, startMs } = await pace(async (k) => {
      const events: UserActivity[] = [];
      for (const [i, row] of tickRows(fixture, k).entries()) {
        const parsed = parseActivityCsvLine(row, header.columns, i + 2);
        if (parsed.ok) events.push(parsed.event);
      }
      await producer.send(events);
    });
    const closable = expectedWindows(ticks);
    const settleBy = Date.now() + SETTLE_MS;
    while (visible.size < closable && Date.now() < settleBy) await sleep(50);
    polling = false;
    await poller;
    const { peakRssBytes } = await job.stop();
    const result = latencies("pulse", visible, appendedMs, startMs);
    return {
      ...result,
      summary: `${result.summary} (${visible.size} of ${closable} windows closed by the data; pulse stream's peak RSS ${Math.round(peakRssBytes / 1e6)} MB)`,
    };
  } finally {
    await job.stop();
    store?.close();
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The live store once pulse stream has created it and its window table. */
function openStore(path: string): Database.Database | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare("SELECT 1 FROM activity_windows LIMIT 1").all();
    return db;
  } catch {
    db?.close();
    return undefined;
  }
}
