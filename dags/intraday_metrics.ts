// The intraday DAG: every hour, today's partition refreshed (load what is new, run the models), so the analytics page has data within the hour.

import type { PipelineTasks } from "../src/app/pipeline-tasks.ts";
import { type Dag, defineDag } from "../src/orchestrate/dag.ts";

export function intradayMetrics(tasks: PipelineTasks): Dag {
  return defineDag({
    id: "intraday_metrics",
    schedule: "@hourly",
    timezone: "UTC",
    startDate: new Date("2026-01-01T00:00:00Z"),
    catchup: false,
    maxActiveRuns: 1,
    description:
      "Refreshes the current UTC day's rows every hour: loads the raw lake's new rows (incremental, exactly " +
      "once) and runs the models, whose incremental marts rebuild only the days that changed. No " +
      "reconciliation: the day is not over.",
    tags: ["batch"],
    defaultTaskOptions: { retries: 1, retryDelayMs: 60_000, pool: "warehouse" },
    tasks: [
      {
        id: "load",
        run: (ctx) => tasks.load(undefined, ctx.log),
        command: ["load"],
        options: { timeoutMs: 1_800_000 },
      },
      {
        id: "models_run",
        upstream: ["load"],
        run: (ctx) => tasks.models("run", ctx.log),
        command: ["models", "run"],
        options: { timeoutMs: 1_800_000 },
      },
    ],
  });
}
