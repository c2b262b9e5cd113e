// dbt Core for the services tests: the venv's dbt (scripts/services/dbt-env.sh) and a `dbt build` of analytics/ on a target.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { pulseEnv, REPO_ROOT } from "./cli.ts";

const run = promisify(execFile);

export const ANALYTICS_DIR = join(REPO_ROOT, "analytics");
export const MARTS_SCHEMA = "monitoring_datalake";

/** Every model of analytics/, sorted. */
export const ANALYTICS_MODELS = [
  "dim_users",
  "fct_daily_funnel",
  "fct_daily_revenue",
  "fct_daily_user_metrics",
  "fct_daily_wiki_metrics",
  "stg_user_activity",
  "stg_wikimedia_changes",
];

export interface RunResults {
  results: { unique_id: string; status: string; failures: number | null; message: string | null }[];
}

/** The venv's dbt; the first call builds the venv from PyPI, later ones find its stamp and return at once. */
export async function dbtExecutable(): Promise<string> {
  const env = await run(join(REPO_ROOT, "scripts/services/dbt-env.sh"), [], { timeout: 900_000 });
  return env.stdout.trim().split("\n").at(-1)!;
}

export interface DbtBuildOptions {
  dbt: string;
  /** A folder for dbt's artifacts and logs (a fresh target folder is made in it for each build). */
  dir: string;
  /** The profiles.yml target: duckdb (default) or postgres. */
  target?: string;
  /** The profile's variables (ANALYTICS_DUCKDB_PATH, ANALYTICS_POSTGRES_*). */
  env: Record<string, string>;
}

/** `dbt build` of analytics/; a failure shows the end of dbt's output. Returns run_results.json. */
export async function dbtBuild(options: DbtBuildOptions): Promise<RunResults> {
  const target = join(options.dir, `dbt-target-${randomBytes(4).toString("hex")}`);
  try {
    await run(
      options.dbt,
      [
        "build",
        "--target",
        options.target ?? "duckdb",
        "--project-dir",
        ANALYTICS_DIR,
        "--profiles-dir",
        ANALYTICS_DIR,
      ],
      {
        cwd: ANALYTICS_DIR,
        env: pulseEnv({
          ...options.env,
          DBT_SEND_ANONYMOUS_USAGE_STATS: "False",
          DBT_USE_COLORS: "False",
          DBT_TARGET_PATH: target,
          DBT_LOG_PATH: join(options.dir, "logs"),
        }),
        timeout: 300_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`dbt build failed:\n${`${stdout}\n${stderr}`.trim().split("\n").slice(-40).join("\n")}`);
  }
  return JSON.parse(readFileSync(join(target, "run_results.json"), "utf8")) as RunResults;
}
