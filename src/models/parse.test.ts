// The parse stage: dbt_project.yml folder configs, properties files, generic test names, config precedence, errors at file:line.

import { describe, expect, it } from "vitest";
import { modelError, TEST_TARGET, writeProject } from "../../test/helpers/models.ts";
import { ModelErrorCode } from "../errors.ts";
import type { ModelNode, SeedNode, TestNode } from "./nodes.ts";
import { parseProject } from "./parse.ts";

const PROJECT_YML = `name: shop
profile: shop
vars:
  start_date: '2024-01-01'
models:
  shop:
    +materialized: view
    +tags: [base]
    staging:
      +schema: staging
      +tags: staging
    marts:
      +materialized: table
      +tags: [marts]
      legacy:
        +enabled: false
seeds:
  shop:
    +column_types:
      code: varchar
`;

const SCHEMA_YML = `version: 2
sources:
  - name: raw
    schema: raw_data
    tables:
      - name: orders
        columns:
          - name: id
            data_tests: [not_null]
models:
  - name: stg_orders
    description: Orders, typed.
    config:
      materialized: table
    columns:
      - name: id
        data_tests:
          - unique
          - not_null:
              config:
                severity: warn
      - name: status
        tests:
          - accepted_values:
              values: ['placed', 'shipped']
              where: "id > 0"
  - name: fct_orders
    columns:
      - name: order_id
        data_tests:
          - relationships:
              arguments:
                to: ref('stg_orders')
                field: id
`;

function shop(ctx: Parameters<typeof writeProject>[0], extra: Record<string, string> = {}): string {
  return writeProject(ctx, {
    "dbt_project.yml": PROJECT_YML,
    "models/staging/schema.yml": SCHEMA_YML,
    "models/staging/stg_orders.sql":
      "{{ config(materialized='incremental', unique_key='id', tags=['inline']) }}\nselect * from {{ source('raw', 'orders') }}\n",
    "models/marts/fct_orders.sql": "select id as order_id from {{ ref('stg_orders') }}\n",
    "models/marts/legacy/old.sql": "select 1 as x\n",
    "seeds/countries.csv": "code,name\nFR,France\n",
    "tests/assert_no_negative.sql":
      "{{ config(severity='warn') }}\nselect * from {{ ref('fct_orders') }} where order_id < 0\n",
    ...extra,
  });
}

