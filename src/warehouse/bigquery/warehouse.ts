// The BigQuery warehouse: statements as jobs.query, appends as load jobs, transactions as one script, relations as datasets' tables.

import type { BigQuery } from "@google-cloud/bigquery";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type {
  Column,
  ColumnInfo,
  Dialect,
  MergeStrategy,
  QueryResult,
  Relation,
  RelationInfo,
  RelationKind,
  SqlValue,
  Warehouse,
  WarehouseSession,
} from "../index.ts";
import type { BigQueryApi } from "./api.ts";
import { bigqueryDialect } from "./dialect.ts";
import { statementHead } from "./errors.ts";
import { fieldsFor, runLoadJob, toNdjson } from "./load.ts";
import { bindParams, scriptStatement } from "./params.ts";
import { runTransaction, STAGING_PREFIX } from "./transaction.ts";
import { columnTypeOf, type FieldSchema, googleSqlTypeName, readRows } from "./values.ts";

export class BigQueryWarehouse implements Warehouse {
  readonly dialect: Dialect;
  readonly #api: BigQueryApi;
  readonly #client: BigQuery;
  /** Datasets known to exist, so createTable does not ask again each time. */
  readonly #datasets = new Set<string>();
  #closed = false;

  constructor(client: BigQuery, api: BigQueryApi) {
    this.#client = client;
    this.#api = api;
    this.dialect = bigqueryDialect(api.projectId);
  }

  /** The project the warehouse's datasets are in. */
  get projectId(): string {
    return this.#api.projectId;
  }

  /** The dataset unqualified names resolve to (the URL's, monitoring_datalake by default). */
  get dataset(): string {
    return this.#api.defaultDataset;
  }

  async query(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult> {
    this.#checkOpen();
    const bound = bindParams(sql, params);
    const answer = await this.#api.query(bound.sql, bound.params, statementHead(sql));
    return {
      columns: answer.fields.map((field) => field.name),
      rows: readRows(answer.fields, answer.rows),
      rowsAffected: answer.rowsAffected,
    };
  }

  async append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    this.#checkOpen();
    const what = `append to ${relation.schema}.${relation.name}`;
    const fields = fieldsFor(relation, await this.#tableFields(relation, what), columns);
    const ndjson = toNdjson(relation, fields, rows);
    if (rows.length === 0) return 0;
    await runLoadJob(
      this.#client,
      relation.schema,
      relation.name,
      ndjson,
      { writeDisposition: "WRITE_APPEND", location: this.#api.location },
      what,
    );
    return rows.length;
  }

  async transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T> {
    this.#checkOpen();
    return runTransaction(
      {
        api: this.#api,
        client: this.#client,
        dialect: this.dialect,
        tableFields: (relation, what) => this.#tableFields(relation, what),
      },
      work,
    );
  }

  async createSchema(schema: string): Promise<void> {
    this.#checkOpen();
    if (this.#datasets.has(schema)) return;
    await this.#api.ensureDataset(schema, `create the dataset ${schema}`);
    this.#datasets.add(schema);
  }

  async createTable(relation: Relation, columns: readonly Column[]): Promise<void> {
    await this.createSchema(relation.schema);
    const list = columns
      .map(
        (column) =>
          `${this.dialect.quoteIdentifier(column.name)} ${this.dialect.typeName(column.type)}${column.nullable === false ? " NOT NULL" : ""}`,
      )
      .join(", ");
    await this.query(`CREATE TABLE IF NOT EXISTS ${this.dialect.relationName(relation)} (${list})`);
  }

  async replaceTable(relation: Relation, select: string): Promise<number> {
    await this.createSchema(relation.schema);
    // CREATE OR REPLACE swaps the new table in atomically; the script then counts what it holds.
    const name = this.dialect.relationName(relation);
    const answer = await this.#script(
      [
        scriptStatement(`CREATE OR REPLACE TABLE ${name} AS\n${select}`),
        `SELECT COUNT(*) AS n FROM ${name};`,
      ],
      `replace the table ${relation.schema}.${relation.name}`,
    );
    return Number(answer.rows[0]?.n ?? 0);
  }

  async replaceView(relation: Relation, select: string): Promise<void> {
    await this.createSchema(relation.schema);
    await this.#script(
      [scriptStatement(`CREATE OR REPLACE VIEW ${this.dialect.relationName(relation)} AS\n${select}`)],
      `replace the view ${relation.schema}.${relation.name}`,
    );
  }

  async mergeInto(
    relation: Relation,
    select: string,
    uniqueKey: readonly string[],
    strategy: MergeStrategy,
  ): Promise<number> {
    this.#checkOpen();
    const where = `merge into ${relation.schema}.${relation.name}`;
    if (uniqueKey.length === 0)
      throw new WarehouseError(WarehouseErrorCode.badArgument, `${where}: the unique key is empty.`);
    // As dbt's BigQuery adapter does, the columns written are the target's (the select must have them).
    const columns = (await this.#tableFields(relation, where)).map((field) => field.name);
    const q = (name: string) => this.dialect.quoteIdentifier(name);
    const target = this.dialect.relationName(relation);
    const list = columns.map(q).join(", ");
    const on = uniqueKey.map((key) => `t.${q(key)} = s.${q(key)}`).join(" AND ");
    if (strategy === "merge") {
      const keys = new Set(uniqueKey.map((key) => key.toLowerCase()));
      const set = columns
        .filter((column) => !keys.has(column.toLowerCase()))
        .map((column) => `${q(column)} = s.${q(column)}`)
        .join(", ");
      const update = set === "" ? "" : `WHEN MATCHED THEN UPDATE SET ${set}\n`;
      const merged = await this.#script(
        [
          `MERGE INTO ${target} AS t\nUSING (\n${select}\n) AS s\nON ${on}\n${update}WHEN NOT MATCHED THEN INSERT (${list}) VALUES (${columns.map((column) => `s.${q(column)}`).join(", ")});`,
        ],
        where,
      );
      return merged.rowsAffected;
    }
    // delete+insert: the select runs once, into a temporary table; the delete and the insert commit together.
    const written = await this.#script(
      [
        "DECLARE pulse_rows_written INT64 DEFAULT 0;",
        scriptStatement(`CREATE TEMP TABLE _pulse_merge_source AS\n${select}`),
        "BEGIN TRANSACTION;",
        `DELETE FROM ${target} AS t WHERE EXISTS (SELECT 1 FROM _pulse_merge_source AS s WHERE ${on});`,
        `INSERT INTO ${target} (${list}) SELECT ${list} FROM _pulse_merge_source;`,
        "SET pulse_rows_written = @@row_count;",
        "COMMIT TRANSACTION;",
        "SELECT pulse_rows_written AS n;",
      ],
      where,
    );
    return Number(written.rows[0]?.n ?? 0);
  }

