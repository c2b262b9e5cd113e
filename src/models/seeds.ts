// Seeds: a CSV file read (RFC 4180), its column types inferred as dbt's agate does or taken from column_types, its rows typed.

/*
 * Inference, per column, the first type every non-empty value fits (empty and "null" are NULL), in dbt's
 * order: integer → int64, number → float64, date (YYYY-MM-DD), datetime (YYYY-MM-DD hh:mm:ss, or ISO
 * 8601 with T, fractions and a zone) → timestamp, boolean (true/false, any case), else string. A column
 * with no values at all is an integer, as in dbt. `column_types` names a database type per column; it is
 * mapped to the seam's types (varchar/text → string, bigint/integer → int64, double/decimal → float64, …).
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import type { Column, ColumnType, SqlValue } from "../warehouse/index.ts";
import type { SeedNode } from "./nodes.ts";

export interface SeedTable {
  columns: Column[];
  rows: SqlValue[][];
}

/** Parses CSV text into rows of fields; quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRow = (): void => {
    row.push(field);
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
    field = "";
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === "\n") line++;
        field += ch;
      }
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRow();
      line++;
    } else field += ch;
  }
  if (quoted)
    throw new ModelError(
      ModelErrorCode.projectInvalid,
      `${file}:${line}: a quoted field is not closed. Close it with "`,
      { location: { file, line } },
    );
  if (field !== "" || row.length > 0) endRow();
  return rows;
}

const NULLS = new Set(["", "null"]);
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

const TESTS: Array<[ColumnType, (value: string) => boolean]> = [
  ["int64", (v) => INTEGER.test(v.replace(/,/g, ""))],
  ["float64", (v) => NUMBER.test(v.replace(/,/g, ""))],
  ["date", (v) => DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))],
  ["timestamp", (v) => DATETIME.test(v) && !Number.isNaN(timestampOf(v).getTime())],
  ["boolean", (v) => v.toLowerCase() === "true" || v.toLowerCase() === "false"],
];

function timestampOf(value: string): Date {
  const iso = value.replace(" ", "T");
  return new Date(/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`);
}

/** The seam's type for each column: dbt's agate inference. */
export function inferType(values: readonly string[]): ColumnType {
  const present = values.map((v) => v.trim()).filter((v) => !NULLS.has(v.toLowerCase()));
  for (const [type, fits] of TESTS) if (present.every(fits)) return type;
  return "string";
}

const DATABASE_TYPES: Array<[RegExp, ColumnType]> = [
  [/^(var)?char|^text$|^string$|^character|^nvarchar|^uuid$/, "string"],
  [/^(big|small|tiny|huge)?int(eger|\d+)?$|^long$/, "int64"],
  [/^(double|float|real|decimal|numeric|number|float64)/, "float64"],
  [/^bool(ean)?$/, "boolean"],
  [/^date$/, "date"],
  [/^(timestamp|datetime)/, "timestamp"],
];

/** A column_types entry (a database type name) as the seam's type; unknown names are an error at the seed. */
export function columnTypeOf(seed: SeedNode, column: string, databaseType: string): ColumnType {
  const normalized = databaseType.trim().toLowerCase();
  for (const [pattern, type] of DATABASE_TYPES) if (pattern.test(normalized)) return type;
  throw new ModelError(
    ModelErrorCode.projectInvalid,
    `${seed.originalFilePath}: column_types ${column}: '${databaseType}' is not a type the runner can load. Use varchar, bigint, double, boolean, date or timestamp`,
    { location: { file: seed.originalFilePath } },
  );
}

function convert(value: string, type: ColumnType): SqlValue {
  const v = value.trim();
  if (NULLS.has(v.toLowerCase())) return null;
  switch (type) {
    case "int64":
    case "float64":
      return Number(v.replace(/,/g, ""));
    case "boolean":
      return v.toLowerCase() === "true";
    case "date":
      return v;
    case "timestamp":
      return timestampOf(v);
    default:
      return value;
  }
}

/** The seed's columns (inferred or from column_types) and its rows typed for the warehouse. */
export function readSeed(seed: SeedNode): SeedTable {
  const records = parseCsv(seed.rawCode, seed.originalFilePath);
  const header = records[0];
  if (header === undefined)
    throw new ModelError(
      ModelErrorCode.projectInvalid,
      `${seed.originalFilePath}: the seed is empty. Give it a header line`,
      { location: { file: seed.originalFilePath, line: 1 } },
    );
  const names = header.map((name) => name.trim());
  const body = records.slice(1);
  body.forEach((record, i) => {
    if (record.length !== names.length) {
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${seed.originalFilePath}:${i + 2}: the row has ${record.length} fields, the header ${names.length}. Fix the row`,
        { location: { file: seed.originalFilePath, line: i + 2 } },
      );
    }
  });
  const columns: Column[] = names.map((name, index) => {
    const declared = seed.config.columnTypes[name];
    const type =
      declared === undefined
        ? inferType(body.map((record) => record[index]!))
        : columnTypeOf(seed, name, declared);
    return { name, type };
  });
  const rows = body.map((record) =>
    record.map((value, index) =>
      columns[index]!.type === "string" ? value : convert(value, columns[index]!.type),
    ),
  );
  // Strings: dbt's agate reads "" and "null" as NULL in text columns too.
  for (const row of rows) {
    row.forEach((value, index) => {
      if (
        columns[index]!.type === "string" &&
        typeof value === "string" &&
        NULLS.has(value.trim().toLowerCase())
      )
        row[index] = null;
    });
  }
  return { columns, rows };
}
