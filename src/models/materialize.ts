// The run stage for one node: a model materialized, a seed loaded, a test's failures counted, all through the Warehouse seam.

/*
 *   view         replaceView (a table of that name is dropped first)
 *   table        replaceTable: built beside the old one and swapped in (a view of that name is dropped first)
 *   incremental  first run, --full-refresh, or a view in its place: as a table, with is_incremental() false;
 *                later: is_incremental() true, then mergeInto(unique_key, strategy) when it has a unique_key,
 *                else an insert of the select's rows (dbt's append). full_refresh: false keeps it incremental.
 *   seed         first run or --full-refresh: createTable + append; later: its rows deleted and appended
 *                again in one transaction, as dbt truncates and inserts
 *   test         select failures, should_warn, should_error from the test's query (dbt's get_test_sql);
 *                store_failures first writes the failing rows to <target>_dbt_test__audit.<test>
 */

import { ModelError, ModelErrorCode, type PulseError } from "../errors.ts";
import type { Relation, Warehouse } from "../warehouse/index.ts";
import { failuresSql } from "./generic-tests.ts";
import type { ModelNode, RunnableNode, SeedNode, TestNode } from "./nodes.ts";
import type { Compiler, ReadsFrom } from "./render.ts";
import { readSeed } from "./seeds.ts";

export type NodeStatus = "success" | "error" | "skipped" | "pass" | "fail" | "warn";

export interface Timing {
  name: "compile" | "execute";
  startedAt: Date;
  completedAt: Date;
}

export interface NodeOutcome {
  status: NodeStatus;
  message: string | null;
  failures: number | null;
  /** adapter_response: the statement's summary and the rows it wrote (-1 when it writes none, a view). */
  adapterMessage: string | undefined;
  rowsAffected: number | undefined;
  compiledCode: string | undefined;
  timing: Timing[];
  /** The error that made the status "error". */
  error: PulseError | undefined;
}

export interface MaterializeOptions {
  fullRefresh: boolean;
  /** Only render (pulse models compile): nothing is written. */
  compileOnly: boolean;
  /**
   * Relations to read instead of some refs' own (shared view results, src/models/shared-views.ts). The
   * compiled code kept for the artifacts names the refs' own relations, as dbt's does.
   */
  reads?: ReadsFrom;
}

async function existing(warehouse: Warehouse, relation: Relation): Promise<"table" | "view" | undefined> {
  const found = (await warehouse.relations(relation.schema)).find((r) => r.name === relation.name);
  return found?.kind;
}

