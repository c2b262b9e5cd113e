// The orchestrator's objects as JSON, one shape for `pulse dags … --json` and /api/dags.

import type { Dag } from "./dag.ts";
import type { DagRun, TaskInstance } from "./runs/index.ts";

export function dagJson(dag: Dag) {
  return {
    id: dag.id,
    schedule: dag.schedule,
    cron: dag.cron,
    timezone: dag.timezone,
    startDate: dag.startDate.toISOString(),
    catchup: dag.catchup,
    maxActiveRuns: dag.maxActiveRuns,
    tags: dag.tags,
    description: dag.description,
    tasks: dag.tasks.map((t) => ({
      id: t.id,
      upstream: t.upstream,
      command: t.command ?? null,
      retries: t.options.retries,
      timeoutMs: t.options.timeoutMs ?? null,
      pool: t.options.pool ?? null,
      triggerRule: t.options.triggerRule,
    })),
  };
}

export function runJson(run: DagRun) {
  return {
    dagId: run.dagId,
    runId: run.runId,
    runType: run.runType,
    state: run.state,
    logicalDate: run.logicalDate.toISOString(),
    dataIntervalStart: run.dataIntervalStart.toISOString(),
    dataIntervalEnd: run.dataIntervalEnd.toISOString(),
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
  };
}

export function taskJson(task: TaskInstance) {
  return {
    taskId: task.taskId,
    state: task.state,
    tryNumber: task.tryNumber,
    reason: task.reason,
    updatedAt: task.updatedAt.toISOString(),
  };
}

/** A run with its task instances. */
export function runWithTasksJson(run: DagRun, tasks: readonly TaskInstance[]) {
  return { ...runJson(run), tasks: tasks.map(taskJson) };
}
