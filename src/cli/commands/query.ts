// `pulse query "<SQL>" [--json|--csv]`: one statement on the configured warehouse, printed as a table, JSON lines or CSV.

import { runQuery } from "../../app/batch.ts";
import { UsageError } from "../../errors.ts";
import type { QueryResult, SqlValue } from "../../warehouse/index.ts";
import { configFromFlags, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";

const OPTIONS = { csv: { type: "boolean" } } as const;

/** Rows a table prints before it says how many more there are. */
const TABLE_ROWS = 1000;

export const queryCommand: Command = {
  summary: "run one SQL statement on the warehouse (DuckDB by default) and print its rows",
  usage: 'pulse query "<SQL>" [--json | --csv] [--data-dir <dir>] [--config <file>]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs("query", argv, OPTIONS);
    if (positionals.length !== 1 || positionals[0]!.trim() === "")
      throw new UsageError(`pulse query needs one SQL statement in quotes, e.g. pulse query "select 42"`);
    if (values.json && values.csv) throw new UsageError("--json and --csv cannot be used together");
    const result = await runQuery(configFromFlags(values), positionals[0]!);
    if (values.json) {
      for (const row of result.rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    } else if (values.csv) {
      process.stdout.write(csvOf(result));
    } else {
      process.stdout.write(tableOf(result));
    }
    return 0;
  },
};

/** RFC 4180: a header line, then each row; fields quoted when they hold a comma, quote or line break. */
export function csvOf(result: QueryResult): string {
  const field = (value: SqlValue): string => {
    const text = textOf(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [result.columns.map((name) => field(name)).join(",")];
  for (const row of result.rows) lines.push(result.columns.map((name) => field(row[name] ?? null)).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function tableOf(result: QueryResult): string {
  if (result.columns.length === 0) return `${result.rowsAffected} rows affected\n`;
  const shown = result.rows.slice(0, TABLE_ROWS);
  const cells = shown.map((row) => result.columns.map((name) => textOf(row[name] ?? null, "NULL")));
  const widths = result.columns.map((name, i) =>
    Math.max(name.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const out = [line(result.columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  const more = result.rows.length - shown.length;
  out.push(
    more > 0
      ? `(${result.rows.length} rows, ${more} not shown; use --csv or --json for all)`
      : `(${result.rows.length} rows)`,
  );
  return `${out.join("\n")}\n`;
}

function textOf(value: SqlValue, nullText = ""): string {
  if (value === null) return nullText;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
