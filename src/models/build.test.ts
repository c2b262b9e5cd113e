// `build` as dbt builds: DAG order, a model's tests right after it, failures skipping what is downstream, warnings not, threads.

import { describe, expect, it, type TestContext } from "vitest";
import { openTestWarehouse, writeProject } from "../../test/helpers/models.ts";
import type { NodeStatus } from "./materialize.ts";
import { defaultThreads, type ModelsRun, runModels } from "./runner.ts";

/** A project of `count` table models m0, m1, … that depend on nothing, each counting `rows` rows. */
function independentTables(ctx: TestContext, count: number, rows: number): string {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++)
    files[`models/m${i}.sql`] =
      `{{ config(materialized='table') }}\nselect count(*) as n from range(${rows}) a\n`;
  return writeProject(ctx, files);
}

function statuses(run: ModelsRun): Record<string, NodeStatus> {
  return Object.fromEntries(
    run.results.map((r) => [run.project.nodes.get(r.uniqueId)!.name, r.outcome.status]),
  );
}

const ORDERS_SEED = "id,user_id,status,amount\n1,1,placed,10\n2,1,shipped,20\n3,2,returned,-5\n4,,placed,7\n";
const USERS_SEED = "user_id,name\n1,ann\n2,bob\n";

const SCHEMA = (severity: string) => `version: 2
models:
  - name: stg_orders
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: user_id
        data_tests:
          - not_null:
              config:
                severity: ${severity}
          - relationships:
              to: ref('users')
              field: user_id
      - name: status
        data_tests:
          - accepted_values:
              values: [placed, shipped]
              config:
                where: "amount > 0"
`;

function shop(
  ctx: Parameters<typeof writeProject>[0],
  severity: string,
  extra: Record<string, string> = {},
): string {
  return writeProject(ctx, {
    "seeds/orders.csv": ORDERS_SEED,
    "seeds/users.csv": USERS_SEED,
    "models/stg_orders.sql": "select * from {{ ref('orders') }}\n",
    "models/fct_revenue.sql":
      "{{ config(materialized='table') }}\nselect sum(amount) as revenue from {{ ref('stg_orders') }}\n",
    "models/report.sql": "select * from {{ ref('fct_revenue') }}\n",
    "models/users_view.sql": "select * from {{ ref('users') }}\n",
    "models/schema.yml": SCHEMA(severity),
    ...extra,
  });
}

