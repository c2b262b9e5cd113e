// Benchmark: the same REES46 activity windows through Pulse and Spark Structured Streaming (PySpark, local[2]), each checked against DuckDB.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import {
  ensureSpark,
  PULSE_BIN,
  pulseDrainArgs,
  pulseEnv,
  ROOT,
  type SparkInstall,
  sparkEnv,
  sparkSubmitArgs,
} from "./spark/engines.ts";
import { type BenchInput, readFixture, sentinel, writeBenchInput, writeSentinel } from "./spark/input.ts";
import { resetKafka, runKafkaVariant } from "./spark/kafka.ts";
import { type LatencyRun, runPulseLatency, runSparkLatency } from "./spark/latency.ts";
import { pulseAtOnceRun } from "./spark/at-once.ts";
import { runMeasured } from "./spark/process.ts";
import { check, load, mb, pair, sparkSummary, type ThroughputRun } from "./spark/report.ts";
import {
  pulseWindows,
  readSparkSink,
  referenceWindows,
  sparkWindows,
  totalEvents,
  type Windows,
} from "./spark/windows.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

/** Rows of generated input, duplicates included; SPARK_BENCH_ROWS overrides it. */
const ROWS = Number(process.env.SPARK_BENCH_ROWS ?? 1_000_000);
/** Runs of each engine, alternated; SPARK_BENCH_RUNS overrides it. */
const RUNS = Number(process.env.SPARK_BENCH_RUNS ?? 3);
/** Rows per input file, and files per Spark micro-batch (maxFilesPerTrigger). */
const ROWS_PER_FILE = Number(process.env.SPARK_BENCH_FILE_ROWS ?? 10_000);
const FILES_PER_TRIGGER = Number(process.env.SPARK_BENCH_FILES_PER_TRIGGER ?? 10);
/**
 * The parts to run, SPARK_BENCH_PARTS (default all: files,latency,kafka); the Kafka variant needs the
 * broker at PULSE_BENCH_KAFKA, and SPARK_BENCH_KAFKA=off leaves it out.
 */
const PARTS = new Set(
  (process.env.SPARK_BENCH_PARTS ?? "files,latency,kafka")
    .split(",")
    .filter((p) => p !== "kafka" || process.env.SPARK_BENCH_KAFKA !== "off"),
);
const FIXTURE = join(ROOT, "fixtures", "activity", "rees46-multicategory-2019-10-01.csv");

/**
 * Pulse: `pulse produce activity --replay input.csv --speed 0`, then `pulse stream --drain` over that log
 * (1-minute windows, 10-minute watermark delay), one after the other in a fresh folder; the time is the
 * two processes' wall times together, start-up included; the peak RSS the larger of the two.
 */
async function pulseRun(input: BenchInput, dir: string, reference: Windows): Promise<ThroughputRun> {
  const data = join(dir, "pulse");
  rmSync(data, { recursive: true, force: true });
  const env = pulseEnv();
  const node = process.execPath;
  const produced = await runMeasured(
    node,
    [PULSE_BIN, "produce", "activity", "--replay", input.csv, "--speed", "0", "--data-dir", data, "--json"],
    { env, cwd: ROOT },
  );
  const drained = await runMeasured(node, pulseDrainArgs(data), { env, cwd: ROOT });
  check("Pulse", reference, pulseWindows(join(data, "store.db")));
  const wallMs = produced.wallMs + drained.wallMs;
  const drain = JSON.parse(drained.stdout) as { read: number; accepted: number };
  rmSync(data, { recursive: true, force: true });
  return {
    engine: "pulse",
    eventsPerSec: input.rows / (wallMs / 1000),
    wallMs,
    cpuSeconds: produced.cpuSeconds + drained.cpuSeconds,
    peakRssBytes: Math.max(produced.peakRssBytes, drained.peakRssBytes),
    load: `${load(produced)}, ${load(drained)}`,
    detail: `produce ${(produced.wallMs / 1000).toFixed(1)} s (peak RSS ${mb(produced.peakRssBytes)} MB) + drain ${(drained.wallMs / 1000).toFixed(1)} s (peak RSS ${mb(drained.peakRssBytes)} MB, ${drain.read} read, ${drain.accepted} accepted)`,
  };
}

