// Benchmark: `pulse produce` then `pulse stream --drain` on the embedded log and store, as child processes (rate and peak RSS).

import { spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchResult, isMain, printResults } from "./types.ts";
import { PROJECT_ROOT } from "../src/paths.ts";
import { EmbeddedLiveStore } from "../src/store/embedded/index.ts";
import { DEFAULT_JOB_NAME } from "../src/stream/job/index.ts";

/**
 * Simulated events produced and drained; PULSE_BENCH_EVENTS overrides it. Two million: a run of 500k
 * lasted about 2 s, of which about a third does not grow with the count (process start-up, the JIT's
 * warm-up), so it measured those more than the rate the path sustains.
 */
const EVENTS = Number(process.env.PULSE_BENCH_EVENTS ?? 2_000_000);
/**
 * Drains per variant (raw lake on, off), alternated, each of a fresh copy of the produced data, and runs
 * of the whole path at once; the median is reported. PULSE_BENCH_DRAIN_RUNS overrides it. One drain is a few seconds, and on a shared
 * VM a single one varies by ±30%.
 */
const DRAIN_RUNS = Number(process.env.PULSE_BENCH_DRAIN_RUNS ?? 3);
const SEED = 9;
const ROOT = fileURLToPath(PROJECT_ROOT);
const PULSE_BIN = join(ROOT, "bin", "pulse.js");
const RSS_MARK = "PULSE-BENCH-MAX-RSS-KB ";
/*
 * Loaded into each child with --import: on exit it reports the process's peak RSS (getrusage ru_maxrss,
 * in KiB) on stderr, so the figure is the CLI's own and does not depend on /usr/bin/time being installed.
 */
const RSS_REPORTER = `data:text/javascript,process.on("exit",()=>process.stderr.write("\\n${RSS_MARK}"+process.resourceUsage().maxRSS+"\\n"))`;

export interface PulseRun<T> {
  /** The command's --json summary. */
  summary: T;
  /** From spawn to exit, process start-up (tsx, connections) included. */
  wallMs: number;
  peakRssBytes: number;
  /** The first figure of the 1-minute load average while it ran, and the last. */
  loadStart: number;
  loadEnd: number;
}

export interface PulseRunOptions {
  /** PULSE_* variables for the child; every inherited PULSE_* variable is removed first. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** This process's environment without its PULSE_* variables (pulse refuses unknown ones), plus `env`. */
function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PULSE_")) out[name] = value;
  }
  return Object.assign(out, env);
}

/**
 * Runs `pulse <args> --json` in a child process and returns its summary, wall time and peak RSS.
 * PULSE_BENCH_NODE_ARGS adds flags to the child's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
export async function runPulseMeasured<T>(
  args: readonly string[],
  options: PulseRunOptions = {},
): Promise<PulseRun<T>> {
  const env = childEnv(options.env);
  const nodeArgs = (process.env.PULSE_BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const loadStart = loadavg()[0]!;
  const startMs = performance.now();
  const child = spawn(
    process.execPath,
    [...nodeArgs, "--import", RSS_REPORTER, PULSE_BIN, ...args, "--json"],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const timeoutMs = options.timeoutMs ?? 600_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode));
  }).finally(() => clearTimeout(timer));
  const wallMs = performance.now() - startMs;
  const rssLine = stderr.split("\n").find((l) => l.startsWith(RSS_MARK));
  const output = stderr
    .split("\n")
    .filter((l) => !l.startsWith(RSS_MARK))
    .join("\n")
    .trim();
  if (code !== 0) {
    throw new Error(
      `pulse ${args.join(" ")} failed (exit ${code ?? "by signal"}${wallMs >= timeoutMs ? `, killed after ${timeoutMs} ms` : ""}):\n${output.slice(-4000)}`,
    );
  }
  let summary: T;
  try {
    summary = JSON.parse(stdout) as T;
  } catch {
    throw new Error(
      `pulse ${args.join(" ")} printed no JSON summary:\n${stdout.slice(-2000)}\n${output.slice(-2000)}`,
    );
  }
  return {
    summary,
    wallMs,
    peakRssBytes: rssLine === undefined ? Number.NaN : Number(rssLine.slice(RSS_MARK.length)) * 1024,
    loadStart,
    loadEnd: loadavg()[0]!,
  };
}

/** The fields of `pulse produce --json` the benchmarks read. */
export interface ProduceJson {
  sent: number;
  produced: number;
  dead_lettered: number;
  elapsed_ms: number;
  records_per_sec: number;
}

/** The fields of `pulse stream --json` the benchmarks read. */
export interface StreamJson {
  drained: boolean;
  read: number;
  accepted: number;
  elapsed_ms: number;
  records_per_sec: number;
  reading_ms: number | null;
  reading_records_per_sec: number | null;
}

export function describeLoad(run: PulseRun<unknown>): string {
  return `load ${run.loadStart.toFixed(2)} → ${run.loadEnd.toFixed(2)}`;
}

