// The artifacts: manifest.json and run_results.json in dbt's shapes, read back from disk, and the compiled SQL files.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openTestWarehouse, writeProject } from "../../test/helpers/models.ts";
import { MANIFEST_SCHEMA, RUN_RESULTS_SCHEMA } from "./artifacts.ts";
import { runModels } from "./runner.ts";

/** A JSON object read back from an artifact. */
// biome-ignore lint/suspicious/noExplicitAny: artifacts are read back as untyped JSON and checked field by field.
type Json = Record<string, any>;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function project(ctx: Parameters<typeof writeProject>[0]): string {
  return writeProject(ctx, {
    "seeds/users.csv": "user_id,name\n1,ann\n2,bob\n",
    "models/staging/src.yml":
      "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: clock\n        identifier: clock_table\n",
    "models/staging/stg_users.sql": "select * from {{ ref('users') }}\n",
    "models/marts/dim_users.sql":
      "{{ config(materialized='table', tags=['daily']) }}\nselect user_id, upper(name) as name from {{ ref('stg_users') }}\n",
    "models/marts/schema.yml":
      "version: 2\nmodels:\n  - name: dim_users\n    description: One row a user.\n    columns:\n      - name: user_id\n        description: The key.\n        data_tests: [unique]\n      - name: name\n        data_tests:\n          - accepted_values:\n              values: ['ANN']\n              config: {severity: warn}\n",
    "tests/two_users.sql": "select 1 from {{ ref('dim_users') }} having count(*) <> 2\n",
  });
}

