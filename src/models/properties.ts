// Properties files (models/**/*.yml, version 2): sources and their tables, model and seed patches, and generic test declarations.

/*
 * A test entry, under `data_tests:` or `tests:` (not both) of a model, a column, a source table or a seed:
 *   - not_null                              a name
 *   - unique: {config: {severity: warn}}    a name and its arguments; config keys (severity, where, …) may
 *                                           also sit beside the arguments, or under `config:`
 *   - accepted_values: {arguments: {values: [a, b]}}   dbt 1.10's `arguments:` form
 *   - {test_name: unique, name: my_name}    the test under `test_name`, with a custom node name
 * A namespaced test (`dbt_utils.x`) or one the runner does not have is an error at its line.
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import { type ConfigLayer, isRecord, layerOf } from "./configs.ts";
import type { ColumnDoc, SourceLocation } from "./nodes.ts";
import { parseYaml, type YamlValue } from "./yaml-file.ts";

export const GENERIC_TESTS = ["not_null", "unique", "accepted_values", "relationships"] as const;
export type GenericTestName = (typeof GENERIC_TESTS)[number];

/** Config keys a test entry may carry beside its arguments (dbt's CONFIG_ARGS). */
const TEST_CONFIG_ARGS = new Set([
  "severity",
  "tags",
  "enabled",
  "where",
  "limit",
  "warn_if",
  "error_if",
  "fail_calc",
  "store_failures",
  "store_failures_as",
  "meta",
  "database",
  "schema",
  "alias",
]);

/** What a generic test is attached to: a model or seed by name, or a source table. */
export type TestTarget = { kind: "node"; name: string } | { kind: "source"; source: string; table: string };

export interface TestDeclaration {
  test: GenericTestName;
  target: TestTarget;
  columnName: string | undefined;
  /** The arguments other than column_name and model (values, quote, to, field). */
  args: Record<string, unknown>;
  customName: string | undefined;
  config: ConfigLayer;
  at: SourceLocation;
  /** The properties file, relative to the project root. */
  file: string;
}

export interface NodePatch {
  kind: "models" | "seeds";
  name: string;
  description: string;
  columns: Record<string, ColumnDoc>;
  config: ConfigLayer;
  file: string;
  at: SourceLocation;
}

export interface SourceTableDecl {
  sourceName: string;
  name: string;
  schema: string;
  identifier: string;
  database: string | undefined;
  description: string;
  sourceDescription: string;
  loader: string;
  columns: Record<string, ColumnDoc>;
  tags: string[];
  meta: Record<string, unknown>;
  enabled: boolean;
  file: string;
  at: SourceLocation;
}

export interface PropertiesFile {
  patches: NodePatch[];
  sources: SourceTableDecl[];
  tests: TestDeclaration[];
}

/** Top-level keys that would define things the runner does not build: an error, never skipped. */
const UNSUPPORTED_KEYS: Record<string, string> = {
  unit_tests: "unit tests",
  snapshots: "snapshots",
  semantic_models: "semantic models",
  metrics: "metrics",
  saved_queries: "saved queries",
};
/** Top-level keys that only document: read and left alone. */
const DOC_KEYS = new Set([
  "version",
  "models",
  "sources",
  "seeds",
  "macros",
  "exposures",
  "groups",
  "analyses",
  "data_tests",
]);

