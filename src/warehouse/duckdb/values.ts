// DuckDB values ↔ the seam's SqlValue: how parameters are bound and how result cells read back.

import {
  BIGINT,
  BOOLEAN,
  DATE,
  DOUBLE,
  DuckDBDateValue,
  type DuckDBDecimalValue,
  type DuckDBTimestampMillisecondsValue,
  type DuckDBTimestampNanosecondsValue,
  type DuckDBTimestampSecondsValue,
  type DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
  TIMESTAMP,
  VARCHAR,
} from "@duckdb/node-api";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { ColumnType, SqlValue } from "../index.ts";

/** The DuckDB type of each seam type. */
export const DUCKDB_TYPES: Readonly<Record<ColumnType, DuckDBType>> = {
  string: VARCHAR,
  int64: BIGINT,
  float64: DOUBLE,
  boolean: BOOLEAN,
  date: DATE,
  timestamp: TIMESTAMP,
};

/** The type a parameter is bound as: an integral number as BIGINT, other numbers as DOUBLE, a Date as TIMESTAMP. */
export function bindParams(params: readonly SqlValue[]): { values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  params.forEach((value, index) => {
    if (value === null) {
      values.push(null);
      types.push(VARCHAR);
    } else if (typeof value === "string") {
      values.push(value);
      types.push(VARCHAR);
    } else if (typeof value === "boolean") {
      values.push(value);
      types.push(BOOLEAN);
    } else if (typeof value === "number") {
      if (Number.isSafeInteger(value)) {
        values.push(BigInt(value));
        types.push(BIGINT);
      } else if (Number.isFinite(value)) {
        values.push(value);
        types.push(DOUBLE);
      } else throw badValue(`parameter $${index + 1}`, value);
    } else if (value instanceof Date) {
      values.push(timestampOf(value, `parameter $${index + 1}`));
      types.push(TIMESTAMP);
    } else throw badValue(`parameter $${index + 1}`, value);
  });
  return { values, types };
}

/** A Date as DuckDB's TIMESTAMP (microseconds since the epoch, UTC). */
export function timestampOf(value: Date, where: string): DuckDBTimestampValue {
  const ms = value.getTime();
  if (!Number.isFinite(ms)) throw badValue(where, value);
  return new DuckDBTimestampValue(BigInt(ms) * 1000n);
}

const MS_PER_DAY = 86_400_000;

/** A 'YYYY-MM-DD' string (or a Date, its UTC day) as DuckDB's DATE. */
export function dateOf(value: SqlValue, where: string): DuckDBDateValue {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === "string"
        ? Date.parse(`${value}T00:00:00Z`)
        : Number.NaN;
  if (!Number.isFinite(ms) || (typeof value === "string" && !/^\d{4}-\d{2}-\d{2}$/.test(value)))
    throw badValue(where, value);
  return new DuckDBDateValue(Math.floor(ms / MS_PER_DAY));
}

/** A result cell as a SqlValue, by its column's type. */
export function readValue(value: DuckDBValue, typeId: DuckDBTypeId): SqlValue {
  if (value === null) return null;
  switch (typeId) {
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return value as string | number | boolean;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
      return Number(value as bigint);
    case DuckDBTypeId.DECIMAL:
      return (value as DuckDBDecimalValue).toDouble();
    case DuckDBTypeId.DATE:
      return (value as DuckDBDateValue).toString();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new Date(Number((value as DuckDBTimestampValue | DuckDBTimestampTZValue).micros / 1000n));
    case DuckDBTypeId.TIMESTAMP_MS:
      return new Date(Number((value as DuckDBTimestampMillisecondsValue).millis));
    case DuckDBTypeId.TIMESTAMP_S:
      return new Date(Number((value as DuckDBTimestampSecondsValue).seconds) * 1000);
    case DuckDBTypeId.TIMESTAMP_NS:
      return new Date(Number((value as DuckDBTimestampNanosecondsValue).nanos / 1_000_000n));
    default:
      return typeof value === "object" ? String(value) : (value as string | number | boolean);
  }
}

export function badValue(where: string, value: unknown): WarehouseError {
  const shown = value instanceof Date ? "an invalid Date" : typeof value;
  return new WarehouseError(
    WarehouseErrorCode.badArgument,
    `${where}: ${shown} is not a SQL value; use a string, a finite number, a boolean, a valid Date or null.`,
  );
}
