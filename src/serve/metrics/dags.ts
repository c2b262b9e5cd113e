// Orchestrator metrics, read from the run store on scrape: runs by DAG and state, task instances by state, tries started.

import { Gauge, type Registry } from "prom-client";

/** What the metrics read: per DAG, its runs' states and their task instances' states and tries. */
export interface DagFigures {
  dagId: string;
  runs: ReadonlyArray<{ state: string; tasks: ReadonlyArray<{ state: string; tryNumber: number }> }>;
}

const RUN_STATES = ["queued", "running", "success", "failed"];
const TASK_STATES = ["queued", "running", "success", "failed", "up_for_retry", "upstream_failed", "skipped"];

/**
 * pulse_dag_runs{dag,state}, pulse_dag_task_instances{dag,state} and pulse_dag_task_tries{dag} on
 * `registry`, from `read()` at each scrape (every state present, 0 when none, so a series never vanishes).
 */
export function registerDagMetrics(registry: Registry, read: () => Promise<readonly DagFigures[]>): void {
  // One read serves the three gauges of a scrape.
  let pending: Promise<readonly DagFigures[]> | undefined;
  const figures = (): Promise<readonly DagFigures[]> => {
    pending ??= read().finally(() => {
      setTimeout(() => {
        pending = undefined;
      }, 0);
    });
    return pending;
  };
  new Gauge({
    name: "pulse_dag_runs",
    help: "DAG runs in the run store, by DAG and state.",
    labelNames: ["dag", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const dag of await figures()) {
        for (const state of RUN_STATES)
          this.set({ dag: dag.dagId, state }, dag.runs.filter((r) => r.state === state).length);
      }
    },
  });
  new Gauge({
    name: "pulse_dag_task_instances",
    help: "Task instances of the DAG's runs, by DAG and state.",
    labelNames: ["dag", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const dag of await figures()) {
        const tasks = dag.runs.flatMap((r) => r.tasks);
        for (const state of TASK_STATES)
          this.set({ dag: dag.dagId, state }, tasks.filter((t) => t.state === state).length);
      }
    },
  });
  new Gauge({
    name: "pulse_dag_task_tries",
    help: "Tries started over the DAG's task instances (retries included).",
    labelNames: ["dag"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const dag of await figures())
        this.set(
          { dag: dag.dagId },
          dag.runs.flatMap((r) => r.tasks).reduce((n, t) => n + t.tryNumber, 0),
        );
    },
  });
}
