// What the Warehouse conformance suite's files share: the factory and traits types, unique schema names, awkward rows.
import { randomBytes } from "node:crypto";
import { expect, type TestContext } from "vitest";
import { WarehouseError } from "../../src/errors.ts";
import type { Column, Row, SqlValue, Warehouse } from "../../src/warehouse/index.ts";

/** Cases a warehouse may be unable to meet; it names them with the reason. */
export type WarehouseSkippableCase =
  /** A read on the warehouse while a transaction is open elsewhere does not see its writes. */
  | "isolation"
  /** Inside a transaction, a SELECT answers with rows and a write with the rows it wrote (BigQuery defers them to one script at commit). */
  | "reads in a transaction"
  /** Schema, table and column names with a double quote and a space. */
  | "quoted names"
  /** Readers running while replaceTable swaps the table in, over and over. */
  | "concurrent readers"
  /** mergeInto "merge" refusing a select with two rows for one key of the target (a cardinality violation in standard SQL MERGE, as on PostgreSQL and BigQuery). */
  | "merge duplicate keys";

export interface WarehouseTraits {
  /** Cases skipped, each with the reason the warehouse cannot meet it. */
  skip?: Partial<Record<WarehouseSkippableCase, string>>;
}

/**
 * Opens a warehouse for one case and registers its own cleanup on the test context (ctx.onTestFinished):
 * closing it, and dropping what the case made (a database, a file). It must stand a case that closes it
 * first.
 */
export type MakeWarehouse = (ctx: TestContext) => Promise<Warehouse>;

/** What the cases of a describe share: the traits, a way to open a warehouse and skip a case. */
export interface WarehouseCaseKit {
  make: MakeWarehouse;
  /** A test that skips, saying why, when the warehouse names it as a case it cannot meet. */
  caseIt: (skippable: WarehouseSkippableCase, title: string, fn: (ctx: TestContext) => Promise<void>) => void;
}

/** A schema name no other case uses. */
export function uniqueSchema(label = "c"): string {
  return `pulse_${label}_${randomBytes(5).toString("hex")}`;
}

/** The WarehouseError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<WarehouseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WarehouseError);
  return error as WarehouseError;
}

/** One column of every seam type, the first NOT NULL. */
export const EVERY_TYPE: readonly Column[] = [
  { name: "id", type: "int64", nullable: false },
  { name: "s", type: "string" },
  { name: "f", type: "float64" },
  { name: "b", type: "boolean" },
  { name: "d", type: "date" },
  { name: "ts", type: "timestamp" },
];

/** Rows of EVERY_TYPE with awkward values: quotes, backslashes, non-ASCII, negatives, fractions, pre-1970. */
export const AWKWARD_ROWS: readonly Row[] = [
  {
    id: 1,
    s: `it's "quoted" \\ back\\slash; 日本語 ü`,
    f: -0.125,
    b: true,
    d: "2026-02-28",
    ts: new Date(Date.UTC(2026, 1, 28, 23, 59, 59, 999)),
  },
  {
    id: -9_007_199_254_740_991,
    s: "",
    f: 12_345.678,
    b: false,
    d: "1969-07-20",
    ts: new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 500)),
  },
  { id: 9_007_199_254_740_991, s: "x", f: 1e-7, b: true, d: "2000-01-01", ts: new Date(0) },
  { id: 4, s: null, f: null, b: null, d: null, ts: null },
];

/** Strings a text format has to escape: separators, quotes, line ends, spaces at the ends, a NULL look-alike. */
export const AWKWARD_STRINGS: readonly string[] = [
  "a,b",
  'say "hi"',
  '"',
  '""',
  "line\nbreak",
  "cr\rlf\r\n",
  " padded ",
  "NULL",
  "\\N",
  "tab\there",
  "emoji 🎉 and ü",
  ",",
  "'",
];

/** The values of a row in EVERY_TYPE's column order. */
export function valuesOf(row: Row): SqlValue[] {
  return EVERY_TYPE.map((column) => row[column.name]!);
}
