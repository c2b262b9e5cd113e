// The context parse.ts renders a model's Jinja with at parse time, for the fuzz tests of templates.

import type { ParsedTemplate } from "../../src/models/jinja.ts";
import { buildContext, RelationValue } from "../../src/models/jinja-context.ts";
import { duckdbDialect } from "../../src/warehouse/duckdb/dialect.ts";
import { TEST_TARGET } from "../helpers/models.ts";

/** What parse.ts renders a template with at parse time: ref, source and config record, nothing runs. */
export function parseContext(macroFiles: ParsedTemplate[]): Record<string, unknown> {
  const quote = (name: string) => `"${name}"`;
  return buildContext({
    execute: false,
    projectName: "shop",
    projectVars: { days: 3 },
    cliVars: {},
    target: TEST_TARGET,
    dialect: duckdbDialect,
    macroFiles,
    ref: (args) => new RelationValue(TEST_TARGET.schema, args.at(-1)!, quote(args.at(-1)!)),
    source: (name, table) => new RelationValue(name, table, `${quote(name)}.${quote(table)}`),
    onConfig: () => {},
    configValues: {},
    isIncremental: false,
    thisRelation: new RelationValue(TEST_TARGET.schema, "this", quote("this")),
    fullRefresh: false,
    command: "parse",
    invocationId: "",
    env: {},
  });
}
