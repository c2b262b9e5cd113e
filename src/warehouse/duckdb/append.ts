// Bulk appends into a DuckDB table through its appender, a data chunk (up to 2,048 rows) at a time.

import {
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBTimestampValue,
  type DuckDBType,
  type DuckDBValue,
} from "@duckdb/node-api";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { ColumnType, Relation, SqlValue } from "../index.ts";
import { badValue, DUCKDB_TYPES, dateOf } from "./values.ts";

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;

export interface TableColumn {
  name: string;
  type: ColumnType;
}

/**
 * Appends `rows` (values in `columns` order) to `relation`, whose columns are `tableColumns`; columns the
 * rows do not name get NULL. Runs on `connection`, so inside its transaction when one is open.
 */
export async function appendRows(
  connection: DuckDBConnection,
  relation: Relation,
  tableColumns: readonly TableColumn[],
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): Promise<number> {
  const where = `append to ${relation.schema}.${relation.name}`;
  const sourceIndex = tableColumns.map((column) => columns.indexOf(column.name));
  const unknown = columns.filter((name) => !tableColumns.some((column) => column.name === name));
  if (unknown.length > 0)
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `${where}: the table has no column ${unknown.map((name) => `'${name}'`).join(", ")}; its columns are ${tableColumns.map((c) => c.name).join(", ")}.`,
    );
  if (rows.length === 0) return 0;
  const types: DuckDBType[] = tableColumns.map((column) => DUCKDB_TYPES[column.type]);
  const convert = tableColumns.map((column) => converterFor(column, where));
  const appender = await connection.createAppender(relation.name, relation.schema);
  try {
    for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
      const end = Math.min(rows.length, start + CHUNK_ROWS);
      const chunk = DuckDBDataChunk.create(types, end - start);
      for (let r = start; r < end; r++) {
        if (rows[r]!.length !== columns.length)
          throw new WarehouseError(
            WarehouseErrorCode.badArgument,
            `${where}: row ${r} has ${rows[r]!.length} values for ${columns.length} columns.`,
          );
      }
      const vectors: DuckDBValue[][] = tableColumns.map((_, c) => {
        const from = sourceIndex[c]!;
        const out = new Array<DuckDBValue>(end - start).fill(null);
        if (from === -1) return out;
        const toDuckDb = convert[c]!;
        for (let r = start; r < end; r++) {
          const value = rows[r]![from];
          if (value !== null && value !== undefined) out[r - start] = toDuckDb(value, r);
        }
        return out;
      });
      chunk.setColumns(vectors);
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return rows.length;
}

type Converter = (value: SqlValue, row: number) => DuckDBValue;

function converterFor(column: TableColumn, where: string): Converter {
  const at = (row: number) => `${where}, row ${row}, column '${column.name}'`;
  switch (column.type) {
    case "string":
      return (value, row) => {
        if (typeof value !== "string") throw badValue(`${at(row)} (string)`, value);
        return value;
      };
    case "int64":
      return (value, row) => {
        if (typeof value !== "number" || !Number.isSafeInteger(value))
          throw badValue(`${at(row)} (int64)`, value);
        return BigInt(value);
      };
    case "float64":
      return (value, row) => {
        if (typeof value !== "number" || !Number.isFinite(value))
          throw badValue(`${at(row)} (float64)`, value);
        return value;
      };
    case "boolean":
      return (value, row) => {
        if (typeof value !== "boolean") throw badValue(`${at(row)} (boolean)`, value);
        return value;
      };
    case "date":
      return (value, row) => dateOf(value, `${at(row)} (date)`);
    case "timestamp":
      return (value, row) => {
        if (!(value instanceof Date) || !Number.isFinite(value.getTime()))
          throw badValue(`${at(row)} (timestamp)`, value);
        return new DuckDBTimestampValue(BigInt(value.getTime()) * 1000n);
      };
  }
}