export function megabytes(bytes: number): number {
  return Math.round(bytes / 1e6);
}

/** One drain row: the CLI's own rate (job start to end, as it prints it) and what the whole process took. */
export function drainResult(name: string, what: string, run: PulseRun<StreamJson>): BenchResult {
  const s = run.summary;
  if (!s.drained) throw new Error(`${name}: pulse stream --drain did not report drained`);
  return {
    name,
    value: Math.round(s.records_per_sec),
    unit: "events/s",
    detail:
      `${what}: ${s.read} records in ${(s.elapsed_ms / 1000).toFixed(1)} s ` +
      `(${(run.wallMs / 1000).toFixed(1)} s with process start-up, ${Math.round(s.read / (run.wallMs / 1000))}/s; ` +
      `${Math.round(s.reading_records_per_sec ?? 0)}/s from the job's first batch, without its start-up); ` +
      `peak RSS ${megabytes(run.peakRssBytes)} MB; ${describeLoad(run)}`,
  };
}

export function produceResult(name: string, what: string, run: PulseRun<ProduceJson>): BenchResult {
  const s = run.summary;
  return {
    name,
    value: Math.round(s.records_per_sec),
    unit: "events/s",
    detail:
      `${what}: ${s.sent} events (${s.produced} on the topic, ${s.dead_lettered} dead-lettered) in ${(s.elapsed_ms / 1000).toFixed(1)} s ` +
      `(${(run.wallMs / 1000).toFixed(1)} s with process start-up); peak RSS ${megabytes(run.peakRssBytes)} MB; ${describeLoad(run)}`,
  };
}

/** `pulse produce` of the bench's simulated events into `data`. */
function produceArgs(data: string): string[] {
  return ["produce", "activity", "--count", String(EVENTS), "--seed", String(SEED), "--data-dir", data];
}

/** Copies of the REES46 fixture's rows the replay row reads (about 14k rows each). */
const REPLAY_COPIES = 10;

/**
 * `pulse produce activity --replay` of the real REES46 fixture, unpaced: its rows REPLAY_COPIES times
 * under one header, so the run is long enough to measure (exact duplicate rows are still parsed, hashed
 * and produced each time).
 */
async function replay(dir: string): Promise<BenchResult> {
  const fixture = readFileSync(
    join(ROOT, "fixtures", "activity", "rees46-multicategory-2019-10-01.csv"),
    "utf8",
  );
  const headerEnd = fixture.indexOf("\n") + 1;
  const body = fixture.slice(headerEnd);
  const csv = join(dir, "replay.csv");
  writeFileSync(csv, fixture.slice(0, headerEnd));
  for (let i = 0; i < REPLAY_COPIES; i++) appendFileSync(csv, body.endsWith("\n") ? body : `${body}\n`);
  const run = await runPulseMeasured<ProduceJson>([
    "produce",
    "activity",
    "--replay",
    csv,
    "--speed",
    "0",
    "--data-dir",
    join(dir, "replay"),
  ]);
  return produceResult(
    "stream.produce_replay",
    `REES46 CSV → parse → validate → Avro → embedded log (pulse produce --replay, --speed 0; the 2019-10-01 fixture ${REPLAY_COPIES} times)`,
    run,
  );
}

