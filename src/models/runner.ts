// A `pulse models` command end to end: parse → graph → select → schedule and run → artifacts, as `dbt build|run|test|seed|compile|ls`.

import { randomUUID } from "node:crypto";
import { UsageError } from "../errors.ts";
import type { Dialect, Warehouse } from "../warehouse/index.ts";
import {
  type Invocation,
  manifestJson,
  type NodeResult,
  runResultsJson,
  writeArtifact,
  writeCompiled,
} from "./artifacts.ts";
import { buildGraph, type Graph } from "./graph.ts";
import type { TargetInfo } from "./jinja-context.ts";
import { type NodeOutcome, runNode } from "./materialize.ts";
import type { Project, RunnableNode } from "./nodes.ts";
import { parseProject } from "./parse.ts";
import { Compiler } from "./render.ts";
import { runGraph, schedule } from "./schedule.ts";
import { selectNodes } from "./select.ts";
import { type SharedView, SharedViews } from "./shared-views.ts";

export type ModelsCommand = "build" | "run" | "test" | "seed" | "compile" | "ls";

/** The target schema when none is given: the batch layer's dataset. */
export const DEFAULT_TARGET_SCHEMA = "monitoring_datalake";

export interface ModelsOptions {
  command: ModelsCommand;
  /** The dbt project's folder. */
  projectDir: string;
  /** Needed by every command but ls. */
  warehouse?: Warehouse;
  targetSchema?: string;
  /** target.name in templates (dbt's profile target); default "dev". */
  targetName?: string;
  select?: readonly string[];
  exclude?: readonly string[];
  /** Nodes run at once; default defaultThreads(the warehouse). */
  threads?: number;
  fullRefresh?: boolean;
  vars?: Record<string, unknown>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Where artifacts go, relative to the project or absolute; default DBT_TARGET_PATH, else the project's target-path. */
  targetPath?: string;
  /**
   * On DuckDB, compute a view that several nodes read once for the run (src/models/shared-views.ts);
   * default true.
   */
  shareViews?: boolean;
  /** Write target/manifest.json, run_results.json and compiled/ (default true). */
  writeArtifacts?: boolean;
  onEvent?(event: ModelsEvent): void;
}

/**
 * What the log shows: a node starting, and its result (or its skip); and a view computed once for its
 * readers (src/models/shared-views.ts).
 */
export type ModelsEvent =
  | ({ kind: "shared" } & SharedView)
  | { kind: "start"; index: number; total: number; node: RunnableNode; relationName: string | undefined }
  | {
      kind: "result";
      index: number;
      total: number;
      node: RunnableNode;
      result: NodeResult;
      relationName: string | undefined;
    };

export interface ModelsCounts {
  pass: number;
  warn: number;
  error: number;
  skip: number;
  total: number;
}

export interface ModelsRun {
  project: Project;
  graph: Graph;
  /** ls: the selected nodes as dbt ls prints them; other commands: the ids run, in order. */
  selected: string[];
  results: NodeResult[];
  counts: ModelsCounts;
  /** No node errored and no test failed with severity error. */
  ok: boolean;
  elapsedSec: number;
  invocationId: string;
}

const RUNS: Record<ModelsCommand, readonly string[]> = {
  build: ["model", "seed", "test"],
  run: ["model"],
  test: ["test"],
  seed: ["seed"],
  compile: ["model", "test"],
  ls: ["model", "seed", "test", "source"],
};

/**
 * Nodes run at once without --threads: one on DuckDB, which already spreads each statement over every
 * core (concurrent models only contend for them: 10M raw events, `build` took 18.4 s at 1, 24.0 s at 4
 * on two cores); 4 on a server warehouse, where a node mostly waits on the server.
 */
export function defaultThreads(warehouse: Dialect["name"] | undefined): number {
  return warehouse === "duckdb" ? 1 : 4;
}

