// The artifacts stage: target/manifest.json (dbt's v12), target/run_results.json (v6) and target/compiled/ SQL files.

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Graph } from "./graph.ts";
import type { NodeOutcome } from "./materialize.ts";
import type { ColumnDoc, Project, RunnableNode, SourceNode } from "./nodes.ts";
import type { Compiler } from "./render.ts";

export const MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json";
export const RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json";
/** The dbt version whose artifacts these are shaped like. */
export const DBT_VERSION = "1.9.0";

export interface Invocation {
  invocationId: string;
  generatedAt: Date;
  adapterType: string;
  command: string;
  args: Record<string, unknown>;
}

/** One node's result as run_results.json holds it, with the thread it ran on. */
export interface NodeResult {
  uniqueId: string;
  outcome: NodeOutcome;
  threadId: number;
  executionTimeSec: number;
  relationName: string | undefined;
}

function metadata(schema: string, invocation: Invocation, project?: Project): Record<string, unknown> {
  const out: Record<string, unknown> = {
    dbt_schema_version: schema,
    dbt_version: DBT_VERSION,
    generated_at: invocation.generatedAt.toISOString(),
    invocation_id: invocation.invocationId,
    env: {},
  };
  if (project !== undefined) {
    Object.assign(out, {
      project_name: project.name,
      project_id: createHash("md5").update(project.name).digest("hex"),
      user_id: null,
      send_anonymous_usage_stats: false,
      adapter_type: invocation.adapterType,
    });
  }
  return out;
}

function columnsJson(columns: Record<string, ColumnDoc>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(columns).map(([name, c]) => [
      name,
      {
        name,
        description: c.description,
        meta: c.meta,
        data_type: c.dataType ?? null,
        constraints: [],
        quote: c.quote ?? null,
        tags: c.tags,
      },
    ]),
  );
}

function configJson(node: RunnableNode): Record<string, unknown> {
  const c = node.config;
  const base: Record<string, unknown> = {
    ...c.raw,
    enabled: c.enabled,
    alias: c.alias ?? null,
    schema: c.schema ?? null,
    database: null,
    tags: c.tags,
    meta: c.meta,
    materialized: c.materialized,
  };
  if (node.resourceType === "test") {
    Object.assign(base, {
      severity: c.severity.toUpperCase() === "WARN" ? "warn" : "ERROR",
      where: c.where ?? null,
      store_failures: c.storeFailures,
      warn_if: c.warnIf,
      error_if: c.errorIf,
      fail_calc: c.raw.fail_calc ?? "count(*)",
      limit: c.raw.limit ?? null,
    });
  } else {
    Object.assign(base, {
      unique_key: c.uniqueKeyText ?? null,
      incremental_strategy: c.incrementalStrategy ?? null,
      full_refresh: c.fullRefresh ?? null,
      on_schema_change: "ignore",
      column_types: c.columnTypes,
      persist_docs: {},
      quoting: {},
      grants: {},
      packages: [],
      docs: { show: true, node_color: null },
      contract: { enforced: false, alias_types: true },
      access: "protected",
    });
  }
  return base;
}

function nodeJson(
  project: Project,
  node: RunnableNode,
  compiler: Compiler | undefined,
  compiled: Map<string, string>,
): Record<string, unknown> {
  const relation = compiler?.relation(node);
  const isEphemeral = node.resourceType === "model" && node.config.materialized === "ephemeral";
  const code = compiled.get(node.uniqueId);
  const out: Record<string, unknown> = {
    database: null,
    schema: relation?.schema ?? null,
    name: node.name,
    resource_type: node.resourceType,
    package_name: project.name,
    path: node.path,
    original_file_path: node.originalFilePath,
    unique_id: node.uniqueId,
    fqn: node.fqn,
    alias: relation?.name ?? node.name,
    checksum: { name: "sha256", checksum: createHash("sha256").update(node.rawCode).digest("hex") },
    config: configJson(node),
    tags: node.config.tags,
    description: node.description,
    columns: columnsJson(node.columns),
    meta: node.config.meta,
    group: null,
    docs: { show: true, node_color: null },
    patch_path: node.patchPath === undefined ? null : `${project.name}://${node.patchPath}`,
    build_path: null,
    unrendered_config: node.config.raw,
    created_at: 0,
    relation_name:
      node.resourceType === "test" || isEphemeral || compiler === undefined
        ? null
        : compiler.relationName(node),
    raw_code: node.resourceType === "seed" ? "" : node.rawCode,
    language: "sql",
    refs: node.refs
      .filter((r) => r.kind === "ref")
      .map((r) => ({
        name: r.args[r.args.length - 1],
        package: r.args.length === 2 ? r.args[0] : null,
        version: null,
      })),
    sources: node.refs.filter((r) => r.kind === "source").map((r) => r.args),
    metrics: [],
    depends_on: { macros: [], nodes: node.dependsOn },
    compiled_path: code === undefined ? null : compiledPath(project, node),
    compiled: code !== undefined,
    compiled_code: code ?? null,
    extra_ctes_injected: code !== undefined,
    extra_ctes: [],
    contract: { enforced: false, alias_types: true, checksum: null },
  };
  if (node.resourceType === "model")
    Object.assign(out, {
      access: "protected",
      constraints: [],
      version: null,
      latest_version: null,
      deprecation_date: null,
    });
  if (node.resourceType === "seed")
    Object.assign(out, { root_path: project.root, depends_on: { macros: [] } });
  if (node.resourceType === "test") {
    Object.assign(out, {
      column_name: node.columnName ?? null,
      file_key_name: node.fileKeyName ?? null,
      attached_node: node.attachedNode ?? null,
    });
    if (node.testMetadata !== undefined)
      out.test_metadata = { name: node.testMetadata.name, kwargs: node.testMetadata.kwargs, namespace: null };
  }
  return out;
}

