// A user's own DAGs: each TypeScript or JavaScript file of orchestrator.dags_folder, its default export called with defineDag and the pipeline's steps.
//
// A DAG file needs no import of Pulse:
//
//   export default ({ defineDag, tasks }) =>
//     defineDag({ id: "my_dag", schedule: "@daily", startDate: new Date("2026-01-01T00:00:00Z"),
//                 tasks: [{ id: "load", run: (ctx) => tasks.load(ctx.dataIntervalStart.toISOString().slice(0, 10), ctx.log) }] });
//
// The default export is a Dag, a list of them, or a function returning either (possibly async).
// TypeScript files are loaded through tsx. A file that fails to load or returns no DAG is an error
// naming the file.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import { type Dag, defineDag } from "../orchestrate/dag.ts";
import type { PipelineTasks } from "./pipeline-tasks.ts";

/** What a DAG file's default export is called with. */
export interface DagFileContext {
  defineDag: typeof defineDag;
  tasks: PipelineTasks;
}

const SOURCE = /\.(ts|mts|js|mjs)$/;

/** The DAGs of every file in `folder` (relative to the working folder), by file name; [] for "". */
export async function loadDagFolder(folder: string, tasks: PipelineTasks): Promise<Dag[]> {
  if (folder === "") return [];
  const dir = resolve(folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badDag,
      `orchestrator.dags_folder ${JSON.stringify(folder)} is not a folder (${dir}); create it, or set it to "" for the built-in DAGs only.`,
    );
  }
  const files = readdirSync(dir)
    .filter((name) => SOURCE.test(name) && !/\.(test|d)\.[mc]?[jt]s$/.test(name))
    .sort();
  const out: Dag[] = [];
  for (const name of files) {
    const file = join(dir, name);
    let exported: unknown;
    try {
      exported = (await importFile(file)).default;
      // A .ts file outside an ES-module package loads as CommonJS: its exports object is the default.
      if (exported !== null && typeof exported === "object" && "default" in exported && !isDag(exported))
        exported = (exported as { default: unknown }).default;
    } catch (error) {
      if (error instanceof OrchestrateError) throw error;
      throw new OrchestrateError(
        OrchestrateErrorCode.badDag,
        `DAG file ${file} could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    let made: unknown;
    try {
      made =
        typeof exported === "function"
          ? await exported({ defineDag, tasks } satisfies DagFileContext)
          : exported;
    } catch (error) {
      // defineDag's own errors name the DAG and the task; this says which file wrote it.
      const code = error instanceof OrchestrateError ? error.code : OrchestrateErrorCode.badDag;
      throw new OrchestrateError(
        code,
        `DAG file ${file}: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
    const dags = (Array.isArray(made) ? made : [made]) as unknown[];
    if (dags.length === 0 || !dags.every(isDag)) {
      throw new OrchestrateError(
        OrchestrateErrorCode.badDag,
        `DAG file ${file}: its default export must be a DAG made with defineDag (or a list of them, or a function ` +
          "({ defineDag, tasks }) => DAG returning one).",
      );
    }
    out.push(...(dags as Dag[]));
  }
  return out;
}

async function importFile(file: string): Promise<{ default?: unknown }> {
  const url = pathToFileURL(file).href;
  if (/\.m?ts$/.test(file)) {
    const { tsImport } = await import("tsx/esm/api");
    return (await tsImport(url, import.meta.url)) as { default?: unknown };
  }
  return (await import(url)) as { default?: unknown };
}

function isDag(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  const dag = value as Partial<Dag>;
  return (
    typeof dag.id === "string" && Array.isArray(dag.tasks) && dag.startDate instanceof Date && "cron" in dag
  );
}
