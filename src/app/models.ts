// `pulse models …`: finds the dbt project, opens the configured warehouse (except for ls) and runs the model runner on it.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PulseConfig } from "../config/index.ts";
import { type ModelsOptions, type ModelsRun, runModels } from "../models/index.ts";
import { projectFile } from "../paths.ts";
import { withWarehouse } from "./backends.ts";

export type ModelsRunOptions = Omit<ModelsOptions, "warehouse" | "projectDir"> & {
  /** The dbt project's folder; default ./analytics when it has a dbt_project.yml, else the one Pulse ships. */
  projectDir?: string;
};

/** The project folder a `--project-dir` names (relative to the working folder), or the default one. */
export function resolveProjectDir(projectDir: string | undefined): string {
  if (projectDir !== undefined) return resolve(projectDir);
  const local = resolve("analytics");
  if (existsSync(resolve(local, "dbt_project.yml"))) return local;
  return fileURLToPath(projectFile("analytics/"));
}

/** Runs a models command on the configured warehouse; `ls` parses only and opens nothing. */
export function runModelsCommand(config: PulseConfig, options: ModelsRunOptions): Promise<ModelsRun> {
  const projectDir = resolveProjectDir(options.projectDir);
  if (options.command === "ls") return runModels({ ...options, projectDir });
  return withWarehouse(config, (warehouse) => runModels({ ...options, projectDir, warehouse }));
}