  async drop(relation: Relation, kind: RelationKind): Promise<void> {
    try {
      await this.query(
        `DROP ${kind === "view" ? "VIEW" : "TABLE"} IF EXISTS ${this.dialect.relationName(relation)}`,
      );
    } catch (error) {
      // IF EXISTS does not cover a missing dataset, which holds nothing to drop either.
      if (error instanceof WarehouseError && error.details.status === 404) return;
      throw error;
    }
  }

  async relations(schema: string): Promise<RelationInfo[]> {
    this.#checkOpen();
    const tables = await this.#api.listTables(schema, `list the tables of ${schema}`);
    return (tables ?? [])
      .filter((table) => !table.id.startsWith(STAGING_PREFIX))
      .map(
        (table): RelationInfo => ({
          schema,
          name: table.id,
          kind: table.type === "VIEW" || table.type === "MATERIALIZED_VIEW" ? "view" : "table",
        }),
      )
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async columns(relation: Relation): Promise<ColumnInfo[]> {
    this.#checkOpen();
    const table = await this.#api.getTable(
      relation.schema,
      relation.name,
      `describe ${relation.schema}.${relation.name}`,
    );
    return (table?.schema?.fields ?? []).map((field) => {
      const repeated = field.mode === "REPEATED";
      const name = googleSqlTypeName(field.type);
      return {
        name: field.name,
        databaseType: repeated ? `ARRAY<${name}>` : name,
        type: repeated ? undefined : columnTypeOf(field.type),
        nullable: field.mode !== "REQUIRED",
      };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Runs statements as one script (one job); its rows are those of the last statement. */
  async #script(statements: readonly string[], what: string): Promise<QueryResult> {
    this.#checkOpen();
    const answer = await this.#api.query(statements.join("\n"), [], what);
    return {
      columns: answer.fields.map((field) => field.name),
      rows: readRows(answer.fields, answer.rows),
      rowsAffected: answer.rowsAffected,
    };
  }

  /** The table's columns; queryFailed when it does not exist. */
  async #tableFields(relation: Relation, what: string): Promise<FieldSchema[]> {
    const table = await this.#api.getTable(relation.schema, relation.name, what);
    if (table === undefined)
      throw new WarehouseError(
        WarehouseErrorCode.queryFailed,
        `${what}: the table does not exist in project ${this.projectId}; create it first (createTable).`,
      );
    if (table.type !== undefined && table.type !== "TABLE")
      throw new WarehouseError(
        WarehouseErrorCode.queryFailed,
        `${what}: ${relation.schema}.${relation.name} is a ${table.type.toLowerCase()}, not a table.`,
      );
    return table.schema?.fields ?? [];
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new WarehouseError(WarehouseErrorCode.closed, "the BigQuery warehouse was used after close().");
  }
}
