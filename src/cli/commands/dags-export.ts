// `pulse dags export airflow`: the DAGs as Airflow 3 files whose tasks run this installation's pulse with this data folder.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PulseConfig } from "../../config/index.ts";
import type { Dag } from "../../orchestrate/dag.ts";
import { writeAirflowDags } from "../../orchestrate/export/airflow.ts";
import { projectFile } from "../../paths.ts";

export async function exportAirflow(
  dags: readonly Dag[],
  outDir: string,
  config: PulseConfig,
): Promise<string[]> {
  const pulse = [process.execPath, fileURLToPath(projectFile("bin/pulse.js"))];
  const env: Record<string, string> = { PULSE_DATA_DIR: resolve(config.data_dir) };
  if (process.env.PULSE_CONFIG) env.PULSE_CONFIG = resolve(process.env.PULSE_CONFIG);
  return await writeAirflowDags(dags, resolve(outDir), { pulse, env, cwd: process.cwd() });
}
