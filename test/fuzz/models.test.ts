// Fuzzes the model runner's inputs: model SQL templates, properties YAML and dbt_project.yml parse and compile or fail with a ModelError.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ModelError, ModelErrorCode } from "../../src/errors.ts";
import { checkTemplate, parseTemplate, renderTemplate } from "../../src/models/jinja.ts";
import { CONTEXT_SHAPE } from "../../src/models/jinja-context.ts";
import type { ModelNode, TestNode } from "../../src/models/nodes.ts";
import { parseProject } from "../../src/models/parse.ts";
import { readProjectFile } from "../../src/models/project.ts";
import { parsePropertiesFile } from "../../src/models/properties.ts";
import { Compiler } from "../../src/models/render.ts";
import { projectFile } from "../../src/paths.ts";
import { duckdbDialect } from "../../src/warehouse/duckdb/dialect.ts";
import { TEST_TARGET } from "../helpers/models.ts";
import { fuzzText, runs, scratchDir, typedOutcome, withoutStacks } from "./fuzz.ts";
import { parseContext } from "./model-context.ts";

const MODEL_CODES = new Set<string>(Object.values(ModelErrorCode));

/**
 * A small project in the analytics project's image: a source, a staging model and a mart with refs,
 * config(), is_incremental(), vars and a macro, and generic and singular tests.
 */
const FILES: Record<string, string> = {
  "dbt_project.yml":
    'name: shop\nprofile: shop\nconfig-version: 2\nvars:\n  days: 3\nmodels:\n  shop:\n    +materialized: view\n    marts:\n      +materialized: table\n      +tags: ["marts"]\n',
  "macros/cents.sql": "{% macro cents(column) %}round({{ column }} * 100){% endmacro %}\n",
  "models/staging/sources.yml":
    "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n        columns:\n          - name: id\n            tests: [not_null, unique]\n",
  "models/staging/stg_events.sql":
    "select id, user_id, amount, cast(event_time as date) as day\nfrom {{ source('raw', 'events') }}\n",
  "models/marts/fct_daily.sql":
    "{{ config(materialized='incremental', unique_key='day') }}\n" +
    "{% set kinds = ['a', 'b'] %}\n" +
    "select day, count(*) as n, sum({{ cents('amount') }}) as cents\n" +
    "{% for k in kinds %}, count(*) filter (where kind = '{{ k }}') as n_{{ k }}\n{% endfor %}" +
    "from {{ ref('stg_events') }}\n" +
    "{% if is_incremental() %}where day > (select max(day) from {{ this }}) - {{ var('days') }}{% endif %}\n" +
    "group by day\n",
  "models/marts/marts.yml":
    "version: 2\nmodels:\n  - name: fct_daily\n    description: Daily counts.\n    columns:\n      - name: day\n        tests:\n          - not_null\n          - unique\n      - name: n\n        tests:\n          - accepted_values:\n              values: [1, 2]\n          - relationships:\n              to: ref('stg_events')\n              field: id\n",
  "tests/n_positive.sql": "select * from {{ ref('fct_daily') }} where n < 0\n",
};

let dir: string;
let projectDir: string;

beforeAll(() => {
  dir = scratchDir("pulse-fuzz-models-");
  projectDir = scratchDir("pulse-fuzz-project-");
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  checkBaseline();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(projectDir, { recursive: true, force: true });
});
withoutStacks({ beforeAll, afterAll });

/** Parses the project with `path` holding `text`, then compiles every model and test; restores the file. */
function parseAndCompile(path: string, text: string, budget = true): void {
  writeFileSync(join(dir, path), text);
  try {
    const outcome = typedOutcome(budget, () => {
      const project = parseProject({ projectDir: dir, target: TEST_TARGET, env: {} });
      const compiler = new Compiler({
        project,
        dialect: duckdbDialect,
        target: TEST_TARGET,
        cliVars: {},
        env: {},
        fullRefresh: false,
        command: "compile",
        invocationId: "fuzz",
      });
      for (const node of project.nodes.values()) {
        if (node.resourceType === "model") {
          compiler.compileModel(node as ModelNode, false);
          compiler.compileModel(node as ModelNode, true);
        } else if (node.resourceType === "test") compiler.compileTest(node as TestNode);
      }
      return project.nodes.size;
    });
    if (!outcome.ok) checkModelError(outcome.error);
  } finally {
    writeFileSync(join(dir, path), FILES[path]!);
  }
}

