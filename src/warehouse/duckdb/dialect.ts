// How DuckDB spells identifiers, literals and the seam's column types.

import type { ColumnType, Dialect, Relation, SqlValue } from "../index.ts";
import { badValue } from "./values.ts";

const TYPE_NAMES: Readonly<Record<ColumnType, string>> = {
  string: "VARCHAR",
  int64: "BIGINT",
  float64: "DOUBLE",
  boolean: "BOOLEAN",
  date: "DATE",
  timestamp: "TIMESTAMP",
};

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export const duckdbDialect: Dialect = {
  name: "duckdb",
  quoteIdentifier,
  quoteLiteral: (value) => literal(value),
  relationName: (relation: Relation) =>
    `${quoteIdentifier(relation.schema)}.${quoteIdentifier(relation.name)}`,
  typeName: (type) => TYPE_NAMES[type],
};

/** 'text' with quotes doubled, numbers as written (negative ones in parentheses), TRUE/FALSE, NULL, TIMESTAMP '… UTC'. */
export function literal(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw badValue("literal", value);
    // In parentheses: after a minus, -5 would start a comment (1 --5).
    return value < 0 || Object.is(value, -0) ? `(${value})` : String(value);
  }
  if (value instanceof Date && Number.isFinite(value.getTime()))
    return `TIMESTAMP '${value.toISOString().replace("T", " ").replace("Z", "")}'`;
  throw badValue("literal", value);
}
