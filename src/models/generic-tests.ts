// The four generic tests: their names and unique ids as dbt makes them, and the SQL whose rows are failures.

/*
 * Names (dbt's synthesize_generic_test_names): `<test>_<target>_<args>`, where target is the model's name
 * or `<source>_<table>` (and the test `source_<test>`), and args are the test's arguments sorted by name,
 * flattened (a list's items, a mapping's values), each with runs of characters other than [0-9A-Za-z_]
 * replaced by `_`, joined with `__`. A full name of 64 characters or more is cut, for the compiled file's
 * name, to its first 30 identifying characters + `_` + md5 of the full name.
 * Unique id: `test.<project>.<full name>.<last 10 hex of md5(full name + repr(metadata))>`, the metadata
 * written as Python's repr of the sorted dict with every leaf as str(), as dbt hashes it.
 */

import { createHash } from "node:crypto";
import type { GenericTestMetadata } from "./nodes.ts";
import type { TestTarget } from "./properties.ts";

export function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/** Python's str() of a YAML leaf. */
function pyStr(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  return String(value);
}

/** Python's repr() of a str. */
function pyReprString(text: string): string {
  const escaped = text
    .replace(/\\/g, "\\\\")
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
  if (text.includes("'") && !text.includes('"')) return `"${escaped}"`;
  return `'${escaped.replace(/'/g, "\\'")}'`;
}

/** repr(get_hashable_md(value)): dicts with sorted keys, lists, every leaf as a str. */
function hashableRepr(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(hashableRepr).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${pyReprString(key)}: ${hashableRepr((value as Record<string, unknown>)[key])}`).join(", ")}}`;
  }
  return pyReprString(pyStr(value));
}

export interface GenericTestNames {
  /** The node's name, and its unique id's middle part. */
  fullName: string;
  /** The compiled file's name (without .sql). */
  shortName: string;
}

export function genericTestNames(
  test: string,
  target: TestTarget,
  kwargs: Record<string, unknown>,
): GenericTestNames {
  const testType = target.kind === "source" ? `source_${test}` : test;
  const targetName = target.kind === "source" ? `${target.source}_${target.table}` : target.name;
  const flat: string[] = [];
  for (const name of Object.keys(kwargs).sort()) {
    if (name === "model") continue;
    const value = kwargs[name];
    const parts = Array.isArray(value)
      ? value
      : value !== null && typeof value === "object"
        ? Object.values(value)
        : [value];
    flat.push(...parts.map((part) => pyStr(part).replace(/[^0-9a-zA-Z_]+/g, "_")));
  }
  const identifier = `${testType}_${targetName}`;
  const fullName = `${identifier}_${flat.join("__")}`;
  const shortName = fullName.length >= 64 ? `${identifier.slice(0, 30)}_${md5(fullName)}` : fullName;
  return { fullName, shortName };
}

/** The `model` argument dbt records for a test on `target`. */
export function modelArgument(target: TestTarget): string {
  return target.kind === "source"
    ? `{{ get_where_subquery(source('${target.source}', '${target.table}')) }}`
    : `{{ get_where_subquery(ref('${target.name}')) }}`;
}

export function genericTestUniqueId(
  projectName: string,
  fullName: string,
  metadata: GenericTestMetadata,
): string {
  const hashable = hashableRepr({ namespace: null, name: metadata.name, kwargs: metadata.kwargs });
  return `test.${projectName}.${fullName}.${md5(fullName + hashable).slice(-10)}`;
}

/** What a generic test's SQL needs, each already rendered for the warehouse. */
export interface GenericTestSqlInput {
  test: string;
  /** The tested relation: its quoted name, or `(select * from … where …) dbt_subquery`. */
  model: string;
  /** The column as it goes in SQL (quoted when the column asks for it). */
  column: string;
  /** accepted_values: the values as SQL literals (or as written, with quote: false). */
  values?: string[];
  /** relationships: the parent relation and its column. */
  to?: string;
  field?: string;
}

/** The test's query: every row it returns is a failure. */
export function genericTestSql(input: GenericTestSqlInput): string {
  const { model, column } = input;
  switch (input.test) {
    case "not_null":
      return `select ${column}\nfrom ${model}\nwhere ${column} is null`;
    case "unique":
      return [
        "select",
        `    ${column} as unique_field,`,
        "    count(*) as n_records",
        `from ${model}`,
        `where ${column} is not null`,
        `group by ${column}`,
        "having count(*) > 1",
      ].join("\n");
    case "accepted_values":
      return [
        "with all_values as (",
        "    select",
        `        ${column} as value_field,`,
        "        count(*) as n_records",
        `    from ${model}`,
        `    group by ${column}`,
        ")",
        "select *",
        "from all_values",
        "where value_field not in (",
        `    ${(input.values ?? []).join(", ")}`,
        ")",
      ].join("\n");
    default:
      return [
        "with child as (",
        `    select ${column} as from_field`,
        `    from ${model}`,
        `    where ${column} is not null`,
        "),",
        "parent as (",
        `    select ${input.field} as to_field`,
        `    from ${input.to}`,
        ")",
        "select",
        "    from_field",
        "from child",
        "left join parent",
        "    on child.from_field = parent.to_field",
        "where parent.to_field is null",
      ].join("\n");
  }
}

/** The model argument narrowed by a `where` config, as dbt's get_where_subquery writes it. */
export function whereSubquery(relation: string, where: string | undefined): string {
  return where === undefined ? relation : `(select * from ${relation} where ${where}) dbt_subquery`;
}

/**
 * The query that counts a test's failures and weighs them against warn_if and error_if, as dbt's
 * get_test_sql: one row of failures, should_warn, should_error.
 */
export function failuresSql(
  testSql: string,
  failCalc: string,
  warnIf: string,
  errorIf: string,
  limit: number | undefined,
): string {
  return [
    "select",
    `    ${failCalc} as failures,`,
    `    (${failCalc}) ${warnIf} as should_warn,`,
    `    (${failCalc}) ${errorIf} as should_error`,
    "from (",
    testSql,
    limit === undefined ? "" : `limit ${limit}`,
    ") dbt_internal_test",
  ].join("\n");
}
