// BigQuery values ↔ the seam's SqlValue: typed query parameters, result cells in the REST API's f/v shape, NDJSON load cells.

/*
 * Result cells arrive as text in `{f: [{v: …}]}` rows, typed by the response's schema:
 *   INTEGER/INT64, FLOAT/FLOAT64, NUMERIC, BIGNUMERIC  "42", "1.5", "NaN"            → number
 *   BOOLEAN/BOOL                                      "true" / "false"               → boolean
 *   DATE                                              "2026-01-02"                   → the same string
 *   TIMESTAMP   int64 microseconds ("1767312000123456", formatOptions.useInt64Timestamp), float
 *               seconds ("1.767312000123456E9", the default) or ISO 8601                → Date (ms, UTC)
 *   anything else (STRING, DATETIME, TIME, BYTES as base64, JSON, GEOGRAPHY)           → the text
 *   RECORD and REPEATED                                                                → JSON text
 */

import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { ColumnType, Row, SqlValue } from "../index.ts";

/** A column of a table or a result, as the REST API describes it (TableFieldSchema). */
export interface FieldSchema {
  name: string;
  type: string;
  mode?: "NULLABLE" | "REQUIRED" | "REPEATED" | string;
  fields?: FieldSchema[];
}

/** A cell and a row in the REST API's shape. */
export interface Cell {
  v: unknown;
}
export interface FvRow {
  f: Cell[];
}

/** A named query parameter in the REST API's shape (QueryParameter). */
export interface QueryParameter {
  name: string;
  parameterType: { type: string };
  parameterValue: { value: string | null };
}

/**
 * The parameter for `value`: text STRING, an integral number INT64, another finite number FLOAT64,
 * boolean BOOL, a Date TIMESTAMP. A null still needs a type; it goes as a STRING, which BigQuery coerces
 * where another type is expected.
 */
export function queryParameter(name: string, value: SqlValue, where: string): QueryParameter {
  const param = (type: string, text: string | null): QueryParameter => ({
    name,
    parameterType: { type },
    parameterValue: { value: text },
  });
  if (value === null) return param("STRING", null);
  if (typeof value === "string") return param("STRING", value);
  if (typeof value === "boolean") return param("BOOL", value ? "true" : "false");
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return param("INT64", String(value));
    if (Number.isFinite(value)) return param("FLOAT64", String(value));
    throw badValue(where, value);
  }
  if (value instanceof Date && Number.isFinite(value.getTime()))
    return param("TIMESTAMP", value.toISOString());
  throw badValue(where, value);
}

/** The rows of a response as seam rows, keyed by the schema's column names. */
export function readRows(fields: readonly FieldSchema[], rows: readonly FvRow[]): Row[] {
  return rows.map((row) => {
    const out: Row = {};
    fields.forEach((field, index) => {
      const value = decodeField(field, row.f[index]?.v ?? null);
      out[field.name] = isScalar(value) ? value : JSON.stringify(value);
    });
    return out;
  });
}

/** The seam type of a REST type name (legacy or GoogleSQL spelling); undefined for one it does not map. */
export function columnTypeOf(type: string): ColumnType | undefined {
  switch (type.toUpperCase()) {
    case "STRING":
      return "string";
    case "INTEGER":
    case "INT64":
      return "int64";
    case "FLOAT":
    case "FLOAT64":
    case "NUMERIC":
    case "BIGNUMERIC":
      return "float64";
    case "BOOLEAN":
    case "BOOL":
      return "boolean";
    case "DATE":
      return "date";
    case "TIMESTAMP":
      return "timestamp";
    default:
      return undefined;
  }
}

/** The GoogleSQL name of a REST type name: INTEGER → INT64, FLOAT → FLOAT64, BOOLEAN → BOOL, RECORD → STRUCT. */
export function googleSqlTypeName(type: string): string {
  const upper = type.toUpperCase();
  return { INTEGER: "INT64", FLOAT: "FLOAT64", BOOLEAN: "BOOL", RECORD: "STRUCT" }[upper] ?? upper;
}