export function parsePropertiesFile(file: string, text: string): PropertiesFile {
  const doc = parseYaml(file, text);
  const out: PropertiesFile = { patches: [], sources: [], tests: [] };
  if (!doc.present) return out;
  if (!doc.isMap())
    throw doc.fail("expected a mapping (version: 2, models:, sources:)", "Start the file with `version: 2`");
  for (const [key, value] of doc.entries()) {
    if (key in UNSUPPORTED_KEYS)
      throw new ModelError(
        ModelErrorCode.unsupported,
        `${file}:${value.line}: ${key}: ${UNSUPPORTED_KEYS[key]} are not supported by Pulse's runner. Remove them from the file`,
        {
          location: { file, line: value.line },
        },
      );
    if (!DOC_KEYS.has(key))
      throw value.fail("is not a properties key", "Use models, sources, seeds, macros or exposures");
  }
  const version = doc.get("version");
  if (version.present && version.string() !== "2")
    throw version.fail("only version 2 exists", "Write `version: 2`");

  for (const kind of ["models", "seeds"] as const) {
    for (const entry of doc.get(kind).items()) {
      const name = entry.get("name").requiredString(`Name the ${kind.slice(0, -1)} this entry describes`);
      if (entry.get("versions").present)
        throw new ModelError(
          ModelErrorCode.unsupported,
          `${file}:${entry.get("versions").line}: model versions are not supported by Pulse's runner. Remove versions:`,
          {
            location: { file, line: entry.get("versions").line },
          },
        );
      const target: TestTarget = { kind: "node", name };
      out.patches.push({
        kind,
        name,
        description: entry.get("description").string() ?? "",
        columns: columnsOf(entry, target, out.tests),
        config: configLayer(entry.get("config")),
        file,
        at: { file, line: entry.line },
      });
      out.tests.push(...testsOf(entry, target, undefined));
    }
  }

  for (const source of doc.get("sources").items()) {
    const sourceName = source.get("name").requiredString("Name the source, e.g. `name: raw`");
    const sourceConfig = source.get("config");
    const sourceEnabled = sourceConfig.get("enabled").boolean() ?? true;
    for (const table of source.get("tables").items()) {
      const name = table.get("name").requiredString("Name the table, e.g. `name: user_activity`");
      const target: TestTarget = { kind: "source", source: sourceName, table: name };
      out.sources.push({
        sourceName,
        name,
        schema: source.get("schema").string() ?? sourceName,
        identifier: table.get("identifier").string() ?? name,
        database: source.get("database").string(),
        description: table.get("description").string() ?? "",
        sourceDescription: source.get("description").string() ?? "",
        loader: source.get("loader").string() ?? "",
        columns: columnsOf(table, target, out.tests),
        tags: [...source.get("tags").stringList(), ...table.get("tags").stringList()],
        meta: {
          ...((source.get("meta").js() as Record<string, unknown>) ?? {}),
          ...((table.get("meta").js() as Record<string, unknown>) ?? {}),
        },
        enabled: sourceEnabled && (table.get("config").get("enabled").boolean() ?? true),
        file,
        at: { file, line: table.line },
      });
      out.tests.push(...testsOf(table, target, undefined));
    }
  }
  return out;
}

function configLayer(value: YamlValue): ConfigLayer {
  if (!value.present) return new Map();
  if (!value.isMap())
    throw value.fail("expected a mapping of configs", "Write `config: {materialized: table}`");
  return layerOf(value.js() as Record<string, unknown>, { file: value.file, line: value.line });
}

function columnsOf(
  entry: YamlValue,
  target: TestTarget,
  tests: TestDeclaration[],
): Record<string, ColumnDoc> {
  const columns: Record<string, ColumnDoc> = {};
  for (const column of entry.get("columns").items()) {
    const name = column.get("name").requiredString("Name the column");
    columns[name] = {
      name,
      description: column.get("description").string() ?? "",
      dataType: column.get("data_type").string(),
      meta: (column.get("meta").js() as Record<string, unknown> | undefined) ?? {},
      tags: column.get("tags").stringList(),
      quote: column.get("quote").boolean(),
    };
    tests.push(...testsOf(column, target, name));
  }
  return columns;
}

/** The test entries under an item's `data_tests:` (or `tests:`). */
function testsOf(item: YamlValue, target: TestTarget, columnName: string | undefined): TestDeclaration[] {
  const dataTests = item.get("data_tests");
  const legacy = item.get("tests");
  if (dataTests.present && legacy.present)
    throw legacy.fail(
      "both tests: and data_tests: are set",
      "Keep one of them (data_tests: is dbt's current name)",
    );
  const list = dataTests.present ? dataTests : legacy;
  return list.items().map((entry) => testDeclaration(entry, target, columnName));
}

