// The orchestrator from the config: the built-in DAGs bound to the pipeline's steps, the run store, the try logs and a scheduler on them.

import { join } from "node:path";
import { BUILTIN_POOLS, builtinDags } from "../../dags/index.ts";
import type { PulseConfig } from "../config/index.ts";
import type { Dag } from "../orchestrate/dag.ts";
import { unknownDag } from "../orchestrate/operations.ts";
import type { RunStore } from "../orchestrate/runs/index.ts";
import { openRunStore } from "../orchestrate/runs/open.ts";
import { Scheduler, type SchedulerOptions } from "../orchestrate/scheduler.ts";
import { webhookNotifier } from "../orchestrate/webhook.ts";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import { loadDagFolder } from "./dag-folder.ts";
import { type PipelineTaskOptions, pipelineTasks } from "./pipeline-tasks.ts";
import { taskProcesses } from "./task-process.ts";

const BUILTIN_IDS = "daily_metrics and intraday_metrics";

export interface Orchestrator {
  readonly dags: readonly Dag[];
  readonly store: RunStore;
  /** Where each try's log file is (src/orchestrate/task-log.ts). */
  readonly logsDir: string;
  /** The DAG with this id, or a not-found error listing the DAGs. */
  dag(id: string): Dag;
  /** A scheduler on these DAGs and this store, with the config's parallelism, lease, pools and webhook. */
  scheduler(options?: Partial<SchedulerOptions>): Scheduler;
  close(): Promise<void>;
}

export interface OrchestratorOptions extends PipelineTaskOptions {
  /**
   * Run each try in a child process (task-process.ts) rather than in this one: for long-lived processes
   * (pulse up, pulse scheduler), whose event loop must not stall during a load.
   */
  taskProcesses?: boolean;
}

export async function openOrchestrator(
  config: PulseConfig,
  options: OrchestratorOptions = {},
): Promise<Orchestrator> {
  const tasks = pipelineTasks(config, options);
  const dags = [...builtinDags(tasks), ...(await loadDagFolder(config.orchestrator.dags_folder, tasks))];
  const seen = new Map<string, number>();
  for (const dag of dags) seen.set(dag.id, (seen.get(dag.id) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  if (twice.length > 0) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badDag,
      `DAG id ${twice.map((id) => `"${id}"`).join(", ")} is defined twice (the built-in DAGs are ${BUILTIN_IDS}); ` +
        `give the DAG of ${config.orchestrator.dags_folder} another id.`,
    );
  }
  const store = await openRunStore(config.orchestrator.runs, { dataDir: config.data_dir });
  const logsDir = join(config.data_dir, "logs");
  const webhook = config.orchestrator.webhook;
  const processes = options.taskProcesses ? taskProcesses(config) : undefined;
  return {
    dags,
    store,
    logsDir,
    dag(id) {
      const dag = dags.find((d) => d.id === id);
      if (dag === undefined) throw unknownDag(id, dags);
      return dag;
    },
    scheduler(overrides = {}) {
      return new Scheduler({
        dags,
        store,
        logsDir,
        parallelism: config.orchestrator.parallelism,
        leaseMs: config.orchestrator.lease_sec * 1000,
        pools: BUILTIN_POOLS,
        notify: webhook === "" ? undefined : webhookNotifier(webhook),
        runner: processes?.runner,
        ...overrides,
      });
    },
    async close() {
      processes?.close();
      await store.close();
    },
  };
}
