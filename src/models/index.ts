// The model runner's public surface: run a dbt-compatible project (build, run, test, seed, compile, ls) on a Warehouse.

export type { NodeResult } from "./artifacts.ts";
export { MANIFEST_SCHEMA, RUN_RESULTS_SCHEMA } from "./artifacts.ts";
export type { NodeOutcome, NodeStatus } from "./materialize.ts";
export type { ModelNode, Project, RunnableNode, SeedNode, SourceNode, TestNode } from "./nodes.ts";
export {
  DEFAULT_TARGET_SCHEMA,
  type ModelsCommand,
  type ModelsCounts,
  type ModelsEvent,
  type ModelsOptions,
  type ModelsRun,
  runModels,
} from "./runner.ts";
