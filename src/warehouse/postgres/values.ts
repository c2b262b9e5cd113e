// How values cross the PostgreSQL seam: the text a column arrives as → SqlValue, and a SqlValue → the text bound to a parameter.

/*
 * Results come in PostgreSQL's text format (DateStyle ISO, TimeZone UTC: connection.ts sets both):
 *   int2 int4 int8 oid float4 float8 numeric  →  number (int8 and numeric past 2^53 lose precision)
 *   bool 't' | 'f'                            →  boolean
 *   date 'YYYY-MM-DD'                         →  that string, as it is (never a Date at local midnight)
 *   timestamp 'YYYY-MM-DD HH:MM:SS[.ffffff]'  →  Date, read as UTC, cut to milliseconds
 *   timestamptz '…[.ffffff]+HH[:MM[:SS]]'     →  Date at that instant, cut to milliseconds
 *   anything else (json, arrays, uuid, …)     →  the text PostgreSQL prints
 * A timestamp outside what a Date holds ('infinity', BC years) stays text.
 */

import type { CustomTypesConfig } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { SqlValue } from "../index.ts";

/** PostgreSQL's type oids (pg_type.oid) that get a parser of their own. */
const OID = {
  bool: 16,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
} as const;

const NUMERIC = new Set<number>([OID.int8, OID.int2, OID.int4, OID.oid, OID.float4, OID.float8, OID.numeric]);

const TIMESTAMP =
  /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/;

/**
 * A timestamp's text as a Date: the instant its offset names, or UTC when it has none (a timestamp
 * without time zone holds UTC wall-clock time in Pulse). Text a Date cannot hold comes back as it is.
 */
export function parseTimestamp(text: string): Date | string {
  const match = TIMESTAMP.exec(text);
  if (match === null) return text;
  const [
    ,
    year,
    month,
    day,
    hour,
    minute,
    second,
    fraction,
    sign,
    offsetHours,
    offsetMinutes,
    offsetSeconds,
  ] = match;
  const ms = fraction === undefined ? 0 : Number(fraction.padEnd(3, "0").slice(0, 3));
  let epochMs = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    ms,
  );
  // Date.UTC reads years 0–99 as 1900–1999.
  if (Number(year) < 100) epochMs = new Date(epochMs).setUTCFullYear(Number(year));
  if (sign !== undefined) {
    const offsetMs =
      (Number(offsetHours) * 3600 + Number(offsetMinutes ?? 0) * 60 + Number(offsetSeconds ?? 0)) * 1000;
    epochMs += sign === "+" ? -offsetMs : offsetMs;
  }
  return new Date(epochMs);
}

function identity(text: string): string {
  return text;
}

/** The parser of a result column's text, by its type's oid. */
export function parserFor(oid: number): (text: string) => SqlValue {
  if (NUMERIC.has(oid)) return Number;
  switch (oid) {
    case OID.bool:
      return (text) => text === "t";
    case OID.timestamp:
    case OID.timestamptz:
      return parseTimestamp;
    default:
      // date ('YYYY-MM-DD') and every type the seam does not map keep their text.
      return identity;
  }
}

/**
 * The pool's type parsers (pg's `types` option): every column goes through parserFor, so a value never
 * arrives as a local-time Date, a bigint string or a parsed JSON object. pg asks with a format; results
 * are always text here.
 */
export const TYPE_PARSERS: CustomTypesConfig = {
  getTypeParser: ((oid: number) => parserFor(oid)) as CustomTypesConfig["getTypeParser"],
};

/**
 * A parameter as pg sends it. A Date goes as its UTC ISO text: a timestamp without time zone ignores
 * the "Z" and stores the UTC wall-clock time, a timestamptz reads it as the instant it is (pg itself
 * would send the process's local time).
 */
export function toParam(value: SqlValue): string | number | boolean | null {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        "A parameter is an invalid Date (its time is NaN).",
      );
    }
    return value.toISOString();
  }
  if (
    value === null ||
    typeof value === "string" ||
    typeof value === "number" ||
    typeof value === "boolean"
  ) {
    return value;
  }
  throw new WarehouseError(
    WarehouseErrorCode.badArgument,
    `A parameter is a ${typeof value}, which is no SQL value: pass a string, number, boolean, Date or null.`,
  );
}

/** The parameters of a statement, as pg sends them. */
export function toParams(values: readonly SqlValue[]): (string | number | boolean | null)[] {
  return values.map(toParam);
}
