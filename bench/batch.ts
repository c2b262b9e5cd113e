// Benchmark: the batch layer on DuckDB: pulse batch (load + every model + every test) over N raw events, and Pulse's runner against dbt build on the same warehouse.

/*
 * Set-up, not timed: `pulse produce activity --count N --seed 1` and `pulse stream --drain` into a fresh data
 * folder (N = PULSE_BENCH_BATCH_EVENTS, default 10,000,000). Timed, as a user waits for them, each a
 * process of its own with its start-up:
 *   - `pulse batch`: the raw lake loaded into raw.user_activity, then analytics/ built (7 models, 52 tests);
 *   - then, on that warehouse, `pulse models build` and `dbt build` (dbt Core from scripts/services/dbt-env.sh),
 *     alternated, PULSE_BENCH_BATCH_RUNS times each (default 3); the ratio is dbt's median over Pulse's;
 *   - the same two on a small warehouse (PULSE_BENCH_BATCH_SMALL_EVENTS, default 100,000 events, set up
 *     alike), where start-up is most of the wait.
 * The dbt part is left out, with a note, when the dbt venv cannot be built.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchResult, isMain, printResults } from "./types.ts";

// bench/run.ts runs each module from an esbuild build in dist/, with the repository as its working folder.
const ROOT = process.cwd();
const PULSE = join(ROOT, "bin", "pulse.js");
const EVENTS = Number(process.env.PULSE_BENCH_BATCH_EVENTS ?? 10_000_000);
const RUNS = Number(process.env.PULSE_BENCH_BATCH_RUNS ?? 3);
/** Events of the second, small warehouse the runner is compared with dbt on. */
const SMALL_EVENTS = Number(process.env.PULSE_BENCH_BATCH_SMALL_EVENTS ?? 100_000);

/** The environment without this benchmark's own PULSE_BENCH_* settings, which pulse would warn about on every run. */
const PULSE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith("PULSE_BENCH_")),
);

function pulse(args: string[], dataDir: string): { seconds: number; stdout: string } {
  const started = performance.now();
  const child = spawnSync(process.execPath, [PULSE, ...args, "--data-dir", dataDir], {
    cwd: ROOT,
    env: PULSE_ENV,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`pulse ${args.join(" ")} failed:\n${child.stderr}`);
  return { seconds: (performance.now() - started) / 1000, stdout: child.stdout };
}

function dbtPath(): string | undefined {
  try {
    const out = execFileSync(join(ROOT, "scripts/services/dbt-env.sh"), [], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    return out.trim().split("\n").at(-1);
  } catch {
    return undefined;
  }
}

function dbtBuild(dbt: string, warehouseFile: string, dir: string): number {
  const project = join(ROOT, "analytics");
  const started = performance.now();
  const child = spawnSync(dbt, ["build", "--project-dir", project, "--profiles-dir", project], {
    cwd: project,
    encoding: "utf8",
    env: {
      ...PULSE_ENV,
      ANALYTICS_DUCKDB_PATH: warehouseFile,
      DBT_SEND_ANONYMOUS_USAGE_STATS: "False",
      DBT_TARGET_PATH: join(dir, "dbt-target"),
      DBT_LOG_PATH: join(dir, "dbt-logs"),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`dbt build failed:\n${child.stdout.slice(-4000)}`);
  return (performance.now() - started) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** pulse models build and dbt build on the warehouse in `dir`, alternated RUNS times each; dbt's median over Pulse's. */
function runnerVsDbt(name: string, dbt: string, dir: string, rows: number): BenchResult {
  const warehouseFile = join(dir, "warehouse.duckdb");
  const pulseRuns: number[] = [];
  const dbtRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    pulseRuns.push(pulse(["models", "build", "--target-path", join(dir, "target")], dir).seconds);
    dbtRuns.push(dbtBuild(dbt, warehouseFile, dir));
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join("/");
  return {
    name,
    value: Number((median(dbtRuns) / median(pulseRuns)).toFixed(2)),
    unit: "× faster",
    detail: `pulse models build ${fmt(pulseRuns)} s vs dbt build ${fmt(dbtRuns)} s (alternated, start-up included), same project and warehouse file, ${rows.toLocaleString("en-US")} raw events`,
  };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-batch-"));
  try {
    pulse(["produce", "activity", "--count", String(EVENTS), "--seed", "1"], dir);
    pulse(["stream", "--drain"], dir);
    const batch = pulse(["batch", "--json", "--target-path", join(dir, "target")], dir);
    const summary = JSON.parse(batch.stdout) as {
      load: { elapsed_ms: number; topics: Array<{ rows_loaded: number }> };
      models: { elapsed_sec: number; counts: { pass: number; total: number } };
    };
    const rows = summary.load.topics.reduce((n, t) => n + t.rows_loaded, 0);
    const results: BenchResult[] = [
      {
        name: "batch.pulse_batch",
        value: Number(batch.seconds.toFixed(1)),
        unit: "s",
        detail: `pulse batch over ${rows.toLocaleString("en-US")} raw events (${EVENTS.toLocaleString("en-US")} produced): load ${(summary.load.elapsed_ms / 1000).toFixed(1)} s, ${summary.models.counts.total} models and tests ${summary.models.elapsed_sec.toFixed(1)} s, process start-up included; DuckDB`,
      },
      {
        name: "batch.load",
        value: Math.round(rows / (summary.load.elapsed_ms / 1000)),
        unit: "rows/s",
        detail:
          "raw lake → raw.user_activity: decode through the registry, DuckDB appender, a transaction per 200k-row page",
      },
    ];
    const dbt = dbtPath();
    if (dbt === undefined) {
      results.push({
        name: "batch.runner_vs_dbt",
        value: 0,
        unit: "×",
        detail: "not measured: the dbt venv (scripts/services/dbt-env.sh) could not be built",
      });
      return results;
    }
    results.push(runnerVsDbt("batch.runner_vs_dbt", dbt, dir, rows));
    // The same on a small warehouse, where start-up is most of what a user waits for.
    const small = mkdtempSync(join(tmpdir(), "pulse-bench-batch-small-"));
    try {
      pulse(["produce", "activity", "--count", String(SMALL_EVENTS), "--seed", "1"], small);
      pulse(["stream", "--drain"], small);
      const smallBatch = JSON.parse(
        pulse(["batch", "--json", "--target-path", join(small, "target")], small).stdout,
      ) as typeof summary;
      const smallRows = smallBatch.load.topics.reduce((n, t) => n + t.rows_loaded, 0);
      results.push(runnerVsDbt("batch.runner_vs_dbt.small", dbt, small, smallRows));
    } finally {
      rmSync(small, { recursive: true, force: true });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResults(await run());
