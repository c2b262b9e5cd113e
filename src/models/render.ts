// The render stage at run time: a node's SQL for the warehouse, relations named by the dialect, ephemeral models inlined as CTEs.

/*
 * Relations: a model's or seed's schema is generate_schema_name(custom schema): the target schema, or
 * `<target schema>_<custom>` (a project macro named generate_schema_name replaces that rule, as in dbt);
 * its name is the alias config or the node's name. A test's stored failures go to
 * `<target schema>_dbt_test__audit`.
 * Ephemeral models: `ref('e')` renders as `__dbt__cte__e`, and the compiled SQL gets a CTE per
 * ephemeral it reads (directly or through other ephemerals), parents first: `with __dbt__cte__e as (…)`
 * before the model's own SQL, or joined to the front of its own `with` list.
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import type { Dialect, Relation } from "../warehouse/index.ts";
import { genericTestSql, whereSubquery } from "./generic-tests.ts";
import { renderTemplate } from "./jinja.ts";
import { buildContext, RelationValue, type TargetInfo } from "./jinja-context.ts";
import type { ModelNode, Project, RunnableNode, TestNode } from "./nodes.ts";

export interface CompileOptions {
  project: Project;
  dialect: Dialect;
  target: TargetInfo;
  cliVars: Record<string, unknown>;
  env: Readonly<Record<string, string | undefined>>;
  fullRefresh: boolean;
  command: string;
  invocationId: string;
}

export const CTE_PREFIX = "__dbt__cte__";
const AUDIT_SCHEMA = "dbt_test__audit";

/** Relation names to render for some nodes' refs instead of their own: unique id → quoted name. */
export type ReadsFrom = ReadonlyMap<string, string>;

interface Rendered {
  sql: string;
  /** The ephemeral models the SQL reads, directly or through each other, parents first. */
  ephemerals: string[];
}

export class Compiler {
  readonly #options: CompileOptions;
  readonly #byName = new Map<string, RunnableNode>();
  readonly #relations = new Map<string, Relation>();
  readonly #ephemeralSql = new Map<string, Rendered>();

  constructor(options: CompileOptions) {
    this.#options = options;
    for (const node of options.project.nodes.values())
      if (node.resourceType !== "test") this.#byName.set(node.name, node);
  }

  /** Where a node lives in the warehouse (a test: its store_failures table). */
  relation(node: RunnableNode): Relation {
    const cached = this.#relations.get(node.uniqueId);
    if (cached !== undefined) return cached;
    const isTest = node.resourceType === "test";
    const schema = this.#schemaName(isTest ? (node.config.schema ?? AUDIT_SCHEMA) : node.config.schema, node);
    const name = node.config.alias ?? (isTest ? (node as TestNode).shortName : node.name);
    const relation = { schema, name };
    this.#relations.set(node.uniqueId, relation);
    return relation;
  }

  /** The quoted name templates and the manifest show; an ephemeral model's CTE name. */
  relationName(node: RunnableNode): string {
    if (node.resourceType === "model" && node.config.materialized === "ephemeral")
      return `${CTE_PREFIX}${node.name}`;
    return this.#options.dialect.relationName(this.relation(node));
  }

  /**
   * A model's compiled SQL, with `is_incremental()` as given. `reads` maps a node's unique id to the
   * relation name its `ref()` renders as instead of its own (the run's shared view results).
   */
  compileModel(node: ModelNode, isIncremental: boolean, reads?: ReadsFrom): string {
    const rendered = this.#render(node, isIncremental, reads);
    return this.#withCtes(rendered);
  }

