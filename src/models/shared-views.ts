// Shared view results on DuckDB: a view that many nodes of a run read is computed once, into memory, and they read that.

/*
 * A view model is SQL that every reader recomputes. In the analytics project, stg_user_activity (a
 * deduplication over the whole raw table) is read by four marts and three tests; over 10M raw events each
 * recomputation takes 2.3–3.0 s, most of a build. When at least SHARE_MIN_READERS nodes of a run read one
 * view directly and their plans on it scan rows, the first of them to run copies the columns they read
 * into a table of an in-memory database attached for the run (`pulse_shared_<id>`, under the view's own
 * schema and name), and each reader's executed SQL reads that table instead of the view. The compiled SQL
 * written to target/ still names the view, as dbt's does. DuckDB spills the copy to its temp directory
 * when it outgrows the memory limit.
 *
 * The copy holds the same rows every reader would have read: a view's result changes only when a relation
 * it reads changes, and no node of the run writes a relation upstream of a view that one of its own
 * downstream nodes still has to read (that would be a cycle). It is dropped once its last reader has run or
 * been skipped, and the database is detached when the run ends.
 *
 * Which columns: DuckDB parses each reader's compiled SQL (json_serialize_sql), and the copy keeps every
 * column of the view whose name appears as any name in a parse tree. A star (`*`, `v.*`, COLUMNS(…)), a
 * NATURAL join, or a whole-row reference (a table's own name used as a column) keeps them all; SQL that
 * DuckDB cannot parse, or a view that cannot be read, leaves the readers on the view. A reader whose
 * plan on the view scans nothing (DuckDB answers a not_null test from statistics) stays on the view and
 * adds no column; one that cannot be planned when it runs stays on the view too, so that its error names
 * the view. Readers through an ephemeral model read the view itself.
 *
 * DuckDB only (the embedded warehouse, where one in-memory copy is cheap next to the recomputations); on
 * PostgreSQL and BigQuery each reader reads the view.
 */

import type { Relation, Warehouse } from "../warehouse/index.ts";
import { runsIncremental } from "./materialize.ts";
import type { ModelNode, Project, RunnableNode } from "./nodes.ts";
import type { Compiler, ReadsFrom } from "./render.ts";

/** A view is shared when at least this many nodes of the run read it directly and scan it. */
export const SHARE_MIN_READERS = 3;

interface Shared {
  view: ModelNode;
  /** Readers that have not yet run or been skipped. */
  pending: Set<string>;
  /** The copy's quoted name once made; undefined when the readers stay on the view. */
  made?: Promise<string | undefined>;
  /** Readers that stay on the view: their plan on it scans nothing. */
  onView: Set<string>;
  /** Readers DuckDB could not plan when the copy was made; planned again when each runs. */
  unplanned: Set<string>;
}

export interface SharedViewsOptions {
  warehouse: Warehouse;
  compiler: Compiler;
  project: Project;
  /** The run's nodes, in run order. */
  order: readonly string[];
  /** Names the run's in-memory database. */
  runId: string;
  /** The run's --full-refresh, which decides an incremental reader's branch. */
  fullRefresh: boolean;
  /** Told of each copy made. */
  onShared?(shared: SharedView): void;
}

/** A copy made: which view, for how many readers, with how many of its columns, in how long. */
export interface SharedView {
  /** The view's quoted name. */
  relationName: string;
  readers: number;
  columns: number;
  ofColumns: number;
  seconds: number;
}

export class SharedViews {
  readonly #warehouse: Warehouse;
  readonly #compiler: Compiler;
  readonly #project: Project;
  readonly #fullRefresh: boolean;
  readonly #onShared: SharedViewsOptions["onShared"];
  readonly #database: string;
  /** View unique id → its sharing. */
  readonly #views = new Map<string, Shared>();
  /** Reader unique id → the shared views it reads. */
  readonly #readers = new Map<string, string[]>();
  #attached?: Promise<void>;
  readonly #drops: Promise<unknown>[] = [];

