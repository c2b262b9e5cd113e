// The Spark bench's Kafka variant: the same input produced once to a real broker, then Pulse and Spark each reading that one topic.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resetPulseKafka } from "../../test/helpers/kafka-reset.ts";
import type { BenchResult } from "../types.ts";
import {
  PULSE_BIN,
  pulseDrainArgs,
  pulseEnv,
  ROOT,
  type SparkInstall,
  sparkEnv,
  sparkSubmitArgs,
} from "./engines.ts";
import { type BenchInput, HEADER, WINDOW_MS } from "./input.ts";
import { runMeasured } from "./process.ts";
import { check, load, mb, pair, sparkSummary, type ThroughputRun } from "./report.ts";
import { pulseWindows, readSparkSink, sparkWindows, type Windows } from "./windows.ts";

const KAFKA_URL = process.env.PULSE_BENCH_KAFKA ?? "kafka://127.0.0.1:9092";
/** The Avro schema Pulse's producer writes `user-activity` with (the value after the 5-byte header). */
const WRITER_SCHEMA = join(ROOT, "src", "contracts", "schemas", "user-activity.v2.avsc");
/** Records per Spark micro-batch (maxOffsetsPerTrigger), as the file variant's 10 files of 10k rows. */
const OFFSETS_PER_TRIGGER = Number(process.env.SPARK_BENCH_OFFSETS_PER_TRIGGER ?? 100_000);
const TOPIC = "user-activity";

/** Pulse's drains, one consumer group (and checkpoint key) each, so each reads the topic from its start. */
function jobName(run: number): string {
  return `spark-bench-pulse-${run}`;
}

/** Windows before the sentinel's: Pulse's drain makes every window final, the sentinel's too. */
function beforeSentinel(windows: Windows, sentinelTimeMs: number): Windows {
  const sentinelWindow = Math.floor(sentinelTimeMs / WINDOW_MS) * WINDOW_MS;
  return new Map([...windows].filter(([k]) => Number(k.split("|")[0]) < sentinelWindow));
}

/**
 * Deletes Pulse's topics and the bench's groups on the broker; run first too, so a missing broker fails the
 * bench before its long parts rather than after them.
 */
export async function resetKafka(runs: number): Promise<void> {
  await resetPulseKafka(
    KAFKA_URL,
    Array.from({ length: runs }, (_, i) => jobName(i)),
    "pulse-bench-spark-reset",
  );
}

/**
 * Resets Pulse's topics on the broker (it must be a broker of the bench's own, as for `npm run bench --
 * kafka`), produces the input and then the sentinel with `pulse produce activity --replay` (not timed),
 * then alternates `pulse stream --drain` and Spark's Kafka source over that topic, `runs` times each.
 */
export async function runKafkaVariant(
  spark: SparkInstall,
  input: BenchInput,
  dir: string,
  reference: Windows,
  end: { eventTimeMs: number; stopWatermarkMs: number; row: string },
  runs: number,
): Promise<BenchResult[]> {
  await resetKafka(runs);
  const data = join(dir, "kafka-pulse");
  mkdirSync(data, { recursive: true });
  const env = pulseEnv({ PULSE_LOG: KAFKA_URL });
  const sentinelCsv = join(dir, "sentinel.csv");
  writeFileSync(sentinelCsv, `${HEADER}\n${end.row}\n`);
  for (const csv of [input.csv, sentinelCsv]) {
    await runMeasured(
      process.execPath,
      [PULSE_BIN, "produce", "activity", "--replay", csv, "--speed", "0", "--data-dir", data, "--json"],
      { env, cwd: ROOT },
    );
  }
  const all: ThroughputRun[] = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (["pulse", "spark"] as const) : (["spark", "pulse"] as const);
    for (const engine of order) {
      const r =
        engine === "pulse"
          ? await pulseDrain(data, env, i, input, reference, end.eventTimeMs)
          : await sparkKafka(spark, dir, input, reference, end.stopWatermarkMs);
      console.error(
        `spark bench: kafka ${engine} run ${i + 1}: ${Math.round(r.eventsPerSec)} events/s, ${r.cpuSeconds.toFixed(1)} CPU s, peak RSS ${mb(r.peakRssBytes)} MB; ${r.detail}; ${r.load}`,
      );
      all.push(r);
    }
  }
  const of = (engine: "pulse" | "spark") => all.filter((r) => r.engine === engine);
  const what = `${input.rows} REES46 rows read from one Kafka topic (${KAFKA_URL}), every window equal to DuckDB's, process start-up included`;
  return [
    ...pair(
      "kafka.events_per_s",
      "events/s",
      of("pulse").map((r) => r.eventsPerSec),
      of("spark").map((r) => r.eventsPerSec),
      what,
    ),
    ...pair(
      "kafka.cpu_s",
      "CPU s",
      of("pulse").map((r) => r.cpuSeconds),
      of("spark").map((r) => r.cpuSeconds),
      "user + system, every process of the run",
      1,
    ),
    ...pair(
      "kafka.peak_rss",
      "MB",
      of("pulse").map((r) => mb(r.peakRssBytes)),
      of("spark").map((r) => mb(r.peakRssBytes)),
      "the process tree's RSS summed, sampled every 100 ms",
    ),
  ];
}

/** `pulse stream --drain` from Kafka into a fresh embedded store (the registry stays, from the produce). */
async function pulseDrain(
  data: string,
  env: NodeJS.ProcessEnv,
  run: number,
  input: BenchInput,
  reference: Windows,
  sentinelTimeMs: number,
): Promise<ThroughputRun> {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(data, `store.db${suffix}`), { force: true });
  const drained = await runMeasured(process.execPath, pulseDrainArgs(data, ["--job", jobName(run)]), {
    env,
    cwd: ROOT,
  });
  check("Pulse (Kafka)", reference, beforeSentinel(pulseWindows(join(data, "store.db")), sentinelTimeMs));
  const s = JSON.parse(drained.stdout) as { read: number; accepted: number };
  return {
    engine: "pulse",
    eventsPerSec: input.rows / (drained.wallMs / 1000),
    wallMs: drained.wallMs,
    cpuSeconds: drained.cpuSeconds,
    peakRssBytes: drained.peakRssBytes,
    load: load(drained),
    detail: `${s.read} records read, ${s.accepted} accepted (the sentinel included)`,
  };
}

/** spark-submit of job.py with the Kafka source and from_avro (packages from the Ivy cache). */
async function sparkKafka(
  spark: SparkInstall,
  dir: string,
  input: BenchInput,
  reference: Windows,
  stopWatermarkMs: number,
): Promise<ThroughputRun> {
  const work = join(dir, "kafka-spark");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const output = join(work, "windows.jsonl");
  const run = await runMeasured(
    spark.sparkSubmit,
    [
      ...sparkSubmitArgs(spark, true),
      "--source",
      "kafka",
      "--bootstrap",
      KAFKA_URL.replace(/^kafka:\/\//, ""),
      "--topic",
      TOPIC,
      "--schema",
      WRITER_SCHEMA,
      "--max-offsets-per-trigger",
      String(OFFSETS_PER_TRIGGER),
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
  check("Spark (Kafka)", reference, sparkWindows(rows));
  const summary = sparkSummary(run.stdout);
  const queryMs = Math.max(...rows.map((r) => r.written_ms)) - summary.query_started_ms;
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
