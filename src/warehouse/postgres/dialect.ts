// How PostgreSQL spells names, literals and the seam's column types.
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { ColumnType, Dialect, Relation, SqlValue } from "../index.ts";

/** PostgreSQL cuts a longer name to this many bytes (NAMEDATALEN - 1), silently; we refuse it instead. */
const MAX_NAME_BYTES = 63;

const TYPE_NAMES: Record<ColumnType, string> = {
  string: "text",
  int64: "bigint",
  float64: "double precision",
  boolean: "boolean",
  date: "date",
  timestamp: "timestamp",
};

/** Throws PULSE_WAREHOUSE_BAD_ARGUMENT for a name PostgreSQL cannot hold as it is. */
export function checkName(name: string, what = "name"): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new WarehouseError(WarehouseErrorCode.badArgument, `A PostgreSQL ${what} cannot be empty.`);
  }
  if (name.includes("\0")) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `The PostgreSQL ${what} ${JSON.stringify(name)} holds a NUL character, which PostgreSQL names cannot.`,
    );
  }
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `The PostgreSQL ${what} ${JSON.stringify(name)} is longer than ${MAX_NAME_BYTES} bytes, which PostgreSQL would cut; use a shorter one.`,
    );
  }
}

/** A timestamp literal's text: the Date's UTC wall-clock time, as a timestamp without time zone holds it. */
function timestampText(value: Date): string {
  if (Number.isNaN(value.getTime())) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      "An invalid Date (its time is NaN) has no literal.",
    );
  }
  return value.toISOString().replace("T", " ").replace("Z", "");
}

function quoteIdentifier(name: string): string {
  checkName(name);
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "'NaN'::double precision";
    if (!Number.isFinite(value))
      return value > 0 ? "'Infinity'::double precision" : "'-Infinity'::double precision";
    // In parentheses, so `a -${literal}` never becomes the comment `a --1`.
    return value < 0 ? `(${String(value)})` : String(value);
  }
  if (typeof value === "string") {
    if (value.includes("\0")) {
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        "A PostgreSQL text literal cannot hold a NUL character.",
      );
    }
    // standard_conforming_strings is on (the default since 9.1): a backslash is itself.
    return `'${value.replaceAll("'", "''")}'`;
  }
  if (value instanceof Date) return `TIMESTAMP '${timestampText(value)}'`;
  throw new WarehouseError(
    WarehouseErrorCode.badArgument,
    `A ${typeof value} is no SQL value: pass a string, number, boolean, Date or null.`,
  );
}

function relationName(relation: Relation): string {
  checkName(relation.schema, "schema name");
  checkName(relation.name, "relation name");
  return `${quoteIdentifier(relation.schema)}.${quoteIdentifier(relation.name)}`;
}

function typeName(type: ColumnType): string {
  const name = TYPE_NAMES[type];
  if (name === undefined) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `Unknown column type ${JSON.stringify(type)}; the seam's types are ${Object.keys(TYPE_NAMES).join(", ")}.`,
    );
  }
  return name;
}

export const postgresDialect: Dialect = {
  name: "postgres",
  quoteIdentifier,
  quoteLiteral,
  relationName,
  typeName,
};
