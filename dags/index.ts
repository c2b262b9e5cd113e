// The DAGs Pulse ships, made for one configuration's pipeline steps.

import type { PipelineTasks } from "../src/app/pipeline-tasks.ts";
import type { Dag } from "../src/orchestrate/dag.ts";
import { dailyMetrics } from "./daily_metrics.ts";
import { intradayMetrics } from "./intraday_metrics.ts";

/** The pools the built-in DAGs use: one warehouse writer at a time (an embedded DuckDB file has one). */
export const BUILTIN_POOLS: Readonly<Record<string, number>> = { warehouse: 1 };

export function builtinDags(tasks: PipelineTasks): Dag[] {
  return [dailyMetrics(tasks), intradayMetrics(tasks)];
}
