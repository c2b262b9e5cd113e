// /api/dags bound to an orchestrator: its DAGs, runs and logs, the warehouse's reconciliation records (read-only), trigger, backfill and clear.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PulseConfig } from "../config/index.ts";
import { findRun } from "../orchestrate/find-run.ts";
import { dagJson, runJson, runWithTasksJson } from "../orchestrate/json.ts";
import { clearRun, createBackfill, triggerRun, unknownTask } from "../orchestrate/operations.ts";
import { readTaskLog } from "../orchestrate/task-log.ts";
import { embeddedPath } from "../paths.ts";
import { readReconciliation } from "../reconcile/reconcile.ts";
import type { DagsApi } from "../serve/routes/dags.ts";
import { open } from "../warehouse/open.ts";
import type { Orchestrator } from "./dags.ts";
import { resolveProjectDir } from "./models.ts";

/** The part of dbt's run_results.json (v6) the page shows. */
interface RunResults {
  metadata: { generated_at: string };
  args?: { which?: string };
  elapsed_time: number;
  results: Array<{
    unique_id: string;
    status: string;
    failures?: number | null;
    message?: string | null;
    execution_time: number;
  }>;
}

export function dagsApi(
  orchestrator: Orchestrator,
  config: Pick<PulseConfig, "warehouse" | "data_dir">,
): DagsApi {
  const { store } = orchestrator;
  return {
    list: () => orchestrator.dags.map(dagJson),
    async runs(dagId) {
      const dag = orchestrator.dag(dagId);
      const runs = await store.listRuns(dag.id);
      return Promise.all(
        runs.map(async (run) => runWithTasksJson(run, await store.taskInstances(dag.id, run.runId))),
      );
    },
    async log(dagId, runRef, taskId, tryNumber) {
      const dag = orchestrator.dag(dagId);
      if (!dag.tasks.some((t) => t.id === taskId)) throw unknownTask(dag, taskId);
      const run = await findRun(store, dag, runRef);
      return readTaskLog(orchestrator.logsDir, { dagId: dag.id, runId: run.runId, taskId }, tryNumber);
    },
    async reconciliation(date) {
      // Read-only and closed at once, as the analytics reads: a scheduler's task may be writing the file.
      const path = embeddedPath(config.warehouse, config.data_dir);
      if (path !== undefined && !existsSync(path)) return [];
      const warehouse = await open(config.warehouse, { dataDir: config.data_dir, readOnly: true });
      try {
        return await readReconciliation(warehouse, date);
      } finally {
        await warehouse.close();
      }
    },
    async modelResults() {
      // The project's artifacts, where `pulse models` writes them (DBT_TARGET_PATH, else target/).
      const file = resolve(
        resolveProjectDir(undefined),
        process.env.DBT_TARGET_PATH || "target",
        "run_results.json",
      );
      if (!existsSync(file)) return null;
      const doc = JSON.parse(readFileSync(file, "utf8")) as RunResults;
      const results = doc.results.map((r) => ({
        uniqueId: r.unique_id,
        status: r.status,
        failures: r.failures ?? null,
        message: r.message ?? null,
        executionTime: r.execution_time,
      }));
      const count = (status: string) => results.filter((r) => r.status === status).length;
      return {
        generatedAt: doc.metadata.generated_at,
        command: doc.args?.which ?? null,
        elapsedTime: doc.elapsed_time,
        counts: {
          pass: count("pass") + count("success"),
          warn: count("warn"),
          fail: count("fail"),
          error: count("error"),
          skipped: count("skipped"),
        },
        results,
      };
    },
    async trigger(dagId, date) {
      const { run, created } = await triggerRun(store, orchestrator.dag(dagId), { date });
      return { run: runJson(run), created };
    },
    async backfill(dagId, from, to) {
      const runs = await createBackfill(store, orchestrator.dag(dagId), from, to);
      return runs.map(({ run, created }) => ({ ...runJson(run), created }));
    },
    async clear(dagId, runRef, taskId) {
      const dag = orchestrator.dag(dagId);
      const run = await findRun(store, dag, runRef);
      return clearRun(store, dag, run.runId, { taskId });
    },
  };
}
