// The batch layer's steps as the DAGs call them: load a day, run or test the models, reconcile a day; each on the configured backends.

import type { PulseConfig } from "../config/index.ts";
import { ModelError, ModelErrorCode } from "../errors.ts";
import type { ModelsCommand } from "../models/index.ts";
import type { TaskLogger } from "../orchestrate/dag.ts";
import { waitForFinalDay } from "../reconcile/final.ts";
import { type ReconciliationRecord, reconcileDay } from "../reconcile/reconcile.ts";
import { open as openStore } from "../store/open.ts";
import { withWarehouse } from "./backends.ts";
import { runLoad } from "./batch.ts";
import { runModelsCommand } from "./models.ts";

/** What a DAG file gets: the steps of the batch layer, bound to one configuration. */
export interface PipelineTasks {
  /**
   * pulse load [--date day [--wait-final]]: new raw-lake rows, then (given a day) the day reloaded by event
   * time; with waitFinal, only once the speed layer has finalized the day.
   */
  load(
    day: string | undefined,
    log?: TaskLogger,
    options?: { waitFinal?: boolean; signal?: AbortSignal },
  ): Promise<void>;
  /** Waits until the speed layer has finalized the day (src/reconcile/final.ts). */
  waitFinal(day: string, signal?: AbortSignal, log?: TaskLogger): Promise<void>;
  /** pulse models run|test|build; fails when a model errors or an error-severity test fails. */
  models(command: Extract<ModelsCommand, "run" | "test" | "build">, log?: TaskLogger): Promise<void>;
  /** pulse reconcile --date day: writes the day's records; fails when a difference is unexplained. */
  reconcile(day: string, runId?: string, log?: TaskLogger): Promise<ReconciliationRecord[]>;
}

export interface PipelineTaskOptions {
  /** The dbt project's folder (resolveProjectDir's default when unset). */
  projectDir?: string;
}

export function pipelineTasks(config: PulseConfig, options: PipelineTaskOptions = {}): PipelineTasks {
  return {
    async load(day, log, waitOptions = {}) {
      if (day !== undefined && waitOptions.waitFinal) await this.waitFinal(day, waitOptions.signal, log);
      const result = await runLoad(config, { reloadDays: day === undefined ? [] : [day] });
      for (const table of result.retention?.tables ?? []) {
        log?.info(
          `retention ${table.table}: ${table.rowsDeleted} rows of days before ${result.retention!.keptFrom} deleted`,
        );
      }
      for (const topic of result.topics) {
        log?.info(
          `load ${topic.topic}: ${topic.rowsLoaded} new rows, ${topic.rowsReloaded} reloaded for ${topic.days.join(", ") || "no day"}`,
        );
      }
    },
    async waitFinal(day, signal, log) {
      const store = await openStore(config.store, { dataDir: config.data_dir });
      try {
        await waitForFinalDay(store, day, {
          signal,
          onWait: (final, total) => {
            const line = `waiting for the speed layer to finalize ${day}: ${final} of ${total} daily rows final`;
            if (log) log.info(line);
            else process.stderr.write(`${line}\n`);
          },
        });
      } finally {
        await store.close();
      }
    },
    async models(command, log) {
      const run = await runModelsCommand(config, { command, projectDir: options.projectDir });
      for (const { uniqueId, outcome } of run.results) {
        const note = outcome.error?.message ?? outcome.message;
        log?.info(`${outcome.status.padEnd(7)} ${uniqueId}${note ? ` (${note})` : ""}`);
      }
      if (!run.ok) {
        const bad = run.results
          .filter((r) => r.outcome.status === "error" || r.outcome.status === "fail")
          .map((r) => r.uniqueId);
        throw new ModelError(
          ModelErrorCode.runFailed,
          `pulse models ${command} failed: ${bad.join(", ") || "see the log"}.`,
        );
      }
    },
    async reconcile(day, runId, log) {
      const store = await openStore(config.store, { dataDir: config.data_dir });
      try {
        const records = await withWarehouse(config, (warehouse) =>
          reconcileDay({ warehouse, store, day, runId }),
        );
        for (const r of records) {
          log?.info(
            `${r.activity_date} ${r.event_type}: batch ${r.batch_count} = speed ${r.speed_count} + late ${r.late_count} ` +
              `(late copies ${r.late_copies}, not loaded ${r.late_pending}); unexplained ${r.unexplained}`,
          );
        }
        return records;
      } finally {
        await store.close();
      }
    },
  };
}