/**
 * Spark: spark-submit of job.py over the input files (maxFilesPerTrigger), the sentinel file last; the time
 * runs from spawning spark-submit (JVM start-up included) until the job has written every window and
 * stopped.
 */
async function sparkRun(
  spark: SparkInstall,
  input: BenchInput,
  dir: string,
  reference: Windows,
  stopWatermarkMs: number,
): Promise<ThroughputRun> {
  const work = join(dir, "spark");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const output = join(work, "windows.jsonl");
  const run = await runMeasured(
    spark.sparkSubmit,
    [
      ...sparkSubmitArgs(spark, false),
      "--source",
      "files",
      "--input",
      input.filesDir,
      "--max-files-per-trigger",
      String(FILES_PER_TRIGGER),
      "--output",
      output,
      "--checkpoint",
      join(work, "checkpoint"),
      "--stop-watermark-ms",
      String(stopWatermarkMs),
    ],
    { env: sparkEnv(spark), cwd: work },
  );
  const rows = readSparkSink(output);
  check("Spark", reference, sparkWindows(rows));
  const summary = sparkSummary(run.stdout);
  const lastWrittenMs = Math.max(...rows.map((r) => r.written_ms));
  const queryMs = lastWrittenMs - summary.query_started_ms;
  rmSync(work, { recursive: true, force: true });
  return {
    engine: "spark",
    eventsPerSec: input.rows / (run.wallMs / 1000),
    wallMs: run.wallMs,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    load: load(run),
    detail: `${summary.batches} micro-batches; ${(queryMs / 1000).toFixed(1)} s from the query's start to its last window written (${Math.round(input.rows / (queryMs / 1000))}/s without JVM start-up)`,
  };
}

/** The file variant: Pulse's replay and drain against Spark's file source, alternated, RUNS of each. */
async function filesResults(
  spark: SparkInstall,
  input: BenchInput,
  dir: string,
  reference: Windows,
  stopWatermarkMs: number,
): Promise<BenchResult[]> {
  const runs: ThroughputRun[] = [];
  const atOnce: ThroughputRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternated, and the first engine of each round alternated too.
    const order =
      i % 2 === 0 ? (["pulse", "at-once", "spark"] as const) : (["spark", "at-once", "pulse"] as const);
    for (const engine of order) {
      const r =
        engine === "pulse"
          ? await pulseRun(input, dir, reference)
          : engine === "at-once"
            ? await pulseAtOnceRun(input, dir, reference)
            : await sparkRun(spark, input, dir, reference, stopWatermarkMs);
      console.error(
        `spark bench: ${engine} run ${i + 1}: ${Math.round(r.eventsPerSec)} events/s, ${r.cpuSeconds.toFixed(1)} CPU s, peak RSS ${mb(r.peakRssBytes)} MB; ${r.detail}; ${r.load}`,
      );
      (engine === "at-once" ? atOnce : runs).push(r);
    }
  }
  const of = (engine: "pulse" | "spark") => runs.filter((r) => r.engine === engine);
  const what = `${input.rows} REES46 rows (${totalEvents(reference)} after deduplication, ${reference.size} windows, every one equal to DuckDB's)`;
  return [
    ...pair(
      "files.events_per_s",
      "events/s",
      of("pulse").map((r) => r.eventsPerSec),
      of("spark").map((r) => r.eventsPerSec),
      `${what}, process start-up included`,
    ),
    ...pair(
      "files.cpu_s",
      "CPU s",
      of("pulse").map((r) => r.cpuSeconds),
      of("spark").map((r) => r.cpuSeconds),
      "user + system, every process of the run",
      1,
    ),
    ...pair(
      "files.peak_rss",
      "MB",
      of("pulse").map((r) => mb(r.peakRssBytes)),
      of("spark").map((r) => mb(r.peakRssBytes)),
      "the process tree's RSS summed, sampled every 100 ms (Spark: the JVM and its Python driver)",
    ),
    ...pair(
      "files_at_once.events_per_s",
      "events/s",
      atOnce.map((r) => r.eventsPerSec),
      of("spark").map((r) => r.eventsPerSec),
      `${what}; Pulse's stream job running while its replay writes (bench/spark/at-once.ts)`,
    ),
    ...pair(
      "files_at_once.cpu_s",
      "CPU s",
      atOnce.map((r) => r.cpuSeconds),
      of("spark").map((r) => r.cpuSeconds),
      "user + system: the replay, the running job and the final drain",
      1,
    ),
  ];
}

