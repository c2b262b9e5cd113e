// The Spark bench's shared reporting: one run's figures, the check against DuckDB, medians and the rows that pair the two engines.

import type { BenchResult } from "../types.ts";
import type { Measured } from "./process.ts";
import { compareWindows, type Windows } from "./windows.ts";

/** One engine's run over the whole input: the same four figures for both. */
export interface ThroughputRun {
  engine: "pulse" | "spark";
  eventsPerSec: number;
  wallMs: number;
  cpuSeconds: number;
  peakRssBytes: number;
  load: string;
  detail: string;
}

export function load(m: Measured): string {
  return `load ${m.loadStart.toFixed(2)} → ${m.loadEnd.toFixed(2)}`;
}

/** Throws when `windows` differ from the reference: a mismatch fails the run. */
export function check(engine: string, reference: Windows, windows: Windows): void {
  const diff = compareWindows(reference, windows);
  if (diff !== null)
    throw new Error(`${engine}'s final windows differ from DuckDB's over the same CSV: ${diff}`);
}

export interface SparkSummary {
  batches: number;
  input_rows: number;
  query_started_ms: number;
  stopped_ms: number;
}

export function sparkSummary(stdout: string): SparkSummary {
  const line = stdout.split("\n").find((l) => l.startsWith("SPARK-BENCH-SUMMARY "));
  if (line === undefined) throw new Error(`the Spark job printed no summary:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice("SPARK-BENCH-SUMMARY ".length)) as SparkSummary;
}

export function mb(bytes: number): number {
  return Math.round(bytes / 1e6);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function list(values: readonly number[], digits = 0): string {
  return values.map((v) => v.toLocaleString("en-US", { maximumFractionDigits: digits })).join(", ");
}

/** Rows for one figure of both engines: Pulse's median, Spark's median, and Pulse ÷ Spark. */
export function pair(
  name: string,
  unit: string,
  pulse: readonly number[],
  spark: readonly number[],
  what: string,
  digits = 0,
): BenchResult[] {
  const p = median(pulse);
  const s = median(spark);
  const round = (v: number) => Number(v.toFixed(digits));
  return [
    {
      name: `spark.${name}.pulse`,
      value: round(p),
      unit,
      detail: `${what}; median of ${list(pulse, digits)}`,
    },
    {
      name: `spark.${name}.spark`,
      value: round(s),
      unit,
      detail: `${what}; median of ${list(spark, digits)}`,
    },
    { name: `spark.${name}.ratio`, value: Number((p / s).toPrecision(3)), unit: "× (Pulse/Spark)" },
  ];
}