/**
 * A row value as an NDJSON cell for a column of REST type `type`: numbers and booleans as JSON, a
 * TIMESTAMP as ISO 8601 (UTC), a DATE as 'YYYY-MM-DD' (a Date gives its UTC day). Throws badArgument
 * for a value the column cannot hold.
 */
export function jsonCell(value: SqlValue, type: string, where: string): unknown {
  if (value === null) return null;
  switch (columnTypeOf(type)) {
    case "int64":
      if (typeof value !== "number" || !Number.isSafeInteger(value))
        throw badValue(`${where} (INT64)`, value);
      return value;
    case "float64":
      if (typeof value !== "number" || !Number.isFinite(value)) throw badValue(`${where} (FLOAT64)`, value);
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw badValue(`${where} (BOOL)`, value);
      return value;
    case "date":
      if (value instanceof Date && Number.isFinite(value.getTime())) return value.toISOString().slice(0, 10);
      if (typeof value !== "string" || !isDay(value)) throw badValue(`${where} (DATE)`, value);
      return value;
    case "timestamp":
      if (!(value instanceof Date) || !Number.isFinite(value.getTime()))
        throw badValue(`${where} (TIMESTAMP)`, value);
      return value.toISOString();
    case "string":
      if (typeof value !== "string") throw badValue(`${where} (STRING)`, value);
      return value;
    default:
      // A type the seam does not map (DATETIME, JSON, …): text as written, anything else as JSON would.
      if (value instanceof Date) {
        if (!Number.isFinite(value.getTime())) throw badValue(where, value);
        return value.toISOString();
      }
      if (typeof value === "number" && !Number.isFinite(value)) throw badValue(where, value);
      return value;
  }
}

/** A TIMESTAMP cell as a Date: int64 microseconds, float seconds (plain or E notation), or ISO 8601. */
export function timestampOfCell(text: string): Date {
  if (/^-?\d+$/.test(text)) {
    const micros = BigInt(text);
    // Floor division, so an instant before 1970 keeps its millisecond.
    const ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
    return new Date(Number(ms));
  }
  if (/^-?\d*\.?\d+(?:[eE][+-]?\d+)?$/.test(text)) {
    const micros = Math.round(Number(text) * 1e6);
    return new Date(Math.floor(micros / 1000));
  }
  return new Date(text);
}

function decodeField(field: FieldSchema, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (field.mode === "REPEATED" && Array.isArray(v))
    return v.map((item: Cell) => decodeScalarOrRecord(field, item?.v ?? null));
  return decodeScalarOrRecord(field, v);
}

function decodeScalarOrRecord(field: FieldSchema, v: unknown): unknown {
  if (v === null) return null;
  const type = field.type.toUpperCase();
  if (type === "RECORD" || type === "STRUCT") {
    const record: Record<string, unknown> = {};
    const cells = (v as FvRow).f ?? [];
    (field.fields ?? []).forEach((sub, index) => {
      record[sub.name] = decodeField(sub, cells[index]?.v ?? null);
    });
    return record;
  }
  const text = String(v);
  switch (columnTypeOf(type)) {
    case "int64":
    case "float64":
      return Number(text);
    case "boolean":
      return text.toLowerCase() === "true";
    case "timestamp":
      return timestampOfCell(text);
    default:
      return text;
  }
}

function isScalar(value: unknown): value is SqlValue {
  return value === null || typeof value !== "object" || value instanceof Date;
}

function isDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
}

export function badValue(where: string, value: unknown): WarehouseError {
  const shown = value instanceof Date ? "an invalid Date" : value === null ? "null" : typeof value;
  return new WarehouseError(
    WarehouseErrorCode.badArgument,
    `${where}: ${shown} is not a value for it; use a string, a finite number, a boolean, a valid Date or null (a DATE as 'YYYY-MM-DD').`,
  );
}