  /** A test's query, whose rows are its failures; `reads` as for compileModel. */
  compileTest(node: TestNode, reads?: ReadsFrom): string {
    if (node.testMetadata === undefined) return this.#withCtes(this.#render(node, false, reads));
    const meta = node.testMetadata;
    const parent = this.#lookup(node, node.attachedNode ?? node.dependsOn[0] ?? "");
    const ephemerals: string[] = [];
    const parentName = reads?.get(parent.uniqueId) ?? this.#relationFor(parent, ephemerals);
    const column = node.quoteColumn
      ? this.#options.dialect.quoteIdentifier(String(meta.kwargs.column_name))
      : String(meta.kwargs.column_name);
    const quote = meta.kwargs.quote !== false;
    const values = Array.isArray(meta.kwargs.values)
      ? meta.kwargs.values.map((value) =>
          quote ? this.#options.dialect.quoteLiteral(String(value)) : String(value),
        )
      : undefined;
    let to: string | undefined;
    if (meta.name === "relationships") {
      const toId = node.dependsOn.find((id) => id !== parent.uniqueId) ?? parent.uniqueId;
      to = reads?.get(toId) ?? this.#relationFor(this.#lookup(node, toId), ephemerals);
    }
    const sql = genericTestSql({
      test: meta.name,
      model: whereSubquery(parentName, node.config.where),
      column,
      values,
      to,
      field: meta.kwargs.field === undefined ? undefined : String(meta.kwargs.field),
    });
    return this.#withCtes({ sql, ephemerals: this.#closure(ephemerals) });
  }

  #lookup(node: RunnableNode, id: string): RunnableNode | { uniqueId: string; source: true } {
    const found = this.#options.project.nodes.get(id);
    if (found !== undefined) return found;
    if (this.#options.project.sources.has(id)) return { uniqueId: id, source: true };
    throw new ModelError(
      ModelErrorCode.missingRef,
      `${node.originalFilePath}: ${node.name} reads ${id}, which does not exist`,
    );
  }