describe("parseProject", () => {
  it("resolves configs as dbt does: project folders < properties < config() in the file, tags unioned", (ctx) => {
    const project = parseProject({ projectDir: shop(ctx), target: TEST_TARGET });
    const stg = project.nodes.get("model.shop.stg_orders") as ModelNode;
    expect(stg.config.materialized).toBe("incremental");
    expect(stg.config.uniqueKey).toEqual(["id"]);
    expect(stg.config.schema).toBe("staging");
    expect(stg.config.tags).toEqual(["base", "staging", "inline"]);
    expect(stg.description).toBe("Orders, typed.");
    expect(stg.fqn).toEqual(["shop", "staging", "stg_orders"]);
    expect(stg.refs.map((r) => [r.kind, ...r.args, r.at.line])).toEqual([["source", "raw", "orders", 2]]);
    const fct = project.nodes.get("model.shop.fct_orders") as ModelNode;
    expect(fct.config.materialized).toBe("table");
    expect(fct.config.tags).toEqual(["base", "marts"]);
    expect(project.disabled.has("model.shop.old")).toBe(true);
    expect(project.nodes.has("model.shop.old")).toBe(false);
    const seed = project.nodes.get("seed.shop.countries") as SeedNode;
    expect(seed.config.columnTypes).toEqual({ code: "varchar" });
    expect(project.vars.start_date).toBe("2024-01-01");
    const singular = project.nodes.get("test.shop.assert_no_negative") as TestNode;
    expect(singular.config.severity).toBe("warn");
  });

  it("names generic tests as dbt does, reads data_tests: and tests:, and keeps their configs", (ctx) => {
    const project = parseProject({ projectDir: shop(ctx), target: TEST_TARGET });
    const tests = [...project.nodes.values()].filter((n): n is TestNode => n.resourceType === "test");
    const names = tests.map((t) => t.name).sort();
    expect(names).toEqual([
      "accepted_values_stg_orders_status__placed__shipped",
      "assert_no_negative",
      "not_null_stg_orders_id",
      "relationships_fct_orders_order_id__id__ref_stg_orders_",
      "source_not_null_raw_orders_id",
      "unique_stg_orders_id",
    ]);
    const byName = new Map(tests.map((t) => [t.name, t]));
    const notNull = byName.get("not_null_stg_orders_id")!;
    expect(notNull.uniqueId).toMatch(/^test\.shop\.not_null_stg_orders_id\.[0-9a-f]{10}$/);
    expect(notNull.config.severity).toBe("warn");
    expect(notNull.attachedNode).toBe("model.shop.stg_orders");
    expect(notNull.fqn).toEqual(["shop", "staging", "not_null_stg_orders_id"]);
    expect(notNull.testMetadata?.kwargs).toEqual({
      column_name: "id",
      model: "{{ get_where_subquery(ref('stg_orders')) }}",
    });
    expect(byName.get("accepted_values_stg_orders_status__placed__shipped")!.config.where).toBe("id > 0");
    expect(
      byName.get("relationships_fct_orders_order_id__id__ref_stg_orders_")!.refs.map((r) => r.args),
    ).toEqual([["fct_orders"], ["stg_orders"]]);
    const source = project.sources.get("source.shop.raw.orders")!;
    expect(source.schema).toBe("raw_data");
    expect(source.identifier).toBe("orders");
  });

  it("hashes generic test ids as dbt does (md5 of the name and Python's repr of the metadata)", (ctx) => {
    const project = parseProject({ projectDir: shop(ctx), target: TEST_TARGET });
    // The expected ids were computed with Python: md5(name + repr(get_hashable_md(test_metadata)))[-10:].
    expect(project.nodes.has("test.shop.not_null_stg_orders_id.8cf5724805")).toBe(true);
    expect(project.nodes.has("test.shop.accepted_values_stg_orders_status__placed__shipped.0b09736f95")).toBe(
      true,
    );
    const again = parseProject({ projectDir: shop(ctx), target: TEST_TARGET });
    expect([...again.nodes.keys()]).toEqual([...project.nodes.keys()]);
  });

  it("names the file, line and key of a bad dbt_project.yml key", (ctx) => {
    const dir = shop(ctx, { "dbt_project.yml": "name: shop\nmodel-path: [models]\n" });
    const error = modelError(() => parseProject({ projectDir: dir, target: TEST_TARGET }));
    expect(error.code).toBe(ModelErrorCode.projectInvalid);
    expect(error.message).toMatch(/^dbt_project\.yml:2: model-path: is not a dbt_project\.yml key/);
  });

  it("names the file and line of invalid YAML and of a bad config value", (ctx) => {
    const broken = shop(ctx, {
      "models/staging/schema.yml": "version: 2\nmodels:\n  - name: x\n   bad: [\n",
    });
    expect(modelError(() => parseProject({ projectDir: broken, target: TEST_TARGET })).message).toMatch(
      /^models\/staging\/schema\.yml:\d+: invalid YAML/,
    );
    const badConfig = shop(ctx, {
      "dbt_project.yml": PROJECT_YML.replace("+materialized: table", "+materialized: snapshot"),
    });
    const error = modelError(() => parseProject({ projectDir: badConfig, target: TEST_TARGET }));
    expect(error.message).toMatch(
      /^dbt_project\.yml:13: config materialized: 'snapshot' is not a materialization/,
    );
    expect(error.location).toEqual({ file: "dbt_project.yml", line: 13 });
  });

  it("rejects tests it does not have, and package tests, at their line", (ctx) => {
    const dir = shop(ctx, {
      "models/staging/schema.yml":
        "version: 2\nmodels:\n  - name: stg_orders\n    data_tests:\n      - dbt_utils.unique_combination_of_columns:\n          combination_of_columns: [a, b]\n",
    });
    const error = modelError(() => parseProject({ projectDir: dir, target: TEST_TARGET }));
    expect(error.code).toBe(ModelErrorCode.unsupported);
    expect(error.message).toMatch(
      /^models\/staging\/schema\.yml:5: the test 'dbt_utils\.unique_combination_of_columns'/,
    );
  });

  it("rejects a properties entry for a model that does not exist, naming it", (ctx) => {
    const dir = shop(ctx, { "models/marts/more.yml": "version: 2\nmodels:\n  - name: fct_missing\n" });
    const error = modelError(() => parseProject({ projectDir: dir, target: TEST_TARGET }));
    expect(error.code).toBe(ModelErrorCode.missingRef);
    expect(error.message).toMatch(/^models\/marts\/more\.yml:3: model 'fct_missing'/);
  });

  it("rejects two models of one name, naming both files", (ctx) => {
    const dir = shop(ctx, { "models/marts/stg_orders.sql": "select 1\n" });
    const error = modelError(() => parseProject({ projectDir: dir, target: TEST_TARGET }));
    expect(error.message).toContain("models/staging/stg_orders.sql");
    expect(error.message).toContain("models/marts/stg_orders.sql");
  });

  it("reads vars from --vars over the project's, and fails on a var that is not set", (ctx) => {
    const dir = shop(ctx, {
      "models/marts/fct_orders.sql":
        "select *\nfrom {{ ref('stg_orders') }}\nwhere d >= '{{ var('start_date') }}' and r = '{{ var('region') }}'\n",
    });
    const error = modelError(() => parseProject({ projectDir: dir, target: TEST_TARGET }));
    expect(error.code).toBe(ModelErrorCode.renderFailed);
    expect(error.message).toMatch(/^models\/marts\/fct_orders\.sql:3: required var 'region' is not set/);
    const project = parseProject({ projectDir: dir, target: TEST_TARGET, cliVars: { region: "eu" } });
    expect(project.nodes.has("model.shop.fct_orders")).toBe(true);
  });
});
