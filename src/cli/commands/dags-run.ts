// What `pulse dags` runs in its own process: a scheduler until given runs end (with a progress bar), one task's callable, run lookups.

import type { Orchestrator } from "../../app/dags.ts";
import { UsageError } from "../../errors.ts";
import type { Dag, TaskContext } from "../../orchestrate/dag.ts";
import { unknownTask } from "../../orchestrate/operations.ts";
import type { DagRun, TaskInstance } from "../../orchestrate/runs/index.ts";
import { progressBar } from "../status.ts";

/** A date flag: YYYY-MM-DD (UTC midnight) or an ISO instant; a usage error otherwise. */
export function dateFlag(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime()))
    throw new UsageError(
      `--${name} must be a date (2026-12-06) or an ISO time (2026-12-06T00:00:00Z), got '${value}'`,
    );
  return date;
}

export interface EndedRun {
  run: DagRun;
  tasks: TaskInstance[];
}

/**
 * Runs a scheduler in this process (no scheduled runs of its own) until every one of `runs` has ended;
 * Ctrl-C stops it (running tries are left to their leases). A progress bar of the runs ended goes to
 * stderr when asked.
 */
export async function untilRunsEnd(
  orchestrator: Orchestrator,
  runs: readonly DagRun[],
  options: { json: boolean; progress: boolean },
): Promise<EndedRun[]> {
  const { store } = orchestrator;
  const lines = options.json ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  const scheduler = orchestrator.scheduler({
    createRuns: false,
    pollMs: 200,
    log: options.progress ? undefined : lines,
  });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const started = Date.now();
  scheduler.start();
  try {
    for (;;) {
      const current = await Promise.all(runs.map((r) => store.getRun(r.dagId, r.runId)));
      const done = current.filter((r) => r?.state === "success" || r?.state === "failed").length;
      if (options.progress) {
        const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
        process.stderr.write(`\r${progressBar(done, runs.length, rate)} runs`);
      }
      if (done === runs.length) break;
      if (stop.signal.aborted) throw new UsageError("stopped; the runs left are queued for a scheduler");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    if (options.progress) process.stderr.write("\n");
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await scheduler.stop();
  }
  return Promise.all(
    runs.map(async (r) => ({
      run: (await store.getRun(r.dagId, r.runId)) as DagRun,
      tasks: await store.taskInstances(r.dagId, r.runId),
    })),
  );
}

/**
 * One task's callable for an interval, in this process, its log on stdout: what an external scheduler
 * (Airflow) runs for a task that has no command of its own. Its failure is this command's.
 */
export async function runTaskOnce(
  dag: Dag,
  taskId: string,
  options: {
    start: Date;
    end: Date;
    tryNumber: number;
    runId?: string;
    plain?: boolean;
    signal: AbortSignal;
  },
): Promise<void> {
  const task = dag.tasks.find((t) => t.id === taskId);
  if (task === undefined) throw unknownTask(dag, taskId);
  const line = (level: string) => (message: string) =>
    process.stdout.write(
      `${options.plain ? "" : `${new Date().toISOString()} `}${level} ${String(message).replace(/\n/g, "\n    ")}\n`,
    );
  const context: TaskContext = {
    dagId: dag.id,
    taskId,
    runId: options.runId ?? `external__${options.start.toISOString()}`,
    logicalDate: options.start,
    dataIntervalStart: options.start,
    dataIntervalEnd: options.end,
    tryNumber: options.tryNumber,
    log: { info: line("INFO"), warn: line("WARN"), error: line("ERROR") },
    signal: options.signal,
  };
  await task.run(context);
}
