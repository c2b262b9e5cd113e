// The DuckDB warehouse: one database file (or :memory:), a small pool of connections, a dedicated one per transaction.

import {
  type DuckDBConnection,
  type DuckDBInstance,
  type DuckDBResultReader,
  StatementType,
} from "@duckdb/node-api";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type {
  Column,
  ColumnInfo,
  MergeStrategy,
  QueryResult,
  Relation,
  RelationInfo,
  RelationKind,
  Row,
  SqlValue,
  Warehouse,
  WarehouseSession,
} from "../index.ts";
import { appendRows, type TableColumn } from "./append.ts";
import { duckdbDialect as dialect } from "./dialect.ts";
import { duckdbError, statementHead } from "./errors.ts";
import { listColumns, listRelations } from "./introspect.ts";
import { bindParams, readValue } from "./values.ts";

/** Connections kept open between statements; more are opened while statements run concurrently. */
const IDLE_CONNECTIONS = 4;

export class DuckDbWarehouse implements Warehouse {
  readonly dialect = dialect;
  #instance: DuckDBInstance | undefined;
  readonly #idle: DuckDBConnection[] = [];
  readonly #busy = new Set<DuckDBConnection>();

  constructor(instance: DuckDBInstance) {
    this.#instance = instance;
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult> {
    return this.#withConnection((connection) => runQuery(connection, sql, params));
  }

  append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    return this.#withConnection((connection) => appendOn(connection, relation, columns, rows));
  }

  transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T> {
    return this.#withConnection((connection) => inTransaction(connection, work));
  }

  async createSchema(schema: string): Promise<void> {
    await this.query(`CREATE SCHEMA IF NOT EXISTS ${dialect.quoteIdentifier(schema)}`);
  }

  async createTable(relation: Relation, columns: readonly Column[]): Promise<void> {
    await this.createSchema(relation.schema);
    const list = columns
      .map(
        (column) =>
          `${dialect.quoteIdentifier(column.name)} ${dialect.typeName(column.type)}${column.nullable === false ? " NOT NULL" : ""}`,
      )
      .join(", ");
    await this.query(`CREATE TABLE IF NOT EXISTS ${dialect.relationName(relation)} (${list})`);
  }

  async replaceTable(relation: Relation, select: string): Promise<number> {
    await this.createSchema(relation.schema);
    // One statement, one transaction: a reader sees the old table until it commits, the new one after.
    const name = dialect.relationName(relation);
    return this.transaction(async (session) => {
      await session.query(`CREATE OR REPLACE TABLE ${name} AS ${select}`);
      const count = await session.query(`SELECT count(*) AS n FROM ${name}`);
      return Number(count.rows[0]?.n ?? 0);
    });
  }

  async replaceView(relation: Relation, select: string): Promise<void> {
    await this.createSchema(relation.schema);
    await this.query(`CREATE OR REPLACE VIEW ${dialect.relationName(relation)} AS ${select}`);
  }

