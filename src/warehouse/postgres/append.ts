// Appending rows to a PostgreSQL table in bulk: multi-row INSERTs with bound parameters, each as large as the protocol allows.

/*
 * pg has no COPY FROM STDIN without the pg-copy-streams package, so rows go as
 *   INSERT INTO "schema"."table" ("a", "b") VALUES ($1, $2), ($3, $4), …
 * with as many rows a statement as fit under PostgreSQL's limit of 65535 bound parameters (the Bind
 * message counts them in 16 bits). The parameters are untyped; each takes its target column's type.
 * Several statements are atomic only inside a transaction: the warehouse wraps an append that needs more
 * than one in its own (warehouse.ts), a transaction's session runs them in the transaction it is in.
 */

import type { QueryResult as PgResult } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { Relation, SqlValue } from "../index.ts";
import { postgresDialect } from "./dialect.ts";
import { toWarehouseError } from "./errors.ts";
import type { Queryable } from "./session.ts";
import { toParam } from "./values.ts";

/** The most parameters one statement can bind. */
export const MAX_PARAMETERS = 65_535;

/** Rows of `width` values that one INSERT can carry. */
export function rowsPerStatement(width: number): number {
  return Math.max(1, Math.floor(MAX_PARAMETERS / width));
}

/** Throws PULSE_WAREHOUSE_BAD_ARGUMENT, before anything is written, when a row's width is not the columns'. */
export function checkAppend(
  relation: Relation,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): void {
  const name = postgresDialect.relationName(relation);
  if (columns.length === 0) {
    throw new WarehouseError(WarehouseErrorCode.badArgument, `An append to ${name} names no columns.`);
  }
  if (new Set(columns).size !== columns.length) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `An append to ${name} names a column twice: ${columns.join(", ")}.`,
    );
  }
  for (const column of columns) postgresDialect.quoteIdentifier(column);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.length !== columns.length) {
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `Row ${i} of an append to ${name} has ${rows[i]!.length} values for ${columns.length} columns (${columns.join(", ")}).`,
      );
    }
  }
}

/** The INSERT for `count` rows of the columns, its parameters numbered from $1. */
function insertText(prefix: string, width: number, count: number): string {
  const tuples: string[] = new Array(count);
  let n = 1;
  for (let row = 0; row < count; row++) {
    const slots: string[] = new Array(width);
    for (let column = 0; column < width; column++) slots[column] = `$${n++}`;
    tuples[row] = `(${slots.join(", ")})`;
  }
  return `${prefix}${tuples.join(", ")}`;
}

/**
 * Inserts every row on `db`, in statements of rowsPerStatement rows; returns the rows written. The caller
 * has checked the rows (checkAppend) and runs this in a transaction when it needs more than one statement.
 */
export async function appendRows(
  db: Queryable,
  relation: Relation,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
  url: string,
): Promise<number> {
  checkAppend(relation, columns, rows);
  const name = postgresDialect.relationName(relation);
  const prefix = `INSERT INTO ${name} (${columns.map(postgresDialect.quoteIdentifier).join(", ")}) VALUES `;
  const width = columns.length;
  const perStatement = rowsPerStatement(width);
  // Most appends repeat full chunks: build that statement's text once.
  const fullText = rows.length >= perStatement ? insertText(prefix, width, perStatement) : "";
  let written = 0;
  for (let start = 0; start < rows.length; start += perStatement) {
    const count = Math.min(perStatement, rows.length - start);
    const values: (string | number | boolean | null)[] = new Array(count * width);
    let v = 0;
    for (let row = start; row < start + count; row++) {
      for (const value of rows[row]!) values[v++] = toParam(value);
    }
    try {
      const result: PgResult = await db.query(
        count === perStatement ? fullText : insertText(prefix, width, count),
        values,
      );
      written += result.rowCount ?? 0;
    } catch (error) {
      throw toWarehouseError(error, `appending to ${name}`, url);
    }
  }
  return written;
}