/**
 * The project parses and compiles as written, so the mutations start from a valid project; this first
 * run also compiles the runner's built-in test macros, which takes longer than a case's budget.
 */
function checkBaseline(): void {
  const project = parseProject({ projectDir: dir, target: TEST_TARGET, env: {} });
  assert.ok(project.nodes.size >= 5);
  for (const path of Object.keys(FILES)) parseAndCompile(path, FILES[path]!, false);
}

/** A ModelError with a catalog code, at a line from 1 when it names one. */
function checkModelError(error: unknown): void {
  assert.ok(error instanceof ModelError);
  assert.ok(MODEL_CODES.has(error.code), error.code);
  const line = error.location?.line;
  if (line !== undefined) assert.ok(Number.isInteger(line) && line >= 1, `line ${line}`);
}

describe("fuzz: model SQL templates", () => {
  const macro = parseTemplate("macros/cents.sql", FILES["macros/cents.sql"]!);
  checkTemplate(macro, CONTEXT_SHAPE, new Set(["cents"]));
  const context = parseContext([macro]);
  const sql = ["models/marts/fct_daily.sql", "models/staging/stg_events.sql", "tests/n_positive.sql"].map(
    (path) => FILES[path]!,
  );

  it("any model SQL parses, checks and renders as at parse time, or fails with a ModelError at its line", () => {
    fc.assert(
      fc.property(fuzzText(sql, 300), (text) => {
        const outcome = typedOutcome(() => {
          const parsed = parseTemplate("models/m.sql", text);
          checkTemplate(parsed, CONTEXT_SHAPE, new Set(["cents"]));
          return renderTemplate(parsed, context);
        });
        if (!outcome.ok) checkModelError(outcome.error);
      }),
      runs(801),
    );
  });

  it("a whole project with any model, test or macro SQL parses and compiles, or fails with a ModelError", () => {
    const paths = [
      "models/marts/fct_daily.sql",
      "models/staging/stg_events.sql",
      "tests/n_positive.sql",
      "macros/cents.sql",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fuzzText(
          paths.map((path) => FILES[path]!),
          300,
        ),
        (path, text) => parseAndCompile(path, text),
      ),
      runs(802, 0.02),
    );
  });
});

describe("fuzz: model YAML", () => {
  const yaml = ["models/marts/marts.yml", "models/staging/sources.yml"].map((path) => FILES[path]!);

  it("any properties YAML parses, or fails with a ModelError at its file:line", () => {
    fc.assert(
      fc.property(fuzzText(yaml, 400), (text) => {
        const outcome = typedOutcome(() => parsePropertiesFile("models/m.yml", text));
        if (!outcome.ok) checkModelError(outcome.error);
      }),
      runs(803),
    );
  });

  it("a whole project with any properties YAML or dbt_project.yml parses and compiles, or fails with a ModelError", () => {
    const paths = ["models/marts/marts.yml", "models/staging/sources.yml", "dbt_project.yml"];
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fuzzText(
          paths.map((path) => FILES[path]!),
          400,
        ),
        (path, text) => parseAndCompile(path, text),
      ),
      runs(804, 0.02),
    );
  });

  it("any dbt_project.yml is read, or fails with a ModelError at its line", () => {
    fc.assert(
      fc.property(
        fuzzText(
          [FILES["dbt_project.yml"]!, readFileSync(projectFile("analytics/dbt_project.yml"), "utf8")],
          400,
        ),
        (text) => {
          writeFileSync(join(projectDir, "dbt_project.yml"), text);
          const outcome = typedOutcome(() => readProjectFile(projectDir));
          if (!outcome.ok) checkModelError(outcome.error);
        },
      ),
      runs(805, 0.3),
    );
  });
});
