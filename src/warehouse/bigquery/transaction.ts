// A Warehouse transaction on BigQuery: appends staged by load jobs, statements deferred, all committed by one script.

/*
 * BigQuery has multi-statement transactions only inside one script, and a load job cannot join one. So a
 * transaction session keeps the seam's guarantee this way:
 *
 *   append(t, rows)  loads the rows into a staging table of its own beside t (`_pulse_staging_<tx>_<n>`,
 *                    made with t's columns and a one-day expiry, filled by a WRITE_TRUNCATE load job),
 *                    and records the step "INSERT INTO t (cols) SELECT cols FROM staging";
 *   query(sql)       records the statement, its `$n` parameters renamed `@s<step>_p<n>` so the steps'
 *                    parameters cannot collide; it answers with no rows and rowsAffected 0. A statement
 *                    that returns rows (SELECT, WITH …) cannot wait for the commit: badArgument.
 *
 * When work resolves, one script job runs
 *
 *   BEGIN TRANSACTION; <the steps, in the order they were called>; COMMIT TRANSACTION;
 *
 * and the staging tables are deleted, whether it committed or not. A statement that fails in the script
 * ends it with the transaction open, and BigQuery rolls it back: nothing of it is visible. When work
 * throws, no script runs. Until the commit, readers see none of it (the rows wait in staging tables).
 * A process killed before its commit leaves staging tables, which expire by themselves.
 */

import { randomUUID } from "node:crypto";
import type { BigQuery } from "@google-cloud/bigquery";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { Dialect, QueryResult, Relation, SqlValue, WarehouseSession } from "../index.ts";
import type { BigQueryApi } from "./api.ts";
import { statementHead } from "./errors.ts";
import { fieldsFor, runLoadJob, toNdjson } from "./load.ts";
import { bindParams, returnsRows, scriptStatement } from "./params.ts";
import type { FieldSchema, QueryParameter } from "./values.ts";

/** Staging tables are named with this prefix; relations() leaves them out. */
export const STAGING_PREFIX = "_pulse_staging_";
const STAGING_TTL_MS = 24 * 3_600_000;

/** What a transaction needs of its warehouse. */
export interface TransactionHost {
  api: BigQueryApi;
  client: BigQuery;
  dialect: Dialect;
  /** The table's columns (tables.get); throws queryFailed when it does not exist. */
  tableFields(relation: Relation, what: string): Promise<FieldSchema[]>;
}

interface Step {
  sql: string;
  params: QueryParameter[];
}

/** Runs `work` in one transaction (see the header). */
export async function runTransaction<T>(
  host: TransactionHost,
  work: (session: WarehouseSession) => Promise<T>,
): Promise<T> {
  const tx = new StagedTransaction(host);
  try {
    const result = await work(tx.session);
    await tx.commit();
    return result;
  } finally {
    tx.end();
    await tx.dropStaging();
  }
}

class StagedTransaction {
  readonly #host: TransactionHost;
  readonly #id = randomUUID().replaceAll("-", "").slice(0, 16);
  /** The steps, by call order; an append's slot is filled once its load job is done. */
  readonly #steps: (Step | undefined)[] = [];
  readonly #staging: Relation[] = [];
  /** Appends whose load job has not ended yet. */
  #loading = 0;
  #open = true;

  constructor(host: TransactionHost) {
    this.#host = host;
  }

  readonly session: WarehouseSession = {
    query: async (sql, params = []) => this.#query(sql, params),
    append: async (relation, columns, rows) => this.#append(relation, columns, rows),
  };

  async commit(): Promise<void> {
    this.#checkOpen();
    this.#open = false;
    if (this.#loading > 0)
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        "the transaction's work resolved while an append was still loading; await every append before returning.",
      );
    const steps = this.#steps.filter((step): step is Step => step !== undefined);
    if (steps.length === 0) return;
    const script = [
      "BEGIN TRANSACTION;",
      ...steps.map((step) => scriptStatement(step.sql)),
      "COMMIT TRANSACTION;",
    ].join("\n");
    await this.#host.api.query(
      script,
      steps.flatMap((step) => step.params),
      `commit a transaction of ${steps.length} step${steps.length === 1 ? "" : "s"}`,
    );
  }

  end(): void {
    this.#open = false;
  }

  /** Deletes the staging tables; a failure here leaves them to their expiry rather than hide the outcome. */
  async dropStaging(): Promise<void> {
    await Promise.all(
      this.#staging.map((table) =>
        this.#host.api
          .deleteTable(table.schema, table.name, `drop the staging table ${table.schema}.${table.name}`)
          .catch(() => {}),
      ),
    );
  }

  #query(sql: string, params: readonly SqlValue[]): QueryResult {
    this.#checkOpen();
    if (returnsRows(sql))
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `a statement that returns rows cannot run inside a BigQuery transaction (${statementHead(sql)}): its statements are deferred to one script at commit; run the query before transaction() or after it resolves.`,
      );
    this.#steps.push(bindParams(sql, params, `s${this.#steps.length + 1}_p`));
    return { columns: [], rows: [], rowsAffected: 0 };
  }

  async #append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    this.#checkOpen();
    // The step's place is taken now, so concurrent appends keep the order they were called in.
    const slot = this.#steps.length;
    this.#steps.push(undefined);
    this.#loading++;
    try {
      return await this.#stage(slot, relation, columns, rows);
    } finally {
      this.#loading--;
    }
  }

  async #stage(
    slot: number,
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    const what = `append to ${relation.schema}.${relation.name}`;
    const fields = fieldsFor(relation, await this.#host.tableFields(relation, what), columns);
    const ndjson = toNdjson(relation, fields, rows);
    if (rows.length === 0) return 0;
    const staging: Relation = { schema: relation.schema, name: `${STAGING_PREFIX}${this.#id}_${slot + 1}` };
    this.#staging.push(staging);
    const { api, client, dialect } = this.#host;
    await api.insertTable(staging.schema, staging.name, fields, Date.now() + STAGING_TTL_MS, what);
    await runLoadJob(
      client,
      staging.schema,
      staging.name,
      ndjson,
      { writeDisposition: "WRITE_TRUNCATE", fields, location: api.location },
      what,
    );
    const list = fields.map((field) => dialect.quoteIdentifier(field.name)).join(", ");
    this.#steps[slot] = {
      sql: `INSERT INTO ${dialect.relationName(relation)} (${list}) SELECT ${list} FROM ${dialect.relationName(staging)}`,
      params: [],
    };
    return rows.length;
  }

  #checkOpen(): void {
    if (!this.#open)
      throw new WarehouseError(WarehouseErrorCode.closed, "a transaction's session was used after it ended.");
  }
}
