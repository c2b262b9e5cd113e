// Apache Airflow for the services tests: the venv's airflow (scripts/services/airflow-env.sh), a home of its own on SQLite, and `airflow dags test`.

import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type OnCleanup, pulseEnv, REPO_ROOT, tempDir } from "./cli.ts";

const run = promisify(execFile);

/** The venv's airflow; the first call builds the venv from PyPI, later ones find its stamp and return at once. */
export async function airflowExecutable(): Promise<string> {
  const env = await run(join(REPO_ROOT, "scripts/services/airflow-env.sh"), [], { timeout: 900_000 });
  return env.stdout.trim().split("\n").at(-1) as string;
}

export interface AirflowHome {
  airflow: string;
  /** AIRFLOW_HOME: a temp folder, never ~/airflow; its SQLite database is migrated. */
  home: string;
  /** The DAGs folder Airflow reads (AIRFLOW__CORE__DAGS_FOLDER). */
  dagsFolder: string;
  /** The environment every airflow command of this home runs with (no inherited PULSE_* variables). */
  env: NodeJS.ProcessEnv;
}

/** A fresh Airflow home in a temp folder, removed by the registered cleanup, with its database migrated. */
export async function airflowHome(airflow: string, onCleanup: OnCleanup): Promise<AirflowHome> {
  const home = tempDir(onCleanup, "pulse-airflow-home-");
  const dagsFolder = join(home, "dags");
  mkdirSync(dagsFolder);
  const env = pulseEnv({
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: dagsFolder,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
  });
  const result = { airflow, home, dagsFolder, env };
  await airflowCommand(result, ["db", "migrate"], 300_000);
  return result;
}

/** Runs `airflow <args>` in the home; a failure shows the end of Airflow's output. */
export async function airflowCommand(
  home: AirflowHome,
  args: readonly string[],
  timeoutMs = 300_000,
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(home.airflow, [...args], {
      env: home.env,
      cwd: home.home,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    const tail = `${failed.stdout ?? ""}\n${failed.stderr ?? ""}`.split("\n").slice(-60).join("\n");
    throw new Error(`airflow ${args.join(" ")} failed: ${failed.message}\n${tail}`, { cause: error });
  }
}