function sourceJson(
  project: Project,
  source: SourceNode,
  relationName: string | undefined,
): Record<string, unknown> {
  return {
    database: source.database ?? null,
    schema: source.schema,
    name: source.name,
    resource_type: "source",
    package_name: project.name,
    path: source.originalFilePath,
    original_file_path: source.originalFilePath,
    unique_id: source.uniqueId,
    fqn: source.fqn,
    source_name: source.sourceName,
    source_description: source.sourceDescription,
    loader: source.loader,
    identifier: source.identifier,
    quoting: { database: null, schema: null, identifier: null, column: null },
    loaded_at_field: null,
    freshness: {
      warn_after: { count: null, period: null },
      error_after: { count: null, period: null },
      filter: null,
    },
    external: null,
    description: source.description,
    columns: columnsJson(source.columns),
    meta: source.meta,
    source_meta: {},
    tags: source.tags,
    config: { enabled: true },
    patch_path: null,
    unrendered_config: {},
    relation_name: relationName ?? null,
    created_at: 0,
  };
}

/** Where dbt writes a node's compiled SQL, relative to the project: target/compiled/<project>/<file>. */
export function compiledPath(project: Project, node: RunnableNode): string {
  const file =
    node.resourceType === "test" && node.testMetadata !== undefined
      ? `${node.originalFilePath}/${node.path}`
      : node.originalFilePath;
  return `${project.targetPath}/compiled/${project.name}/${file}`;
}

/** The manifest: every node and source, with parent and child maps. */
export function manifestJson(
  project: Project,
  graph: Graph,
  invocation: Invocation,
  compiler: Compiler | undefined,
  compiled: Map<string, string>,
  dialectRelationName: ((schema: string, name: string) => string) | undefined,
): Record<string, unknown> {
  const nodes: Record<string, unknown> = {};
  for (const node of project.nodes.values())
    nodes[node.uniqueId] = nodeJson(project, node, compiler, compiled);
  const sources: Record<string, unknown> = {};
  for (const source of project.sources.values())
    sources[source.uniqueId] = sourceJson(
      project,
      source,
      dialectRelationName?.(source.schema, source.identifier),
    );
  const disabled: Record<string, unknown[]> = {};
  for (const node of project.disabled.values())
    disabled[node.uniqueId] = [nodeJson(project, node, undefined, new Map())];
  return {
    metadata: metadata(MANIFEST_SCHEMA, invocation, project),
    nodes,
    sources,
    macros: {},
    docs: {},
    exposures: {},
    metrics: {},
    groups: {},
    selectors: {},
    disabled,
    parent_map: Object.fromEntries(graph.ids.map((id) => [id, graph.parents.get(id) ?? []])),
    child_map: Object.fromEntries(graph.ids.map((id) => [id, graph.children.get(id) ?? []])),
    group_map: {},
    saved_queries: {},
    semantic_models: {},
    unit_tests: {},
  };
}

/** run_results.json: one result per node run or skipped, in the order they finished. */
export function runResultsJson(
  results: readonly NodeResult[],
  invocation: Invocation,
  elapsedSec: number,
): Record<string, unknown> {
  return {
    metadata: metadata(RUN_RESULTS_SCHEMA, invocation),
    results: results.map((result) => ({
      status: result.outcome.status,
      timing: result.outcome.timing.map((t) => ({
        name: t.name,
        started_at: t.startedAt.toISOString(),
        completed_at: t.completedAt.toISOString(),
      })),
      thread_id: `Thread-${result.threadId} (worker)`,
      execution_time: result.executionTimeSec,
      adapter_response:
        result.outcome.adapterMessage === undefined
          ? {}
          : {
              _message: result.outcome.adapterMessage,
              code: result.outcome.adapterMessage,
              rows_affected: result.outcome.rowsAffected ?? -1,
            },
      message: result.outcome.message,
      failures: result.outcome.failures,
      unique_id: result.uniqueId,
      compiled: result.outcome.compiledCode !== undefined,
      compiled_code: result.outcome.compiledCode ?? null,
      relation_name: result.relationName ?? null,
      batch_results: null,
    })),
    elapsed_time: elapsedSec,
    args: invocation.args,
  };
}

/** Writes a JSON artifact under target/ (and the folder); returns its path. */
export function writeArtifact(project: Project, name: string, value: unknown): string {
  const path = resolve(project.root, project.targetPath, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}

/** Writes one node's compiled SQL to target/compiled/…. */
export function writeCompiled(project: Project, node: RunnableNode, sql: string): void {
  const path = resolve(project.root, compiledPath(project, node));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, sql);
}