/** The latency runs (bench/spark/latency.ts), alternated, RUNS of each engine. */
async function latencyResults(spark: SparkInstall, dir: string): Promise<BenchResult[]> {
  const latency: LatencyRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? (["pulse", "spark"] as const) : (["spark", "pulse"] as const);
    for (const engine of order) {
      const r =
        engine === "pulse"
          ? await runPulseLatency(join(dir, "latency-pulse"))
          : await runSparkLatency(spark, join(dir, "latency-spark"));
      console.error(`spark bench: latency ${engine} run ${i + 1}: ${r.summary}`);
      latency.push(r);
    }
  }
  const lat = (engine: "pulse" | "spark", f: (r: LatencyRun) => number) =>
    latency.filter((r) => r.engine === engine).map(f);
  return [
    ...pair(
      "latency.p50",
      "ms",
      lat("pulse", (r) => r.p50Ms),
      lat("spark", (r) => r.p50Ms),
      "append of the event that closes a window → its final row visible, at 10k events/s",
    ),
    ...pair(
      "latency.p99",
      "ms",
      lat("pulse", (r) => r.p99Ms),
      lat("spark", (r) => r.p99Ms),
      "the same, p99",
    ),
  ];
}

export async function run(): Promise<BenchResult[]> {
  for (const [name, value] of [
    ["SPARK_BENCH_ROWS", ROWS],
    ["SPARK_BENCH_RUNS", RUNS],
    ["SPARK_BENCH_FILE_ROWS", ROWS_PER_FILE],
    ["SPARK_BENCH_FILES_PER_TRIGGER", FILES_PER_TRIGGER],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name} must be a whole number ≥ 1, got ${value}`);
  }
  const unknown = [...PARTS].filter((p) => !["files", "latency", "kafka"].includes(p));
  if (unknown.length > 0)
    throw new Error(
      `SPARK_BENCH_PARTS: unknown part ${unknown.join(", ")}; the parts are files, latency, kafka`,
    );
  if (PARTS.has("kafka")) await resetKafka(RUNS);
  const spark = ensureSpark();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
  console.error(
    `spark bench: ${new Date().toISOString()}; ${machine}; PySpark ${spark.version}; ${ROWS} rows, ${RUNS} runs`,
  );
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-spark-"));
  try {
    const input = writeBenchInput(readFixture(FIXTURE), dir, ROWS, ROWS_PER_FILE);
    const end = sentinel(input.lastEventTimeMs);
    writeSentinel(input, end.row);
    const reference = await referenceWindows(input.csv);
    const results: BenchResult[] = [];
    if (PARTS.has("files"))
      results.push(...(await filesResults(spark, input, dir, reference, end.stopWatermarkMs)));
    if (PARTS.has("latency")) results.push(...(await latencyResults(spark, dir)));
    if (PARTS.has("kafka")) results.push(...(await runKafkaVariant(spark, input, dir, reference, end, RUNS)));
    results.push({
      name: "spark.machine",
      value: loadavg()[0]!,
      unit: "load avg",
      detail: `${new Date().toISOString()}; ${machine} at the start; PySpark ${spark.version}, local[2]; Node ${process.version}`,
    });
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
