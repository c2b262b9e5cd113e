// The seam's `$n` parameters as BigQuery named parameters (`@p1`, …), found by a small GoogleSQL tokenizer.

/*
 * The tokenizer walks the text once and leaves alone everything that is not SQL code:
 *
 *   string literal     '…' "…" '''…''' """…""", with an optional r/b/rb/br prefix; a backslash takes the
 *                      next character along (a raw string cannot end in an odd number of backslashes either)
 *   quoted identifier  `…`, with backslash escapes
 *   comment            -- … and # … to the end of the line, /* … *\/
 *
 * In code, `$` followed by digits is parameter n; it becomes what `name(n)` says (`@p1`, or `NULL` for a
 * null value: BigQuery wants a type for every parameter, and a typed null, unlike the literal NULL, is not
 * coerced to a column of another type). Nothing else is rewritten.
 */

import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { SqlValue } from "../index.ts";
import { statementHead } from "./errors.ts";
import { type QueryParameter, queryParameter } from "./values.ts";

export interface RewrittenSql {
  sql: string;
  /** The parameter numbers (1-based) the text refers to, each once, ascending. */
  used: number[];
}

/** `sql` with each `$n` outside literals, quoted identifiers and comments written `name(n)` (`@pn` by default). */
export function rewriteParams(sql: string, name: (n: number) => string = (n) => `@p${n}`): RewrittenSql {
  let out = "";
  let from = 0;
  const used = new Set<number>();
  forEachCodeSpan(sql, (start, end) => {
    for (let i = start; i < end; i++) {
      if (sql[i] !== "$" || !isDigit(sql.charCodeAt(i + 1))) continue;
      let j = i + 1;
      while (j < end && isDigit(sql.charCodeAt(j))) j++;
      const n = Number(sql.slice(i + 1, j));
      used.add(n);
      out += `${sql.slice(from, i)}${name(n)}`;
      from = j;
      i = j - 1;
    }
  });
  out += sql.slice(from);
  return { sql: out, used: [...used].sort((a, b) => a - b) };
}

/**
 * `sql` with its `$n` bound: named parameters `@<prefix>n`, typed by their values, a null written NULL.
 * Throws badArgument for a `$n` with no value.
 */
export function bindParams(
  sql: string,
  params: readonly SqlValue[],
  prefix = "p",
): { sql: string; params: QueryParameter[] } {
  const rewritten = rewriteParams(sql, (n) => (params[n - 1] === null ? "NULL" : `@${prefix}${n}`));
  checkParams(rewritten.used, params.length, sql);
  return {
    sql: rewritten.sql,
    params: rewritten.used
      .filter((n) => params[n - 1] !== null)
      .map((n) => queryParameter(`${prefix}${n}`, params[n - 1]!, `parameter $${n}`)),
  };
}

/** The statement's first keyword in code, upper-cased ("SELECT", "WITH", "INSERT", …); "" when none. */
export function firstKeyword(sql: string): string {
  let keyword = "";
  forEachCodeSpan(sql, (start, end) => {
    if (keyword !== "") return;
    const match = /[A-Za-z_]+/.exec(sql.slice(start, end));
    if (match !== null) keyword = match[0].toUpperCase();
  });
  return keyword;
}

/** True for a statement that answers with rows (SELECT, WITH … SELECT, a parenthesised query). */
export function returnsRows(sql: string): boolean {
  const keyword = firstKeyword(sql);
  return keyword === "SELECT" || keyword === "WITH" || keyword === "FROM" || keyword === "VALUES";
}

/** Checks that every parameter the text uses was given; throws badArgument naming the first missing. */
export function checkParams(used: readonly number[], given: number, sql: string): void {
  const missing = used.find((n) => n < 1 || n > given);
  if (missing !== undefined)
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `the statement uses $${missing} but ${given} parameter${given === 1 ? " was" : "s were"} given: ${statementHead(sql)}`,
    );
}

/**
 * `sql` as one statement of a script: without trailing semicolons, then `;` (on a line of its own when
 * the text ends in a -- or # comment, which would swallow it).
 */
export function scriptStatement(sql: string): string {
  let text = sql.trim();
  while (text.endsWith(";")) text = text.slice(0, -1).trimEnd();
  let endsInLineComment = false;
  forEachCodeSpan(
    text,
    (start, end) => {
      if (end > start) endsInLineComment = false;
    },
    (kind) => {
      endsInLineComment = kind === "open-line-comment";
    },
  );
  return endsInLineComment ? `${text}\n;` : `${text};`;
}

/** What the tokenizer skipped: "open-line-comment" is a -- or # comment the text ends in, with no line break after it. */
type Skipped = "string" | "identifier" | "comment" | "open-line-comment";

/** Calls `code(start, end)` for each run of the text that is SQL code, and `skipped` for each other token, in order. */
function forEachCodeSpan(
  sql: string,
  code: (start: number, end: number) => void,
  skipped: (kind: Skipped) => void = () => {},
): void {
  let start = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    let skipTo = -1;
    let kind: Skipped = "string";
    if (c === "'" || c === '"') skipTo = endOfString(sql, i);
    else if (c === "`") {
      skipTo = endOfQuoted(sql, i + 1, "`");
      kind = "identifier";
    } else if (c === "#" || (c === "-" && sql[i + 1] === "-")) {
      const eol = sql.indexOf("\n", i);
      skipTo = eol === -1 ? n : eol + 1;
      kind = eol === -1 ? "open-line-comment" : "comment";
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      skipTo = close === -1 ? n : close + 2;
      kind = "comment";
    } else if (/[rRbB]/.test(c) && !isWordChar(sql.charCodeAt(i - 1))) {
      // A string prefix: r'…', b"…", rb'''…''', BR"…".
      let j = i + 1;
      if (/[rRbB]/.test(sql[j] ?? "") && sql[j]!.toLowerCase() !== c.toLowerCase()) j++;
      if (sql[j] === "'" || sql[j] === '"') {
        code(start, i);
        skipped("string");
        i = endOfString(sql, j);
        start = i;
        continue;
      }
    }
    if (skipTo === -1) {
      i++;
      continue;
    }
    code(start, i);
    skipped(kind);
    i = skipTo;
    start = i;
  }
  code(start, n);
}

/** The index after the string literal whose opening quote is at `at` (single or triple quoted). */
function endOfString(sql: string, at: number): number {
  const quote = sql[at]!;
  if (sql[at + 1] === quote && sql[at + 2] === quote) return endOfQuoted(sql, at + 3, quote.repeat(3));
  return endOfQuoted(sql, at + 1, quote);
}

/** The index after `close`, searching from `from`; a backslash takes the next character along. */
function endOfQuoted(sql: string, from: number, close: string): number {
  for (let i = from; i < sql.length; i++) {
    if (sql[i] === "\\") i++;
    else if (sql.startsWith(close, i)) return i + close.length;
  }
  return sql.length;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isWordChar(code: number): boolean {
  return isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}
