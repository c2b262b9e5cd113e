// Keeps the error catalog whole: each code in one table, every code the sources use in it, docs/errors.md made from it.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { describeConfig } from "./config/index.ts";
import { isToolVariable } from "./config/schema.ts";
import {
  ConfigError,
  ERROR_CATALOG,
  PulseError,
  type PulseErrorCode,
  SourceError,
  StoreErrorCode,
} from "./errors.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CATALOG_SOURCE = readFileSync(new URL("./errors.ts", import.meta.url), "utf8");

interface Table {
  area: string;
  name: string;
  doc: string;
  codes: Array<{ key: string; code: string; doc: string }>;
}

/** The text of the /** … *\/ comment right before `node`, on one line; "" when there is none. */
function docOf(node: ts.Node, text: string): string {
  const ranges = ts.getLeadingCommentRanges(text, node.pos) ?? [];
  const last = ranges[ranges.length - 1];
  if (last === undefined) return "";
  const comment = text.slice(last.pos, last.end);
  if (!comment.startsWith("/**")) return "";
  return comment
    .slice(3, -2)
    .split("\n")
    .map((line) => line.replace(/^\s*\*?\s?/, "").trim())
    .filter((line) => line !== "")
    .join(" ");
}

/** Reads the tables of src/errors.ts with their comments, in the order ERROR_CATALOG lists the areas. */
function readTables(): Table[] {
  const file = ts.createSourceFile("errors.ts", CATALOG_SOURCE, ts.ScriptTarget.ES2022, true);
  const declarations = new Map<string, { statement: ts.Statement; literal: ts.ObjectLiteralExpression }>();
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      let init = declaration.initializer;
      if (init !== undefined && ts.isAsExpression(init)) init = init.expression;
      if (init !== undefined && ts.isObjectLiteralExpression(init) && ts.isIdentifier(declaration.name)) {
        declarations.set(declaration.name.text, { statement, literal: init });
      }
    }
  }
  const catalog = declarations.get("ERROR_CATALOG")!.literal;
  return catalog.properties.map((area) => {
    if (!ts.isPropertyAssignment(area) || !ts.isIdentifier(area.initializer)) {
      throw new TypeError("ERROR_CATALOG: every area names a table");
    }
    const name = area.initializer.text;
    const { statement, literal } = declarations.get(name)!;
    return {
      area: (area.name as ts.Identifier).text,
      name,
      doc: docOf(statement, CATALOG_SOURCE),
      codes: literal.properties.map((entry) => {
        if (!ts.isPropertyAssignment(entry) || !ts.isStringLiteral(entry.initializer)) {
          throw new TypeError(`${name}: every entry is a string literal`);
        }
        const key = (entry.name as ts.Identifier).text;
        return { key, code: entry.initializer.text, doc: docOf(entry, CATALOG_SOURCE) };
      }),
    };
  });
}

/** docs/errors.md, as the catalog says it. */
function renderCatalog(tables: Table[]): string {
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from src/errors.ts by src/errors.test.ts; after changing the catalog, run",
    "     `npx vitest run src/errors.test.ts -u` to write this file again. -->",
    "",
    "Every error Pulse reports carries a stable code from one catalog, `src/errors.ts`: the CLI prints",
    "it after the message (`… [PULSE_CONFIG_INVALID]`), the HTTP API answers",
    '`{"error": {"code", "message"}}`, and a dead letter keeps it in `error_code`. Codes are a',
    "contract: one is never renamed or reused, so scripts and dashboards may match on them. Besides its",
    "code, an error carries `retriable` (the same operation may succeed later), `details` (machine-readable,",
    "never secrets or payloads), its `cause`, and, for a problem in a file the user wrote (a key in",
    "`pulse.config.yaml`), a `location` (`file`, `line`, `column`).",
    "",
    `${tables.reduce((n, t) => n + t.codes.length, 0)} codes in ${tables.length} areas:`,
    "",
    "| area | table | codes |",
    "| --- | --- | --- |",
    ...tables.map((t) => `| [${t.area}](#${t.area}) | \`${t.name}\` | ${t.codes.length} |`),
  ];
  for (const table of tables) {
    lines.push("", `## ${table.area}`, "", table.doc, "", "| code | meaning |", "| --- | --- |");
    for (const { code, doc } of table.codes) lines.push(`| \`${code}\` | ${doc.replaceAll("|", "\\|")} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** Quoted PULSE_* strings in the TypeScript files under `dir`. */
function quotedPulseNames(dir: string): Set<string> {
  const names = new Set<string>();
  for (const name of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!name.endsWith(".ts")) continue;
    const text = readFileSync(join(dir, name), "utf8");
    for (const match of text.matchAll(/["'`](PULSE_[A-Z0-9_]+)["'`]/g)) names.add(match[1]!);
  }
  return names;
}

const codes = Object.values(ERROR_CATALOG).flatMap((table) => Object.values(table) as string[]);

describe("the error catalog", () => {
  const tables = readTables();

  it("reads the same tables from the source as the module exports", () => {
    const read = tables.map((t) => [t.area, Object.fromEntries(t.codes.map((c) => [c.key, c.code]))]);
    expect(Object.fromEntries(read)).toEqual(ERROR_CATALOG);
  });

  it("holds each code once, in the PULSE_ form, each with a one-line meaning", () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^PULSE_[A-Z][A-Z0-9_]*$/);
    for (const table of tables) {
      expect(table.doc, table.name).not.toBe("");
      for (const { code, doc } of table.codes) expect(doc, code).not.toBe("");
    }
  });

  it("knows every PULSE_ code the sources and tests use (the other PULSE_ names are variables)", () => {
    const variables = new Set(["PULSE_CONFIG", ...describeConfig().flatMap((row) => row.env ?? [])]);
    const used = new Set([...quotedPulseNames(join(ROOT, "src")), ...quotedPulseNames(join(ROOT, "test"))]);
    const unknown = [...used].filter(
      (name) =>
        !variables.has(name) &&
        !codes.includes(name) &&
        !isToolVariable(name) &&
        !["PULSE_BENCH_", "PULSE_TEST_"].includes(name),
    );
    expect(unknown).toEqual([]);
  });

  it("generates docs/errors.md", async () => {
    await expect(renderCatalog(tables)).toMatchFileSnapshot("../docs/errors.md");
  });
});

describe("PulseError", () => {
  it("keeps its code, flags, cause and location", () => {
    const cause = new Error("disk full");
    const error = new PulseError(StoreErrorCode.storage, "failed", {
      retriable: true,
      cause,
      details: { file: "x.db" },
      location: { file: "x.db", line: 3 },
    });
    expect(error).toMatchObject({ code: "PULSE_STORE_STORAGE", retriable: true, cause });
    expect(error.details).toEqual({ file: "x.db" });
    expect(error.location).toEqual({ file: "x.db", line: 3 });
  });

  it("fixes the code of a configuration error and has no location unless given one", () => {
    const error = new ConfigError("bad");
    expect(error.code).toBe("PULSE_CONFIG_INVALID");
    expect(error.location).toBeUndefined();
    expect(new SourceError("PULSE_SOURCE_BAD_OPTION", "x").retriable).toBe(false);
  });

  it("takes only catalog codes", () => {
    // @ts-expect-error: a code that is not in the catalog fails the type-check.
    const code: PulseErrorCode = `PULSE_${"NOT_A_CODE"}`;
    expect(codes).not.toContain(code);
  });
});