function testDeclaration(
  entry: YamlValue,
  target: TestTarget,
  columnName: string | undefined,
): TestDeclaration {
  const at = { file: entry.file, line: entry.line };
  let name: string;
  let body: YamlValue | undefined;
  let customName: string | undefined;
  if (!entry.isMap()) {
    name = entry.requiredString("Name a test, e.g. `- not_null`");
  } else if (entry.get("test_name").present) {
    name = entry.get("test_name").requiredString("Name the test");
    customName = entry.get("name").string();
    body = entry;
  } else {
    const entries = entry.entries();
    if (entries.length !== 1)
      throw entry.fail(
        `expected one test name as the key, got ${entries.map(([k]) => k).join(", ")}`,
        "Write `- unique` or `- accepted_values: {values: [...]}`",
      );
    [name, body] = entries[0]!;
  }
  if (name.includes(".")) {
    throw new ModelError(
      ModelErrorCode.unsupported,
      `${at.file}:${at.line}: the test '${name}' is not supported by Pulse's runner: packages are not installed. Write it as a singular test in tests/`,
      {
        location: at,
      },
    );
  }
  if (!(GENERIC_TESTS as readonly string[]).includes(name)) {
    throw new ModelError(
      ModelErrorCode.unsupported,
      `${at.file}:${at.line}: the test '${name}' is not supported by Pulse's runner. Use ${GENERIC_TESTS.join(", ")}, or a singular test in tests/`,
      {
        location: at,
      },
    );
  }
  const args: Record<string, unknown> = {};
  const config: Record<string, unknown> = {};
  let column = columnName;
  if (body?.present) {
    if (!body.isMap())
      throw body.fail("expected the test's arguments as a mapping", `Write \`- ${name}: {…}\``);
    for (const [key, value] of body.entries()) {
      if (key === "test_name" || (key === "name" && body === entry)) continue;
      if (key === "name") customName = value.string();
      else if (key === "config") Object.assign(config, value.isMap() ? value.js() : {});
      else if (key === "arguments") {
        if (!value.isMap())
          throw value.fail("expected a mapping of arguments", "Write `arguments: {values: [...]}`");
        Object.assign(args, value.js());
      } else if (key === "column_name") column = value.requiredString("Name the column");
      else if (key === "description") continue;
      else if (TEST_CONFIG_ARGS.has(key)) config[key] = value.js();
      else args[key] = value.js();
    }
  }
  if ("column_name" in args) {
    column = String(args.column_name);
    delete args.column_name;
  }
  const fail = (what: string, fix: string): ModelError =>
    new ModelError(ModelErrorCode.projectInvalid, `${at.file}:${at.line}: test ${name}: ${what}. ${fix}`, {
      location: at,
    });
  if (column === undefined) throw fail("has no column", "Put it under a column, or give it column_name:");
  if (name === "accepted_values") {
    if (!Array.isArray(args.values) || args.values.length === 0)
      throw fail("needs values: [...]", "List the accepted values");
    if (args.quote !== undefined && typeof args.quote !== "boolean")
      throw fail("quote must be true or false", "Write quote: false");
  }
  if (name === "relationships") {
    if (typeof args.to !== "string")
      throw fail("needs to: ref('model') or source('s', 't')", "Name the parent");
    if (typeof args.field !== "string")
      throw fail("needs field: <the parent's column>", "Name the parent's column");
  }
  const known =
    name === "accepted_values" ? ["values", "quote"] : name === "relationships" ? ["to", "field"] : [];
  for (const key of Object.keys(args))
    if (!known.includes(key))
      throw fail(
        `'${key}' is not an argument of ${name}`,
        known.length > 0 ? `Use ${known.join(", ")}` : "Remove it",
      );
  if (!isRecord(config)) throw fail("config must be a mapping", "Write config: {severity: warn}");
  return {
    test: name as GenericTestName,
    target,
    columnName: column,
    args,
    customName,
    config: layerOf(config, at),
    at,
    file: at.file,
  };
}