  /** Plans the sharing for the nodes of a run; shares nothing unless the warehouse is DuckDB. */
  constructor(options: SharedViewsOptions) {
    const { warehouse, project, order, runId } = options;
    this.#warehouse = warehouse;
    this.#compiler = options.compiler;
    this.#project = project;
    this.#fullRefresh = options.fullRefresh;
    this.#onShared = options.onShared;
    this.#database = `pulse_shared_${runId.replace(/[^0-9a-z]/gi, "").slice(0, 12)}`;
    if (warehouse.dialect.name !== "duckdb") return;
    const readersOf = new Map<string, string[]>();
    for (const id of order) {
      // The run's nodes are models it builds (never ephemeral ones), seeds (which read nothing) and tests.
      const node = project.nodes.get(id);
      if (node === undefined) continue;
      for (const parent of new Set(node.dependsOn)) {
        const view = project.nodes.get(parent);
        if (view?.resourceType !== "model" || view.config.materialized !== "view") continue;
        readersOf.set(parent, [...(readersOf.get(parent) ?? []), id]);
      }
    }
    for (const [viewId, readers] of readersOf) {
      if (readers.length < SHARE_MIN_READERS) continue;
      this.#views.set(viewId, {
        view: project.nodes.get(viewId) as ModelNode,
        pending: new Set(readers),
        onView: new Set(),
        unplanned: new Set(),
      });
      for (const reader of readers) this.#readers.set(reader, [...(this.#readers.get(reader) ?? []), viewId]);
    }
  }

  /** What `node` reads instead of its views, making the copies it needs first; undefined when nothing. */
  async readsFor(node: RunnableNode): Promise<ReadsFrom | undefined> {
    const reads = new Map<string, string>();
    for (const viewId of this.#readers.get(node.uniqueId) ?? []) {
      const shared = this.#views.get(viewId)!;
      shared.made ??= this.#make(shared);
      const name = await shared.made;
      if (name === undefined || shared.onView.has(node.uniqueId)) continue;
      // Planned again now that its other inputs exist: it reads the copy only if it scans the view.
      if (shared.unplanned.has(node.uniqueId) && (await this.#plan(await this.#compiled(node))) !== "scans")
        continue;
      reads.set(viewId, name);
    }
    return reads.size === 0 ? undefined : reads;
  }

  /** `node` has run or been skipped: drops each copy whose readers are all done (close waits for that). */
  done(nodeId: string): void {
    for (const viewId of this.#readers.get(nodeId) ?? []) {
      const shared = this.#views.get(viewId)!;
      shared.pending.delete(nodeId);
      if (shared.pending.size > 0 || shared.made === undefined) continue;
      const drop = shared.made.then((name) =>
        name === undefined ? undefined : this.#warehouse.query(`drop table if exists ${name}`),
      );
      this.#drops.push(drop.catch(() => {}));
    }
  }

  /** Detaches the run's in-memory database, with any copy left in it. */
  async close(): Promise<void> {
    await Promise.all(this.#drops);
    if (this.#attached === undefined) return;
    await this.#attached.catch(() => {});
    await this.#warehouse.query(`detach database if exists ${this.#quote(this.#database)}`).catch(() => {});
  }

  async #make(shared: Shared): Promise<string | undefined> {
    const warehouse = this.#warehouse;
    const relation = this.#compiler.relation(shared.view);
    const started = performance.now();
    try {
      const columns = (await warehouse.columns(relation)).map((column) => column.name);
      if (columns.length === 0) return undefined;
      const kept = await this.#columnsRead(shared, relation, columns);
      if (kept === undefined) return undefined;
      this.#attached ??= warehouse
        .query(`attach ':memory:' as ${this.#quote(this.#database)}`)
        .then(() => {});
      await this.#attached;
      // The view's own schema and name inside the run's database, so views of one name in two schemas differ.
      const schema = `${this.#quote(this.#database)}.${this.#quote(relation.schema)}`;
      await warehouse.query(`create schema if not exists ${schema}`);
      const name = `${schema}.${this.#quote(relation.name)}`;
      const list = kept.map((column) => warehouse.dialect.quoteIdentifier(column)).join(", ");
      const relationName = warehouse.dialect.relationName(relation);
      await warehouse.query(`create or replace table ${name} as select ${list} from ${relationName}`);
      this.#onShared?.({
        relationName,
        readers: shared.pending.size - shared.onView.size,
        columns: kept.length,
        ofColumns: columns.length,
        seconds: (performance.now() - started) / 1000,
      });
      return name;
    } catch {
      return undefined;
    }
  }

  /**
   * The view's columns its readers name, in the view's order. Readers whose plan on the view scans no
   * table (DuckDB answers them from statistics: a not_null test on a column without nulls) stay on the
   * view and add no column. A reader that cannot be planned yet (a relation it also reads is built later
   * in the run) adds its columns and is planned again when it runs. Undefined, sharing nothing, when a
   * reader cannot be parsed or fewer than SHARE_MIN_READERS may scan.
   */
  async #columnsRead(
    shared: Shared,
    relation: Relation,
    columns: readonly string[],
  ): Promise<string[] | undefined> {
    const names = new Set<string>();
    let all = false;
    let scanning = 0;
    for (const readerId of shared.pending) {
      const sql = await this.#compiled(this.#project.nodes.get(readerId)!);
      const plan = await this.#plan(sql);
      if (sql === undefined || plan === "empty") {
        shared.onView.add(readerId);
        continue;
      }
      if (plan === "fails") shared.unplanned.add(readerId);
      scanning++;
      const literal = this.#warehouse.dialect.quoteLiteral(sql);
      const result = await this.#warehouse.query(`select json_serialize_sql(${literal}) as tree`);
      const tree = JSON.parse(String(result.rows[0]?.tree ?? "{}")) as { error?: boolean };
      if (tree.error !== false) return undefined;
      if (namesIn(tree, names, relation)) all = true;
    }
    if (scanning < SHARE_MIN_READERS) return undefined;
    return all ? [...columns] : columns.filter((column) => names.has(column.toLowerCase()));
  }

  /** Whether DuckDB's plan for `sql` scans a table, scans none (answered from statistics), or cannot be made. */
  async #plan(sql: string | undefined): Promise<"scans" | "empty" | "fails"> {
    if (sql === undefined) return "fails";
    const plan = await this.#warehouse.query(`explain ${sql}`).catch(() => undefined);
    if (plan === undefined) return "fails";
    return plan.rows.some((row) => /\b(TABLE|SEQ)_SCAN\b/.test(String(row.explain_value)))
      ? "scans"
      : "empty";
  }

  /** A reader's SQL as it will run (an incremental model's branch decided as the run decides it). */
  async #compiled(node: RunnableNode): Promise<string | undefined> {
    try {
      if (node.resourceType === "test") return this.#compiler.compileTest(node);
      if (node.resourceType !== "model") return undefined;
      const incremental = await runsIncremental(node, this.#warehouse, this.#compiler, this.#fullRefresh);
      return this.#compiler.compileModel(node, incremental);
    } catch {
      return undefined;
    }
  }

  #quote(name: string): string {
    return this.#warehouse.dialect.quoteIdentifier(name);
  }
}

