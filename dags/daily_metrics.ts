// The daily DAG: load the day from the raw lake, build and test the models, reconcile the day's batch counts with the speed layer's.

import type { PipelineTasks } from "../src/app/pipeline-tasks.ts";
import { type Dag, defineDag } from "../src/orchestrate/dag.ts";

/** The interval's UTC day, as Airflow's `{{ ds }}`. */
export const dayOf = (date: Date): string => date.toISOString().slice(0, 10);

export function dailyMetrics(tasks: PipelineTasks): Dag {
  return defineDag({
    id: "daily_metrics",
    schedule: "@daily",
    timezone: "UTC",
    startDate: new Date("2026-01-01T00:00:00Z"),
    catchup: false,
    maxActiveRuns: 1,
    description:
      "Loads each UTC day of the raw lake into the warehouse, builds and tests the analytics project, and " +
      "reconciles fct_daily_user_metrics with the speed layer's daily counts and late events.",
    tags: ["batch", "reconciliation"],
    defaultTaskOptions: { retries: 2, retryDelayMs: 60_000, maxRetryDelayMs: 600_000, pool: "warehouse" },
    tasks: [
      {
        id: "load",
        // After the speed layer has finalized the day: then batch = speed + late holds exactly.
        run: (ctx) => tasks.load(dayOf(ctx.dataIntervalStart), ctx.log, { waitFinal: true, signal: ctx.signal }),
        command: ["load", "--date", "{{ ds }}", "--wait-final"],
        options: { timeoutMs: 3_600_000 },
      },
      {
        id: "models_build",
        upstream: ["load"],
        run: (ctx) => tasks.models("run", ctx.log),
        command: ["models", "run"],
        options: { timeoutMs: 3_600_000 },
      },
      {
        id: "models_test",
        upstream: ["models_build"],
        run: (ctx) => tasks.models("test", ctx.log),
        command: ["models", "test"],
        options: { timeoutMs: 1_800_000 },
      },
      {
        id: "reconcile",
        upstream: ["models_test"],
        run: async (ctx) => {
          await tasks.reconcile(dayOf(ctx.dataIntervalStart), ctx.runId, ctx.log);
        },
        command: ["reconcile", "--date", "{{ ds }}", "--run-id", "{{ run_id }}"],
        options: { timeoutMs: 600_000 },
      },
    ],
  });
}