/** Runs one node; every failure becomes an outcome with status "error", never a thrown error. */
export async function runNode(
  node: RunnableNode,
  warehouse: Warehouse,
  compiler: Compiler,
  options: MaterializeOptions,
): Promise<NodeOutcome> {
  const outcome: NodeOutcome = {
    status: "error",
    message: null,
    failures: null,
    adapterMessage: undefined,
    rowsAffected: undefined,
    compiledCode: undefined,
    timing: [],
    error: undefined,
  };
  let phase: Timing | undefined;
  const begin = (name: Timing["name"]): void => {
    phase = { name, startedAt: new Date(), completedAt: new Date() };
    outcome.timing.push(phase);
  };
  const end = (): void => {
    if (phase !== undefined) phase.completedAt = new Date();
    phase = undefined;
  };
  try {
    if (node.resourceType === "model")
      await runModel(node, warehouse, compiler, options, outcome, begin, end);
    else if (node.resourceType === "seed")
      await runSeed(node, warehouse, compiler, options, outcome, begin, end);
    else await runTest(node, warehouse, compiler, options, outcome, begin, end);
  } catch (error) {
    end();
    const pulseError =
      error instanceof ModelError
        ? error
        : new ModelError(
            ModelErrorCode.runFailed,
            `${node.originalFilePath}: ${node.resourceType} ${node.name} failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error, location: { file: node.originalFilePath } },
          );
    outcome.status = "error";
    outcome.message = pulseError.message;
    outcome.error = pulseError;
  }
  return outcome;
}

type Phase = (name: Timing["name"]) => void;

/** Whether a model runs its `is_incremental()` branch: an incremental model whose table exists, not fully refreshed. */
function incrementalRun(node: ModelNode, before: string | undefined, fullRefresh: boolean): boolean {
  return (
    node.config.materialized === "incremental" &&
    before === "table" &&
    !(node.config.fullRefresh ?? fullRefresh)
  );
}

/** incrementalRun with the warehouse asked whether the model's table exists now. */
export async function runsIncremental(
  node: ModelNode,
  warehouse: Warehouse,
  compiler: Compiler,
  fullRefresh: boolean,
): Promise<boolean> {
  if (node.config.materialized !== "incremental") return false;
  return incrementalRun(node, await existing(warehouse, compiler.relation(node)), fullRefresh);
}

async function runModel(
  node: ModelNode,
  warehouse: Warehouse,
  compiler: Compiler,
  options: MaterializeOptions,
  outcome: NodeOutcome,
  begin: Phase,
  end: () => void,
): Promise<void> {
  const relation = compiler.relation(node);
  const materialized = node.config.materialized;
  begin("compile");
  const before = materialized === "incremental" ? await existing(warehouse, relation) : undefined;
  const incremental = incrementalRun(node, before, options.fullRefresh);
  outcome.compiledCode = compiler.compileModel(node, incremental);
  const sql =
    options.reads === undefined
      ? outcome.compiledCode
      : compiler.compileModel(node, incremental, options.reads);
  end();
  if (options.compileOnly || materialized === "ephemeral") {
    outcome.status = "success";
    outcome.message = "compiled";
    return;
  }
  begin("execute");
  if (materialized === "view") {
    if ((await existing(warehouse, relation)) === "table") await warehouse.drop(relation, "table");
    await warehouse.replaceView(relation, sql);
    outcome.adapterMessage = "OK";
    outcome.rowsAffected = -1;
  } else if (!incremental) {
    const kind = before ?? (await existing(warehouse, relation));
    if (kind === "view") await warehouse.drop(relation, "view");
    outcome.rowsAffected = await warehouse.replaceTable(relation, sql);
    outcome.adapterMessage = "OK";
  } else if (node.config.uniqueKey !== undefined) {
    const strategy =
      node.config.incrementalStrategy ?? (warehouse.dialect.name === "bigquery" ? "merge" : "delete+insert");
    outcome.rowsAffected = await warehouse.mergeInto(relation, sql, node.config.uniqueKey, strategy);
    outcome.adapterMessage = "OK";
  } else {
    const columns = (await warehouse.columns(relation))
      .map((c) => warehouse.dialect.quoteIdentifier(c.name))
      .join(", ");
    const result = await warehouse.query(
      `insert into ${warehouse.dialect.relationName(relation)} (${columns})\nselect ${columns} from (\n${sql}\n) as dbt_incremental_source`,
    );
    outcome.rowsAffected = result.rowsAffected;
    outcome.adapterMessage = "OK";
  }
  end();
  outcome.status = "success";
  outcome.message = outcome.adapterMessage ?? "OK";
}

async function runSeed(
  node: SeedNode,
  warehouse: Warehouse,
  compiler: Compiler,
  options: MaterializeOptions,
  outcome: NodeOutcome,
  begin: Phase,
  end: () => void,
): Promise<void> {
  const relation = compiler.relation(node);
  begin("compile");
  const table = readSeed(node);
  end();
  if (options.compileOnly) {
    outcome.status = "success";
    outcome.message = "compiled";
    return;
  }
  begin("execute");
  const names = table.columns.map((column) => column.name);
  const kind = await existing(warehouse, relation);
  if (kind !== undefined && !options.fullRefresh && kind === "table") {
    outcome.rowsAffected = await warehouse.transaction(async (session) => {
      await session.query(`delete from ${warehouse.dialect.relationName(relation)}`);
      return session.append(relation, names, table.rows);
    });
  } else {
    if (kind !== undefined) await warehouse.drop(relation, kind);
    await warehouse.createTable(relation, table.columns);
    outcome.rowsAffected = await warehouse.append(relation, names, table.rows);
  }
  end();
  outcome.adapterMessage = `INSERT ${outcome.rowsAffected}`;
  outcome.message = outcome.adapterMessage;
  outcome.status = "success";
}

async function runTest(
  node: TestNode,
  warehouse: Warehouse,
  compiler: Compiler,
  options: MaterializeOptions,
  outcome: NodeOutcome,
  begin: Phase,
  end: () => void,
): Promise<void> {
  begin("compile");
  outcome.compiledCode = compiler.compileTest(node);
  const sql = options.reads === undefined ? outcome.compiledCode : compiler.compileTest(node, options.reads);
  end();
  if (options.compileOnly) {
    outcome.status = "success";
    outcome.message = "compiled";
    return;
  }
  begin("execute");
  const raw = node.config.raw;
  const limit = typeof raw.limit === "number" ? raw.limit : undefined;
  const failCalc = typeof raw.fail_calc === "string" ? raw.fail_calc : "count(*)";
  let counted = sql;
  if (node.config.storeFailures) {
    const audit = compiler.relation(node);
    await warehouse.replaceTable(audit, sql);
    counted = `select * from ${warehouse.dialect.relationName(audit)}`;
  }
  const result = await warehouse.query(
    failuresSql(counted, failCalc, node.config.warnIf, node.config.errorIf, limit),
  );
  end();
  const row = result.rows[0] ?? {};
  const failures = Number(row.failures ?? 0);
  const shouldWarn = row.should_warn === true;
  const shouldError = row.should_error === true;
  outcome.failures = failures;
  outcome.adapterMessage = "OK";
  outcome.rowsAffected = -1;
  const results = `Got ${failures} result${failures === 1 ? "" : "s"}`;
  if (node.config.severity === "error" && shouldError) {
    outcome.status = "fail";
    outcome.message = `${results}, configured to fail if ${node.config.errorIf}`;
  } else if (shouldWarn) {
    outcome.status = "warn";
    outcome.message = `${results}, configured to warn if ${node.config.warnIf}`;
  } else {
    outcome.status = "pass";
    outcome.message = null;
  }
}