describe("build", () => {
  it("runs seeds, models and tests in DAG order with each model's tests before its children; warnings skip nothing", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const run = await runModels({ command: "build", projectDir: shop(ctx, "warn"), warehouse, threads: 1 });
    const order = run.results.map((r) => run.project.nodes.get(r.uniqueId)!.name);
    expect(statuses(run)).toEqual({
      orders: "success",
      users: "success",
      stg_orders: "success",
      users_view: "success",
      unique_stg_orders_id: "pass",
      not_null_stg_orders_id: "pass",
      not_null_stg_orders_user_id: "warn",
      relationships_stg_orders_user_id__user_id__ref_users_: "pass",
      accepted_values_stg_orders_status__placed__shipped: "pass",
      fct_revenue: "success",
      report: "success",
    });
    for (const test of [
      "unique_stg_orders_id",
      "not_null_stg_orders_user_id",
      "relationships_stg_orders_user_id__user_id__ref_users_",
    ])
      expect(order.indexOf(test)).toBeLessThan(order.indexOf("fct_revenue"));
    expect(order.indexOf("stg_orders")).toBeLessThan(order.indexOf("unique_stg_orders_id"));
    expect(order.indexOf("fct_revenue")).toBeLessThan(order.indexOf("report"));
    expect(run.counts).toEqual({ pass: 10, warn: 1, error: 0, skip: 0, total: 11 });
    expect(run.ok).toBe(true);
    const warn = run.results.find((r) => r.outcome.status === "warn")!;
    expect(warn.outcome.failures).toBe(1);
    expect(warn.outcome.message).toBe("Got 1 result, configured to warn if != 0");
  });

  it("skips everything downstream of an error-severity test that fails, and nothing else", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const run = await runModels({ command: "build", projectDir: shop(ctx, "error"), warehouse, threads: 3 });
    const s = statuses(run);
    expect(s.not_null_stg_orders_user_id).toBe("fail");
    expect(s.fct_revenue).toBe("skipped");
    expect(s.report).toBe("skipped");
    expect(s.users_view).toBe("success");
    expect(s.unique_stg_orders_id).toBe("pass");
    expect(run.ok).toBe(false);
    expect(run.counts).toEqual({ pass: 8, warn: 0, error: 1, skip: 2, total: 11 });
    expect(await warehouse.relations("monitoring_datalake").then((r) => r.map((x) => x.name))).not.toContain(
      "fct_revenue",
    );
  });

  it("skips the children and tests of a model that fails, and runs independent branches", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = shop(ctx, "warn", {
      "models/stg_orders.sql": "select *, no_such_column from {{ ref('orders') }}\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    const s = statuses(run);
    expect(s.stg_orders).toBe("error");
    for (const name of ["fct_revenue", "report", "unique_stg_orders_id", "not_null_stg_orders_user_id"])
      expect(s[name]).toBe("skipped");
    expect(s.users_view).toBe("success");
    expect(run.results.find((r) => r.outcome.status === "error")!.outcome.message).toMatch(
      /^models\/stg_orders\.sql: model stg_orders failed: .*no_such_column/,
    );
    expect(run.ok).toBe(false);
  });

  it("counts failures with where, error_if and warn_if, and stores them with store_failures", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "seeds/orders.csv": ORDERS_SEED,
      "models/schema.yml": `version: 2
seeds:
  - name: orders
    columns:
      - name: amount
        data_tests:
          - accepted_values:
              values: [10, 20]
              quote: false
              config:
                error_if: ">= 3"
                warn_if: ">= 1"
      - name: status
        data_tests:
          - accepted_values:
              values: ['placed']
              store_failures: true
`,
      "tests/no_negative_amounts.sql":
        "{{ config(severity='error') }}\nselect * from {{ ref('orders') }} where amount < 0\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    const s = statuses(run);
    expect(s.accepted_values_orders_amount__False__10__20).toBe("warn");
    expect(s.accepted_values_orders_status__placed).toBe("fail");
    expect(s.no_negative_amounts).toBe("fail");
    const stored = await warehouse.query(
      'select value_field, n_records from "monitoring_datalake_dbt_test__audit"."accepted_values_orders_status__placed" order by 1',
    );
    expect(stored.rows).toEqual([
      { value_field: "returned", n_records: 1 },
      { value_field: "shipped", n_records: 1 },
    ]);
    const byName = new Map(run.results.map((r) => [run.project.nodes.get(r.uniqueId)!.name, r]));
    expect(byName.get("accepted_values_orders_amount__False__10__20")!.outcome.failures).toBe(2);
    expect(byName.get("no_negative_amounts")!.outcome.failures).toBe(1);
  });

  it("test runs only tests, and run only models; a test of a missing table is an error", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = shop(ctx, "warn");
    const tests = await runModels({ command: "test", projectDir: dir, warehouse });
    expect(tests.results.every((r) => r.uniqueId.startsWith("test."))).toBe(true);
    expect(tests.results.every((r) => r.outcome.status === "error")).toBe(true);
    expect(tests.counts.skip).toBe(0);
    const run = await runModels({ command: "run", projectDir: dir, warehouse, select: ["users_view"] });
    expect(run.results.map((r) => r.uniqueId)).toEqual(["model.shop.users_view"]);
    expect(run.results[0]!.outcome.status).toBe("error");
  });

  it("runs independent nodes concurrently, up to --threads", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = independentTables(ctx, 6, 3_000_000);
    const run = await runModels({ command: "run", projectDir: dir, warehouse, threads: 3 });
    expect(run.ok).toBe(true);
    expect(new Set(run.results.map((r) => r.threadId))).toEqual(new Set([1, 2, 3]));
    const spans = run.results.map((r) => {
      const execute = r.outcome.timing.find((t) => t.name === "execute")!;
      return [execute.startedAt.getTime(), execute.completedAt.getTime()] as const;
    });
    const overlapping = spans.some(([s1, e1], i) => spans.some(([s2], j) => i !== j && s2 >= s1 && s2 < e1));
    expect(overlapping).toBe(true);
  });

  it("runs one node at a time on DuckDB without --threads, since DuckDB spreads each statement over every core", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = independentTables(ctx, 4, 300_000);
    const run = await runModels({ command: "run", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    expect(run.results.map((r) => r.threadId)).toEqual([1, 1, 1, 1]);
    expect(defaultThreads("duckdb")).toBe(1);
    expect(defaultThreads("postgres")).toBe(4);
    expect(defaultThreads("bigquery")).toBe(4);
  });
});