  async mergeInto(
    relation: Relation,
    select: string,
    uniqueKey: readonly string[],
    strategy: MergeStrategy,
  ): Promise<number> {
    if (uniqueKey.length === 0)
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `merge into ${relation.schema}.${relation.name}: the unique key is empty.`,
      );
    const target = dialect.relationName(relation);
    const q = (name: string) => dialect.quoteIdentifier(name);
    return this.transaction(async (session) => {
      const staged = q(`__pulse_merge_${relation.name}`);
      await session.query(`CREATE OR REPLACE TEMP TABLE ${staged} AS ${select}`);
      const described = await session.query(`SELECT * FROM ${staged} LIMIT 0`);
      const columns = described.columns;
      const list = columns.map(q).join(", ");
      const on = uniqueKey.map((key) => `t.${q(key)} = s.${q(key)}`).join(" AND ");
      if (strategy === "merge") {
        // DuckDB's MERGE keeps the last of two source rows for one target row; PostgreSQL and BigQuery refuse.
        const keys = uniqueKey.map(q).join(", ");
        const twice = await session.query(
          `SELECT ${keys} FROM ${staged} GROUP BY ${keys} HAVING count(*) > 1 LIMIT 1`,
        );
        if (twice.rows.length > 0)
          throw new WarehouseError(
            WarehouseErrorCode.queryFailed,
            `merge into ${relation.schema}.${relation.name}: the select has more than one row for the key ${JSON.stringify(twice.rows[0])}; a merge needs one row per unique key (${uniqueKey.join(", ")}).`,
          );
      }
      let written: number;
      if (strategy === "merge") {
        const set = columns
          .filter((column) => !uniqueKey.includes(column))
          .map((column) => `${q(column)} = s.${q(column)}`)
          .join(", ");
        const update = set === "" ? "" : `WHEN MATCHED THEN UPDATE SET ${set} `;
        const merged = await session.query(
          `MERGE INTO ${target} AS t USING ${staged} AS s ON (${on}) ${update}WHEN NOT MATCHED THEN INSERT (${list}) VALUES (${columns.map((column) => `s.${q(column)}`).join(", ")})`,
        );
        written = merged.rowsAffected;
      } else {
        await session.query(
          `DELETE FROM ${target} AS t WHERE EXISTS (SELECT 1 FROM ${staged} AS s WHERE ${on})`,
        );
        const inserted = await session.query(`INSERT INTO ${target} (${list}) SELECT ${list} FROM ${staged}`);
        written = inserted.rowsAffected;
      }
      await session.query(`DROP TABLE ${staged}`);
      return written;
    });
  }

  async drop(relation: Relation, kind: RelationKind): Promise<void> {
    await this.query(
      `DROP ${kind === "view" ? "VIEW" : "TABLE"} IF EXISTS ${dialect.relationName(relation)}`,
    );
  }

  relations(schema: string): Promise<RelationInfo[]> {
    return this.#withConnection((connection) => listRelations(connection, schema));
  }

  columns(relation: Relation): Promise<ColumnInfo[]> {
    return this.#withConnection((connection) => listColumns(connection, relation));
  }

  async close(): Promise<void> {
    const instance = this.#instance;
    if (instance === undefined) return;
    this.#instance = undefined;
    for (const connection of [...this.#idle, ...this.#busy]) connection.closeSync();
    this.#idle.length = 0;
    this.#busy.clear();
    instance.closeSync();
  }

  async #withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = this.#instance;
    if (instance === undefined)
      throw new WarehouseError(WarehouseErrorCode.closed, "the DuckDB warehouse was used after close().");
    const connection = this.#idle.pop() ?? (await instance.connect());
    this.#busy.add(connection);
    try {
      return await work(connection);
    } finally {
      this.#busy.delete(connection);
      if (this.#instance !== undefined && this.#idle.length < IDLE_CONNECTIONS) this.#idle.push(connection);
      else connection.closeSync();
    }
  }
}

async function runQuery(
  connection: DuckDBConnection,
  sql: string,
  params: readonly SqlValue[],
): Promise<QueryResult> {
  let reader: DuckDBResultReader;
  try {
    const { values, types } = bindParams(params);
    reader = await connection.runAndReadAll(
      sql,
      values.length === 0 ? undefined : values,
      values.length === 0 ? undefined : types,
    );
  } catch (error) {
    throw duckdbError(error, statementHead(sql));
  }
  const columns = reader.columnNames();
  const typeIds = reader.columnTypes().map((type) => type.typeId);
  // DuckDB answers INSERT, UPDATE, DELETE, MERGE and CREATE TABLE AS with one row holding a "Count" column.
  if (reader.statementType !== StatementType.SELECT && columns.length === 1 && columns[0] === "Count") {
    const count = reader.getRows()[0]?.[0];
    return { columns: [], rows: [], rowsAffected: count === undefined || count === null ? 0 : Number(count) };
  }
  const rows: Row[] = reader.getRows().map((cells) => {
    const row: Row = {};
    cells.forEach((cell, index) => {
      row[columns[index]!] = readValue(cell, typeIds[index]!);
    });
    return row;
  });
  return { columns, rows, rowsAffected: reader.statementType === StatementType.SELECT ? 0 : rows.length };
}

async function appendOn(
  connection: DuckDBConnection,
  relation: Relation,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): Promise<number> {
  const described = await listColumns(connection, relation);
  if (described.length === 0)
    throw new WarehouseError(
      WarehouseErrorCode.queryFailed,
      `append to ${relation.schema}.${relation.name}: the table does not exist; create it first (createTable).`,
    );
  const tableColumns: TableColumn[] = described.map((column) => ({
    name: column.name,
    type: column.type ?? "string",
  }));
  try {
    return await appendRows(connection, relation, tableColumns, columns, rows);
  } catch (error) {
    throw duckdbError(error, `append to ${relation.schema}.${relation.name}`);
  }
}

async function inTransaction<T>(
  connection: DuckDBConnection,
  work: (session: WarehouseSession) => Promise<T>,
): Promise<T> {
  let open = true;
  const ended = () =>
    new WarehouseError(
      WarehouseErrorCode.closed,
      "a transaction's session was used after the transaction ended.",
    );
  const session: WarehouseSession = {
    query: async (sql, params = []) => {
      if (!open) throw ended();
      return runQuery(connection, sql, params);
    },
    append: async (relation, columns, rows) => {
      if (!open) throw ended();
      return appendOn(connection, relation, columns, rows);
    },
  };
  await runQuery(connection, "BEGIN TRANSACTION", []);
  try {
    const result = await work(session);
    open = false;
    await runQuery(connection, "COMMIT", []);
    return result;
  } catch (error) {
    open = false;
    await connection.run("ROLLBACK").catch(() => {});
    throw error;
  }
}