/** The median run by rate. */
function medianRun(runs: PulseRun<StreamJson>[]): PulseRun<StreamJson> {
  const sorted = [...runs].sort((a, b) => a.summary.records_per_sec - b.summary.records_per_sec);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The median run's row, with every run's rate in the detail. */
function medianDrain(name: string, what: string, runs: PulseRun<StreamJson>[]): BenchResult {
  const median = drainResult(name, what, medianRun(runs));
  const rates = runs.map((r) => Math.round(r.summary.records_per_sec).toLocaleString("en-US")).join(", ");
  return {
    ...median,
    detail: `median of ${runs.length} drains (${rates} events/s, in run order); that one: ${median.detail}`,
  };
}

/**
 * The whole path at once, PULSE_BENCH_DRAIN_RUNS times, each in a fresh folder; the median run is
 * reported, with every run's rate.
 */
async function pipelined(dir: string): Promise<BenchResult> {
  const runs: BenchResult[] = [];
  for (let i = 0; i < DRAIN_RUNS; i++) {
    const data = join(dir, `pipelined-${i}`);
    runs.push(await pipelinedRun(data));
    rmSync(data, { recursive: true, force: true });
  }
  const median = [...runs].sort((a, b) => a.value - b.value)[Math.floor((runs.length - 1) / 2)]!;
  const rates = runs.map((r) => r.value.toLocaleString("en-US")).join(", ");
  return {
    ...median,
    detail: `median of ${runs.length} runs (${rates} events/s, in run order); that one: ${median.detail}`,
  };
}

/**
 * The whole path at once: a running `pulse stream` (not --drain), then `pulse produce` into the same
 * folder; the time from starting the producer until the job's checkpoints cover every record on the
 * topic. Both processes share the VM's two cores.
 */
async function pipelinedRun(data: string): Promise<BenchResult> {
  const stream = spawn(
    process.execPath,
    [PULSE_BIN, "stream", "--topics", "user-activity", "--data-dir", data],
    { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const exited = new Promise<number | null>((resolve) => stream.once("close", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: string) => {
        output += chunk;
        if (output.includes("pulse stream: job")) resolve();
      };
      stream.stdout.setEncoding("utf8").on("data", onData);
      stream.stderr.setEncoding("utf8").on("data", onData);
      stream.once("close", (code) =>
        reject(new Error(`pulse stream exited (${code}) before it started:\n${output}`)),
      );
    });
    const startMs = performance.now();
    const loadStart = loadavg()[0]!;
    const produced = await runPulseMeasured<ProduceJson>(produceArgs(data));
    const store = EmbeddedLiveStore.open({ path: join(data, "store.db") });
    let caughtUpMs: number;
    try {
      for (;;) {
        let covered = 0;
        for (const next of (await store.checkpointOffsets(DEFAULT_JOB_NAME, "user-activity")).values()) {
          covered += next;
        }
        if (covered >= produced.summary.produced) {
          caughtUpMs = performance.now() - startMs;
          break;
        }
        if (performance.now() - startMs > 600_000)
          throw new Error(`pulse stream did not catch up:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await store.close();
    }
    return {
      name: "stream.pipelined",
      value: Math.round(EVENTS / (caughtUpMs / 1000)),
      unit: "events/s",
      detail:
        `simulator → log → stream → live store at once: a running pulse stream, then pulse produce of ${EVENTS} events; ` +
        `${(caughtUpMs / 1000).toFixed(1)} s from starting the producer until the job's checkpoints covered all ` +
        `${produced.summary.produced} records on the topic (the producer alone took ${(produced.summary.elapsed_ms / 1000).toFixed(1)} s of it, ` +
        `${(produced.wallMs / 1000).toFixed(1)} s with start-up); load ${loadStart.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    };
  } finally {
    stream.kill("SIGTERM");
    await exited;
  }
}

export async function run(): Promise<BenchResult[]> {
  if (!Number.isSafeInteger(DRAIN_RUNS) || DRAIN_RUNS < 1) {
    throw new Error(
      `PULSE_BENCH_DRAIN_RUNS must be a whole number ≥ 1, got '${process.env.PULSE_BENCH_DRAIN_RUNS}'`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-stream-"));
  try {
    const produced = await runPulseMeasured<ProduceJson>(produceArgs(join(dir, "produced")));
    // Raw lake on, then off (the job's other big cost), alternated, each over its own copy of the log.
    const variants = { raw: [] as PulseRun<StreamJson>[], lean: [] as PulseRun<StreamJson>[] };
    for (let i = 0; i < DRAIN_RUNS; i++) {
      for (const variant of ["raw", "lean"] as const) {
        const data = join(dir, `${variant}-${i}`);
        cpSync(join(dir, "produced"), data, { recursive: true });
        const flags = variant === "lean" ? ["--no-raw-lake"] : [];
        variants[variant].push(
          await runPulseMeasured<StreamJson>([
            "stream",
            "--drain",
            "--topics",
            "user-activity",
            ...flags,
            "--data-dir",
            data,
          ]),
        );
        rmSync(data, { recursive: true, force: true });
      }
    }
    const drained = medianDrain(
      "stream.drain",
      "embedded log → pulse stream --drain → embedded live store, raw lake on",
      variants.raw,
    );
    const lean = medianDrain("stream.drain.no_raw_lake", "the same with --no-raw-lake", variants.lean);
    const peak = (runs: PulseRun<StreamJson>[]) => megabytes(Math.max(...runs.map((r) => r.peakRssBytes)));
    const drainMs = medianRun(variants.raw).summary.elapsed_ms;
    const endToEndMs = produced.summary.elapsed_ms + drainMs;
    return [
      produceResult("stream.produce", "simulator → validate → Avro → embedded log (pulse produce)", produced),
      drained,
      {
        name: "stream.drain.peak_rss",
        value: peak(variants.raw),
        unit: "MB",
        detail: `the pulse stream --drain process (getrusage maxrss), the largest of ${DRAIN_RUNS} drains of ${variants.raw[0]!.summary.read} records; goal ≤ 300 MB for the state`,
      },
      lean,
      { name: "stream.drain.no_raw_lake.peak_rss", value: peak(variants.lean), unit: "MB" },
      await pipelined(dir),
      await replay(dir),
      {
        name: "stream.end_to_end",
        value: Math.round(EVENTS / (endToEndMs / 1000)),
        unit: "events/s",
        detail: `${EVENTS} events / (produce ${(produced.summary.elapsed_ms / 1000).toFixed(1)} s + the median drain ${(drainMs / 1000).toFixed(1)} s), one after the other`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