/** Runs a models command; node failures are results, while a project that cannot be parsed throws its ModelError. */
export async function runModels(options: ModelsOptions): Promise<ModelsRun> {
  const started = Date.now();
  const invocationId = randomUUID();
  const warehouse = options.warehouse;
  if (warehouse === undefined && options.command !== "ls")
    throw new UsageError(`pulse models ${options.command} needs a warehouse`);
  const target: TargetInfo = {
    name: options.targetName ?? "dev",
    schema: options.targetSchema ?? DEFAULT_TARGET_SCHEMA,
    type: warehouse?.dialect.name ?? "duckdb",
    threads: options.threads ?? defaultThreads(warehouse?.dialect.name),
  };
  const env = options.env ?? process.env;
  const cliVars = options.vars ?? {};
  const parsed = parseProject({ projectDir: options.projectDir, target, cliVars, env });
  // dbt's precedence: --target-path, then DBT_TARGET_PATH, then dbt_project.yml's target-path.
  const targetPath = options.targetPath ?? env.DBT_TARGET_PATH;
  const project = targetPath === undefined || targetPath === "" ? parsed : { ...parsed, targetPath };
  const graph = buildGraph(project);
  const chosen = selectNodes(project, graph, { select: options.select, exclude: options.exclude });
  const kinds = RUNS[options.command];
  const runnable = chosen.filter((id) => {
    const node = project.nodes.get(id);
    if (node === undefined) return kinds.includes("source") && project.sources.has(id);
    if (!kinds.includes(node.resourceType)) return false;
    return (
      options.command === "compile" ||
      options.command === "ls" ||
      !(node.resourceType === "model" && node.config.materialized === "ephemeral")
    );
  });
  const counts: ModelsCounts = { pass: 0, warn: 0, error: 0, skip: 0, total: 0 };
  if (options.command === "ls" || warehouse === undefined) {
    const selected = runnable.map((id) => {
      const source = project.sources.get(id);
      return source !== undefined ? `source:${source.fqn.join(".")}` : project.nodes.get(id)!.fqn.join(".");
    });
    return {
      project,
      graph,
      selected,
      results: [],
      counts,
      ok: true,
      elapsedSec: (Date.now() - started) / 1000,
      invocationId,
    };
  }

  const compiler = new Compiler({
    project,
    dialect: warehouse.dialect,
    target,
    cliVars,
    env,
    fullRefresh: options.fullRefresh ?? false,
    command: options.command,
    invocationId,
  });
  // Schemas first, one at a time, as dbt creates them before it runs: concurrent CREATE SCHEMA can conflict.
  if (options.command !== "compile") {
    const schemas = new Set<string>();
    for (const id of runnable) {
      const node = project.nodes.get(id)!;
      if (
        node.resourceType === "test"
          ? node.config.storeFailures
          : !(node.resourceType === "model" && node.config.materialized === "ephemeral")
      )
        schemas.add(compiler.relation(node).schema);
    }
    for (const schema of [...schemas].sort()) await warehouse.createSchema(schema);
  }
  const plan = runGraph(
    graph,
    new Set(runnable),
    (id) => id.startsWith("test."),
    options.command === "build",
  );
  const total = plan.order.length;
  const shared =
    options.command === "compile" || options.shareViews === false
      ? undefined
      : new SharedViews({
          warehouse,
          compiler,
          project,
          order: plan.order,
          runId: invocationId,
          fullRefresh: options.fullRefresh ?? false,
          onShared: (shared) => options.onEvent?.({ kind: "shared", ...shared }),
        });
  const results: NodeResult[] = [];
  const compiled = new Map<string, string>();
  let nextIndex = 0;
  const relationNameOf = (node: RunnableNode): string | undefined =>
    node.resourceType === "test" ||
    (node.resourceType === "model" && node.config.materialized === "ephemeral")
      ? undefined
      : compiler.relationName(node);
  const record = (node: RunnableNode, index: number, result: NodeResult): void => {
    results.push(result);
    const status = result.outcome.status;
    if (status === "success" || status === "pass") counts.pass++;
    else if (status === "warn") counts.warn++;
    else if (status === "skipped") counts.skip++;
    else counts.error++;
    counts.total++;
    if (result.outcome.compiledCode !== undefined) compiled.set(node.uniqueId, result.outcome.compiledCode);
    options.onEvent?.({ kind: "result", index, total, node, result, relationName: result.relationName });
  };

  await schedule({
    graph: plan,
    threads: target.threads,
    run: async (id, threadId) => {
      const node = project.nodes.get(id)!;
      const index = ++nextIndex;
      const relationName = relationNameOf(node);
      options.onEvent?.({ kind: "start", index, total, node, relationName });
      const began = Date.now();
      const outcome = await runNode(node, warehouse, compiler, {
        fullRefresh: options.fullRefresh ?? false,
        compileOnly: options.command === "compile",
        reads: await shared?.readsFor(node),
      });
      shared?.done(id);
      record(node, index, {
        uniqueId: id,
        outcome,
        threadId,
        executionTimeSec: (Date.now() - began) / 1000,
        relationName,
      });
      return outcome.status === "error" || outcome.status === "fail";
    },
    skip: (id) => {
      const node = project.nodes.get(id)!;
      const outcome: NodeOutcome = {
        status: "skipped",
        message: null,
        failures: null,
        adapterMessage: undefined,
        rowsAffected: undefined,
        compiledCode: undefined,
        timing: [],
        error: undefined,
      };
      record(node, ++nextIndex, {
        uniqueId: id,
        outcome,
        threadId: 1,
        executionTimeSec: 0,
        relationName: relationNameOf(node),
      });
      shared?.done(id);
    },
  }).finally(() => shared?.close());

  const elapsedSec = (Date.now() - started) / 1000;
  if (options.writeArtifacts !== false) {
    const invocation: Invocation = {
      invocationId,
      generatedAt: new Date(),
      adapterType: warehouse.dialect.name,
      command: options.command,
      args: {
        which: options.command,
        select: options.select ?? [],
        exclude: options.exclude ?? [],
        threads: target.threads,
        full_refresh: options.fullRefresh ?? false,
        vars: cliVars,
        target: target.name,
      },
    };
    for (const [id, sql] of compiled) writeCompiled(project, project.nodes.get(id)!, sql);
    const relationName = (schema: string, name: string): string =>
      warehouse.dialect.relationName({ schema, name });
    writeArtifact(
      project,
      "manifest.json",
      manifestJson(project, graph, invocation, compiler, compiled, relationName),
    );
    writeArtifact(project, "run_results.json", runResultsJson(results, invocation, elapsedSec));
  }
  return {
    project,
    graph,
    selected: plan.order,
    results,
    counts,
    ok: counts.error === 0,
    elapsedSec,
    invocationId,
  };
}