/**
 * Adds every string of a DuckDB parse tree to `names` (lower-cased): column names, USING columns,
 * aliases, and some that are not columns, which only keep a column more. True when the tree can read
 * columns of `view` that it does not name: a select whose FROM holds the view (beside joins) and that has
 * a star (`*`, `v.*`, COLUMNS(…)) or names the view itself as a column (a whole row), a NATURAL join, or the
 * view under anything but a join (a PIVOT, a table function).
 */
export function namesIn(tree: unknown, names: Set<string>, view: Relation): boolean {
  const viewName = view.name.toLowerCase();
  const schemaName = view.schema.toLowerCase();
  const isView = (ref: Record<string, unknown>): boolean =>
    ref.type === "BASE_TABLE" &&
    String(ref.table_name).toLowerCase() === viewName &&
    (ref.schema_name === "" || String(ref.schema_name).toLowerCase() === schemaName);
  let unnamed = false;
  /** The names the view goes by in a FROM clause; marks unnamed when it sits under something but a join. */
  const viewAliases = (ref: unknown, out: string[]): void => {
    if (ref === null || typeof ref !== "object") return;
    const node = ref as Record<string, unknown>;
    if (isView(node)) out.push(String(node.alias === "" ? node.table_name : node.alias).toLowerCase());
    else if (node.type === "JOIN") {
      if (node.ref_type === "NATURAL") unnamed ||= holdsView(node);
      viewAliases(node.left, out);
      viewAliases(node.right, out);
    } else if (node.type !== "SUBQUERY" && node.type !== "BASE_TABLE" && holdsView(node)) unnamed = true;
  };
  /** The view anywhere under a node, not counting inside a nested select. */
  const holdsView = (value: unknown): boolean => {
    if (value === null || typeof value !== "object") return false;
    if (Array.isArray(value)) return value.some(holdsView);
    const node = value as Record<string, unknown>;
    if (isView(node)) return true;
    if (node.type === "SELECT_NODE") return false;
    return Object.values(node).some(holdsView);
  };
  /** A star or a whole-row reference to one of `aliases` in a select's own expressions. */
  const readsAll = (value: unknown, aliases: readonly string[]): boolean => {
    if (value === null || typeof value !== "object") return false;
    if (Array.isArray(value)) return value.some((item) => readsAll(item, aliases));
    const node = value as Record<string, unknown>;
    if (node.type === "SELECT_NODE" || node.type === "SUBQUERY") return false;
    if (node.class === "STAR") return true;
    if (node.class === "COLUMN_REF" && Array.isArray(node.column_names) && node.column_names.length === 1)
      if (aliases.includes(String(node.column_names[0]).toLowerCase())) return true;
    return Object.values(node).some((item) => readsAll(item, aliases));
  };
  const walk = (value: unknown): void => {
    if (typeof value === "string") {
      names.add(value.toLowerCase());
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (value === null || typeof value !== "object") return;
    const node = value as Record<string, unknown>;
    if (node.type === "SELECT_NODE") {
      const aliases: string[] = [];
      viewAliases(node.from_table, aliases);
      if (aliases.length > 0) {
        const { from_table: _from, ...own } = node;
        if (Object.values(own).some((item) => readsAll(item, aliases))) unnamed = true;
      }
    }
    for (const [key, item] of Object.entries(node)) if (key !== "query_location") walk(item);
  };
  walk(tree);
  return unnamed;
}
