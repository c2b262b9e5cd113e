// How the Spark bench starts each engine: Pulse's CLI (produce, stream) and spark-submit of bench/spark/job.py, with their environments.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../../src/paths.ts";

export const ROOT = fileURLToPath(PROJECT_ROOT);
export const PULSE_BIN = join(ROOT, "bin", "pulse.js");
export const SPARK_JOB = join(ROOT, "bench", "spark", "job.py");
/** Spark's driver heap (local mode: the executors run in it); SPARK_BENCH_DRIVER_MEMORY overrides it. */
export const DRIVER_MEMORY = process.env.SPARK_BENCH_DRIVER_MEMORY ?? "1g";
/** The Kafka variant's packages, fetched by spark-submit from Maven Central into the cache once. */
export const SPARK_PACKAGES = [
  "org.apache.spark:spark-sql-kafka-0-10_2.13",
  "org.apache.spark:spark-avro_2.13",
] as const;

/** The pulse stream flags both runs use: 1-minute tumbling windows, a 10-minute watermark delay. */
export const PULSE_WINDOW_FLAGS = ["--window", "1m", "--out-of-orderness", "10m"] as const;

/**
 * `pulse stream --drain` of the activity topic with the bench's windows into `data`'s store, JSON out;
 * `extra` adds flags (another topic, a job name).
 */
export function pulseDrainArgs(data: string, extra: readonly string[] = []): string[] {
  return [
    PULSE_BIN,
    "stream",
    "--drain",
    "--topics",
    "user-activity",
    ...extra,
    ...PULSE_WINDOW_FLAGS,
    "--no-alerts",
    "--data-dir",
    data,
    "--json",
  ];
}

/** This process's environment without its PULSE_* variables (pulse refuses unknown ones), plus `env`. */
export function pulseEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PULSE_")) out[name] = value;
  }
  return Object.assign(out, env);
}

export interface SparkInstall {
  sparkSubmit: string;
  python: string;
  /** The PySpark version, for the report. */
  version: string;
  /** Where --packages keeps the jars it fetched (Ivy). */
  ivyDir: string;
}

/** Builds or finds the cached venv (scripts/services/spark-env.sh) and reads its PySpark version. */
export function ensureSpark(): SparkInstall {
  const script = join(ROOT, "scripts", "services", "spark-env.sh");
  const built = spawnSync(script, ["ensure"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (built.status !== 0) throw new Error(`${script} failed (exit ${built.status})`);
  const sparkSubmit = built.stdout.trim().split("\n").at(-1)!;
  const bin = join(sparkSubmit, "..");
  const python = join(bin, "python");
  const version = spawnSync(python, ["-c", "import pyspark; print(pyspark.__version__)"], {
    encoding: "utf8",
  }).stdout.trim();
  const cache =
    process.env.PULSE_SERVICES_CACHE ?? join(process.env.HOME ?? "/tmp", ".cache", "pulse-services");
  return { sparkSubmit, python, version, ivyDir: join(cache, "spark-ivy") };
}

/** spark-submit's environment: the venv first on PATH (its scripts find SPARK_HOME with its python). */
export function sparkEnv(spark: SparkInstall): NodeJS.ProcessEnv {
  const bin = join(spark.sparkSubmit, "..");
  return {
    ...pulseEnv(),
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    PYSPARK_PYTHON: spark.python,
    PYSPARK_DRIVER_PYTHON: spark.python,
    SPARK_LOCAL_IP: "127.0.0.1",
  };
}

/** spark-submit's own flags: local[2], the driver heap, no UI; with packages for the Kafka source. */
export function sparkSubmitArgs(spark: SparkInstall, withPackages: boolean): string[] {
  const args = ["--master", "local[2]", "--driver-memory", DRIVER_MEMORY, "--conf", "spark.ui.enabled=false"];
  if (withPackages) {
    args.push(
      "--packages",
      SPARK_PACKAGES.map((p) => `${p}:${spark.version}`).join(","),
      "--conf",
      `spark.jars.ivy=${spark.ivyDir}`,
    );
  }
  return [...args, SPARK_JOB];
}
