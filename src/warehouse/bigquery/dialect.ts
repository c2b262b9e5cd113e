// How GoogleSQL spells identifiers, literals and the seam's column types; relations are `project`.`dataset`.`table`.

import type { ColumnType, Dialect, Relation, SqlValue } from "../index.ts";
import { badValue } from "./values.ts";

const TYPE_NAMES: Readonly<Record<ColumnType, string>> = {
  string: "STRING",
  int64: "INT64",
  float64: "FLOAT64",
  boolean: "BOOL",
  date: "DATE",
  timestamp: "TIMESTAMP",
};

/** Characters a GoogleSQL quoted literal or identifier writes as an escape sequence. */
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
  "\v": "\\v",
  "\u0007": "\\a",
};

/** The dialect of a warehouse in `projectId`: a relation's schema is a dataset of that project. */
export function bigqueryDialect(projectId: string): Dialect {
  return {
    name: "bigquery",
    quoteIdentifier: (name) => quoted(name, "`"),
    quoteLiteral: (value) => literal(value),
    relationName: (relation: Relation) =>
      `${quoted(projectId, "`")}.${quoted(relation.schema, "`")}.${quoted(relation.name, "`")}`,
    typeName: (type) => TYPE_NAMES[type],
  };
}

/** 'text' with backslash escapes, numbers as written (negative ones in parentheses), TRUE/FALSE, NULL, TIMESTAMP '…+00:00'. */
export function literal(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return quoted(value, "'");
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw badValue("literal", value);
    // In parentheses: after a minus, -5 would start a comment (1 --5).
    return value < 0 || Object.is(value, -0) ? `(${value})` : String(value);
  }
  if (value instanceof Date && Number.isFinite(value.getTime()))
    return `TIMESTAMP '${value.toISOString().replace("T", " ").replace("Z", "+00:00")}'`;
  throw badValue("literal", value);
}

/** `text` between `quote`s: the quote and backslash escaped, control characters as escape sequences. */
function quoted(text: string, quote: "'" | "`"): string {
  let out = quote;
  for (const char of text) {
    const sequence = ESCAPES[char];
    if (sequence !== undefined) out += sequence;
    else if (char === quote) out += `\\${quote}`;
    else if (char < " " || char === "\u007f") out += `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return out + quote;
}