  #relationFor(target: RunnableNode | { uniqueId: string; source: true }, ephemerals: string[]): string {
    if ("source" in target) {
      const source = this.#options.project.sources.get(target.uniqueId)!;
      return this.#options.dialect.relationName({ schema: source.schema, name: source.identifier });
    }
    if (target.resourceType === "model" && target.config.materialized === "ephemeral")
      ephemerals.push(target.uniqueId);
    return this.relationName(target);
  }

  /** Each ephemeral's own ephemeral parents before it, without repeats. */
  #closure(direct: readonly string[]): string[] {
    const out: string[] = [];
    const add = (id: string): void => {
      if (out.includes(id)) return;
      const own = this.#renderEphemeral(id);
      for (const parent of own.ephemerals) add(parent);
      out.push(id);
    };
    for (const id of direct) add(id);
    return out;
  }

  #renderEphemeral(id: string): Rendered {
    const cached = this.#ephemeralSql.get(id);
    if (cached !== undefined) return cached;
    const node = this.#options.project.nodes.get(id) as ModelNode;
    const rendered = this.#render(node, false);
    this.#ephemeralSql.set(id, rendered);
    return rendered;
  }

  #withCtes(rendered: Rendered): string {
    const ctes = rendered.ephemerals.map((id) => {
      const node = this.#options.project.nodes.get(id)!;
      return `${CTE_PREFIX}${node.name} as (\n${this.#renderEphemeral(id).sql.trim()}\n)`;
    });
    return injectCtes(rendered.sql, ctes);
  }

  #render(node: ModelNode | TestNode, isIncremental: boolean, reads?: ReadsFrom): Rendered {
    const options = this.#options;
    const template = options.project.templates.get(node.uniqueId);
    if (template === undefined)
      throw new ModelError(
        ModelErrorCode.renderFailed,
        `${node.originalFilePath}: no template was parsed for ${node.uniqueId}`,
      );
    const ephemerals: string[] = [];
    const context = buildContext({
      execute: true,
      projectName: options.project.name,
      projectVars: options.project.vars,
      cliVars: options.cliVars,
      target: options.target,
      dialect: options.dialect,
      macroFiles: options.project.macroFiles,
      ref: (args) => {
        const name = args[args.length - 1]!;
        const target = this.#byName.get(name);
        if (target === undefined || !node.dependsOn.includes(target.uniqueId)) {
          throw new ModelError(
            ModelErrorCode.missingRef,
            `${node.name} reads ref('${name}'), which its parse did not find${target === undefined ? " and which does not exist" : ""}. If the ref sits in a branch parsing does not take, add a line \`-- depends_on: {{ ref('${name}') }}\``,
          );
        }
        const rendered = reads?.get(target.uniqueId) ?? this.#relationFor(target, ephemerals);
        const relation =
          target.resourceType === "model" && target.config.materialized === "ephemeral"
            ? { schema: "", name: rendered }
            : this.relation(target);
        return new RelationValue(relation.schema, relation.name, rendered);
      },
      source: (sourceName, table) => {
        const id = `source.${options.project.name}.${sourceName}.${table}`;
        const source = options.project.sources.get(id);
        if (source === undefined)
          throw new ModelError(
            ModelErrorCode.missingRef,
            `source('${sourceName}', '${table}') is not declared`,
          );
        return new RelationValue(
          source.schema,
          source.identifier,
          options.dialect.relationName({ schema: source.schema, name: source.identifier }),
        );
      },
      configValues: node.config.raw,
      isIncremental,
      thisRelation: node.resourceType === "model" ? this.#thisValue(node) : undefined,
      fullRefresh: options.fullRefresh,
      command: options.command,
      invocationId: options.invocationId,
      env: options.env,
    });
    const sql = renderTemplate(template, context);
    return { sql, ephemerals: this.#closure(ephemerals) };
  }

  #thisValue(node: ModelNode): RelationValue {
    const relation = this.relation(node);
    return new RelationValue(relation.schema, relation.name, this.relationName(node));
  }

  #schemaName(custom: string | undefined, node: RunnableNode): string {
    const { project, target } = this.#options;
    const override = project.macroFiles.find((file) => file.macros.has("generate_schema_name"));
    if (override === undefined)
      return custom === undefined ? target.schema : `${target.schema}_${custom.trim()}`;
    const context = buildContext({
      ...this.#contextBase(),
      ref: () => {
        throw new ModelError(ModelErrorCode.renderFailed, "generate_schema_name cannot call ref()");
      },
      source: () => {
        throw new ModelError(ModelErrorCode.renderFailed, "generate_schema_name cannot call source()");
      },
    });
    const macro = context.generate_schema_name as (...args: unknown[]) => unknown;
    const nodeValue = {
      name: node.name,
      resource_type: node.resourceType,
      unique_id: node.uniqueId,
      fqn: node.fqn,
      original_file_path: node.originalFilePath,
    };
    const schema = String(macro(custom ?? null, nodeValue)).trim();
    if (schema === "")
      throw new ModelError(
        ModelErrorCode.renderFailed,
        `${override.file}: generate_schema_name gave an empty schema for ${node.name}`,
      );
    return schema;
  }

  #contextBase() {
    const options = this.#options;
    return {
      execute: true,
      projectName: options.project.name,
      projectVars: options.project.vars,
      cliVars: options.cliVars,
      target: options.target,
      dialect: options.dialect,
      macroFiles: options.project.macroFiles,
      configValues: {},
      isIncremental: false,
      thisRelation: undefined,
      fullRefresh: options.fullRefresh,
      command: options.command,
      invocationId: options.invocationId,
      env: options.env,
    };
  }
}

const LEADING_COMMENTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;

/** Puts `ctes` in front of `sql`: into its own leading `with` list when it has one, else as a new one. */
export function injectCtes(sql: string, ctes: readonly string[]): string {
  if (ctes.length === 0) return sql;
  const lead = LEADING_COMMENTS.exec(sql)?.[0] ?? "";
  const rest = sql.slice(lead.length);
  const withMatch = /^with(\s+recursive)?\b/i.exec(rest);
  if (withMatch === null) return `${lead}with ${ctes.join(",\n")}\n${rest}`;
  return `${lead}${withMatch[0]} ${ctes.join(",\n")},\n${rest.slice(withMatch[0].length).trimStart()}`;
}
