// What a DuckDB warehouse holds: the relations of a schema and the columns of a relation, from information_schema.

import type { DuckDBConnection } from "@duckdb/node-api";
import type { ColumnInfo, Relation, RelationInfo } from "../index.ts";

/** The tables and views of `schema` in the open database, sorted by name. */
export async function listRelations(connection: DuckDBConnection, schema: string): Promise<RelationInfo[]> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, table_type FROM information_schema.tables
      WHERE table_catalog = current_database() AND table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  return reader.getRows().map(([name, type]) => ({
    schema,
    name: String(name),
    kind: type === "VIEW" ? "view" : "table",
  }));
}

/** The columns of `relation`, in order; [] when it does not exist. */
export async function listColumns(connection: DuckDBConnection, relation: Relation): Promise<ColumnInfo[]> {
  // duckdb_columns() gives the type id as DuckDB's type name and the nullability the table declares.
  const reader = await connection.runAndReadAll(
    `SELECT column_name, data_type, is_nullable FROM duckdb_columns()
      WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2
      ORDER BY column_index`,
    [relation.schema, relation.name],
  );
  return reader.getRows().map(([name, databaseType, nullable]) => ({
    name: String(name),
    databaseType: String(databaseType),
    type: typeOfName(String(databaseType)),
    nullable: nullable === true,
  }));
}

/** The seam type of a DuckDB type name (VARCHAR, BIGINT, DECIMAL(18,3), TIMESTAMP WITH TIME ZONE, …). */
function typeOfName(name: string): ColumnInfo["type"] {
  const base = name.replace(/\(.*$/, "").trim().toUpperCase();
  if (base === "VARCHAR") return "string";
  if (base === "BOOLEAN") return "boolean";
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/.test(base))
    return "int64";
  if (/^(DOUBLE|FLOAT|DECIMAL)$/.test(base)) return "float64";
  if (base === "DATE") return "date";
  if (/^TIMESTAMP/.test(base)) return "timestamp";
  return undefined;
}