describe("artifacts", () => {
  it("writes run_results.json in dbt's v6 shape, one result per node", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = project(ctx);
    const run = await runModels({ command: "build", projectDir: dir, warehouse, select: ["+dim_users"] });
    const results = JSON.parse(readFileSync(join(dir, "target/run_results.json"), "utf8"));
    expect(results.metadata.dbt_schema_version).toBe(RUN_RESULTS_SCHEMA);
    expect(results.metadata.invocation_id).toBe(run.invocationId);
    expect(results.metadata.generated_at).toMatch(ISO);
    expect(typeof results.elapsed_time).toBe("number");
    const byId = new Map<string, Json>(results.results.map((r: Json) => [r.unique_id, r]));
    expect([...byId.keys()].sort()).toEqual(run.results.map((r) => r.uniqueId).sort());
    const dim = byId.get("model.shop.dim_users")!;
    expect(dim.status).toBe("success");
    expect(dim.relation_name).toBe('"monitoring_datalake"."dim_users"');
    expect(dim.adapter_response).toMatchObject({ _message: "OK", rows_affected: 2 });
    expect(dim.thread_id).toMatch(/^Thread-\d+ \(worker\)$/);
    expect(dim.timing.map((t: { name: string }) => t.name)).toEqual(["compile", "execute"]);
    for (const t of dim.timing) {
      expect(t.started_at).toMatch(ISO);
      expect(Date.parse(t.completed_at)).toBeGreaterThanOrEqual(Date.parse(t.started_at));
    }
    expect(dim.compiled_code).toBe(
      '\nselect user_id, upper(name) as name from "monitoring_datalake"."stg_users"',
    );
    expect(dim.failures).toBeNull();
    const warned = [...byId.values()].find((r) =>
      String(r.unique_id).startsWith("test.shop.accepted_values_dim_users_name__ANN."),
    )!;
    expect(warned).toMatchObject({
      status: "warn",
      failures: 1,
      message: "Got 1 result, configured to warn if != 0",
      relation_name: null,
    });
    expect(byId.get("test.shop.two_users")).toMatchObject({ status: "pass", failures: 0, message: null });
    expect(byId.get("seed.shop.users")).toMatchObject({
      status: "success",
      adapter_response: { rows_affected: 2 },
    });
  });

  it("writes manifest.json in dbt's v12 shape with parent and child maps, and compiled SQL files", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = project(ctx);
    await runModels({ command: "build", projectDir: dir, warehouse });
    const manifest = JSON.parse(readFileSync(join(dir, "target/manifest.json"), "utf8"));
    expect(manifest.metadata).toMatchObject({
      dbt_schema_version: MANIFEST_SCHEMA,
      project_name: "shop",
      adapter_type: "duckdb",
    });
    const dim = manifest.nodes["model.shop.dim_users"];
    expect(dim).toMatchObject({
      resource_type: "model",
      package_name: "shop",
      name: "dim_users",
      path: "marts/dim_users.sql",
      original_file_path: "models/marts/dim_users.sql",
      fqn: ["shop", "marts", "dim_users"],
      schema: "monitoring_datalake",
      alias: "dim_users",
      relation_name: '"monitoring_datalake"."dim_users"',
      description: "One row a user.",
      tags: ["daily"],
      depends_on: { nodes: ["model.shop.stg_users"] },
      refs: [{ name: "stg_users", package: null, version: null }],
      patch_path: "shop://models/marts/schema.yml",
      language: "sql",
    });
    expect(dim.config).toMatchObject({ materialized: "table", enabled: true, tags: ["daily"] });
    expect(dim.columns.user_id).toMatchObject({ name: "user_id", description: "The key." });
    expect(dim.checksum.name).toBe("sha256");
    const unique = Object.values<Json>(manifest.nodes).find((n) => n.name === "unique_dim_users_user_id")!;
    expect(unique.unique_id).toMatch(/^test\.shop\.unique_dim_users_user_id\.[0-9a-f]{10}$/);
    expect(unique).toMatchObject({
      resource_type: "test",
      column_name: "user_id",
      attached_node: "model.shop.dim_users",
      file_key_name: "models.dim_users",
      test_metadata: {
        name: "unique",
        kwargs: { column_name: "user_id", model: "{{ get_where_subquery(ref('dim_users')) }}" },
      },
    });
    expect(manifest.sources["source.shop.raw.clock"]).toMatchObject({
      resource_type: "source",
      source_name: "raw",
      identifier: "clock_table",
      relation_name: '"main"."clock_table"',
    });
    expect(manifest.parent_map["model.shop.dim_users"]).toEqual(["model.shop.stg_users"]);
    expect(manifest.child_map["model.shop.stg_users"]).toEqual(["model.shop.dim_users"]);
    expect(manifest.child_map["model.shop.dim_users"]).toContain("test.shop.two_users");
    for (const key of [
      "macros",
      "docs",
      "exposures",
      "metrics",
      "groups",
      "selectors",
      "disabled",
      "group_map",
      "semantic_models",
      "saved_queries",
      "unit_tests",
    ])
      expect(manifest).toHaveProperty(key);
    expect(readFileSync(join(dir, "target/compiled/shop/models/marts/dim_users.sql"), "utf8")).toBe(
      '\nselect user_id, upper(name) as name from "monitoring_datalake"."stg_users"',
    );
    const compiledTest = join(
      dir,
      "target/compiled/shop/models/marts/schema.yml/unique_dim_users_user_id.sql",
    );
    expect(readFileSync(compiledTest, "utf8")).toContain('from "monitoring_datalake"."dim_users"');
    expect(existsSync(join(dir, "target/compiled/shop/tests/two_users.sql"))).toBe(true);
  });

  it("compiles without writing to the warehouse: two-argument refs, tests on an ephemeral model", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "models/base.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id\n",
      "models/top.sql": "select * from {{ ref('shop', 'base') }}\n",
      "models/schema.yml":
        "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    });
    const run = await runModels({ command: "compile", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    expect(await warehouse.relations("monitoring_datalake")).toEqual([]);
    const byName = new Map(
      run.results.map((r) => [run.project.nodes.get(r.uniqueId)!.name, r.outcome.compiledCode]),
    );
    expect(byName.get("top")).toBe(
      "with __dbt__cte__base as (\nselect 1 as id\n)\nselect * from __dbt__cte__base",
    );
    expect(byName.get("not_null_base_id")).toBe(
      "with __dbt__cte__base as (\nselect 1 as id\n)\nselect id\nfrom __dbt__cte__base\nwhere id is null",
    );
    expect(readFileSync(join(dir, "target/compiled/shop/models/top.sql"), "utf8")).toBe(byName.get("top"));
    // The test, built for real, reads the ephemeral through its CTE.
    const built = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(built.results.map((r) => r.outcome.status).sort()).toEqual(["pass", "success"]);
  });

  it("lists nodes as dbt ls does, without a warehouse", async (ctx) => {
    const run = await runModels({ command: "ls", projectDir: project(ctx), select: ["tag:daily+"] });
    expect(run.selected).toEqual([
      "shop.marts.dim_users",
      "shop.marts.accepted_values_dim_users_name__ANN",
      "shop.two_users",
      "shop.marts.unique_dim_users_user_id",
    ]);
    expect(existsSync(join(run.project.root, "target"))).toBe(false);
  });
});
