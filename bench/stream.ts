// Benchmark: `pulse produce` then `pulse stream --drain` on the embedded log and store, as child processes (rate and peak RSS).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchResult, isMain, printResults } from "./types.ts";
import { PROJECT_ROOT } from "../src/paths.ts";

/** Simulated events produced and drained; PULSE_BENCH_EVENTS overrides it. */
const EVENTS = Number(process.env.PULSE_BENCH_EVENTS ?? 500_000);
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

/**
 * Runs `pulse <args> --json` in a child process and returns its summary, wall time and peak RSS.
 * PULSE_BENCH_NODE_ARGS adds flags to the child's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
export async function runPulseMeasured<T>(
  args: readonly string[],
  options: PulseRunOptions = {},
): Promise<PulseRun<T>> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PULSE_")) env[name] = value;
  }
  Object.assign(env, options.env);
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

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-stream-"));
  try {
    const data = ["--data-dir", dir];
    const produced = await runPulseMeasured<ProduceJson>([
      "produce",
      "activity",
      "--count",
      String(EVENTS),
      "--seed",
      String(SEED),
      ...data,
    ]);
    const drained = await runPulseMeasured<StreamJson>([
      "stream",
      "--drain",
      "--topics",
      "user-activity",
      ...data,
    ]);
    // A second job over the same log, without the raw lake (the job's other big cost).
    const lean = await runPulseMeasured<StreamJson>([
      "stream",
      "--drain",
      "--topics",
      "user-activity",
      "--no-raw-lake",
      "--job",
      "pulse-bench-no-raw-lake",
      ...data,
    ]);
    const endToEndMs = produced.summary.elapsed_ms + drained.summary.elapsed_ms;
    return [
      produceResult("stream.produce", "simulator → validate → Avro → embedded log (pulse produce)", produced),
      drainResult(
        "stream.drain",
        "embedded log → pulse stream --drain → embedded live store, raw lake on",
        drained,
      ),
      {
        name: "stream.drain.peak_rss",
        value: megabytes(drained.peakRssBytes),
        unit: "MB",
        detail: `the pulse stream --drain process (getrusage maxrss), ${drained.summary.read} records; goal ≤ 300 MB for the state`,
      },
      drainResult("stream.drain.no_raw_lake", "the same with --no-raw-lake (another job)", lean),
      {
        name: "stream.drain.no_raw_lake.peak_rss",
        value: megabytes(lean.peakRssBytes),
        unit: "MB",
      },
      {
        name: "stream.end_to_end",
        value: Math.round(EVENTS / (endToEndMs / 1000)),
        unit: "events/s",
        detail: `${EVENTS} events / (produce ${(produced.summary.elapsed_ms / 1000).toFixed(1)} s + drain ${(drained.summary.elapsed_ms / 1000).toFixed(1)} s), one after the other`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
