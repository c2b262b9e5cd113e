// Shared view results: a view read by several nodes is computed once per run on DuckDB, with the columns they read, and the results stay the same.

import { rmSync } from "node:fs";
import { describe, expect, it, type TestContext } from "vitest";
import { openTestWarehouse, writeProject } from "../../test/helpers/models.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { type ModelsEvent, runModels } from "./runner.ts";
import { namesIn } from "./shared-views.ts";

/**
 * A project whose view `noisy` adds random() to each row, so a reader that computes the view gets values of
 * its own, and readers of one shared copy get the same ones. Three tables read it, plus `tests`.
 */
function noisyProject(ctx: TestContext, extra: Record<string, string> = {}): string {
  const reader = (column: string) =>
    `{{ config(materialized='table') }}\nselect sum(r) as total, count(${column}) as n from {{ ref('noisy') }}\n`;
  return writeProject(ctx, {
    "models/base.sql":
      "{{ config(materialized='table') }}\nselect i as id, i % 7 as k, 'p' || i as page from range(1000) t(i)\n",
    "models/noisy.sql": "select id, k, page, random() as r from {{ ref('base') }}\n",
    "models/a.sql": reader("id"),
    "models/b.sql": reader("k"),
    "models/c.sql": reader("id"),
    ...extra,
  });
}

async function totals(warehouse: Warehouse, names: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const name of names) {
    const { rows } = await warehouse.query(`select total from monitoring_datalake.${name}`);
    out.push(Number(rows[0]!.total));
  }
  return out;
}

/** The statements the runner sends through `query`, recorded on the way to the real warehouse. */
function recording(warehouse: Warehouse): { warehouse: Warehouse; statements: string[] } {
  const statements: string[] = [];
  const recorded = new Proxy(warehouse, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key === "query")
        return (sql: string, params?: never) => {
          statements.push(sql);
          return target.query(sql, params);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { warehouse: recorded, statements };
}

async function attached(warehouse: Warehouse): Promise<string[]> {
  const { rows } = await warehouse.query("select database_name from duckdb_databases() order by 1");
  return rows.map((row) => String(row.database_name)).filter((name) => name.startsWith("pulse_shared_"));
}

describe("shared view results", () => {
  it("computes a view read by three models once, so they all see the same rows, and says so", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const events: ModelsEvent[] = [];
    const run = await runModels({
      command: "build",
      projectDir: noisyProject(ctx),
      warehouse,
      onEvent: (event) => events.push(event),
    });
    expect(run.ok).toBe(true);
    const shared = events.filter((event) => event.kind === "shared");
    expect(shared).toEqual([
      {
        kind: "shared",
        relationName: '"monitoring_datalake"."noisy"',
        readers: 3,
        columns: 3,
        ofColumns: 4,
        seconds: expect.any(Number),
      },
    ]);
    // Announced before the first reader's result.
    expect(events.indexOf(shared[0]!)).toBeLessThan(
      events.findIndex((event) => event.kind === "result" && event.node.name === "a"),
    );
    const [a, b, c] = await totals(warehouse, ["a", "b", "c"]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await attached(warehouse)).toEqual([]);
  });

  it("leaves each reader on the view with shareViews false, or with fewer than three readers", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    await runModels({ command: "build", projectDir: noisyProject(ctx), warehouse, shareViews: false });
    const unshared = await totals(warehouse, ["a", "b", "c"]);
    expect(new Set(unshared).size).toBe(3);

    const two = noisyProject(ctx);
    rmSync(`${two}/models/c.sql`);
    await runModels({ command: "build", projectDir: two, warehouse });
    const [a, b] = await totals(warehouse, ["a", "b"]);
    expect(a).not.toBe(b);
  });

  it("copies only the columns the readers name, and the compiled code kept for target/ names the view", async (ctx) => {
    const { warehouse, statements } = recording(await openTestWarehouse(ctx));
    const run = await runModels({ command: "build", projectDir: noisyProject(ctx), warehouse });
    expect(run.ok).toBe(true);
    const copies = statements.filter((sql) => sql.startsWith('create or replace table "pulse_shared_'));
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/ as select "id", "k", "r" from "monitoring_datalake"\."noisy"$/);
    for (const result of run.results.filter((r) => /^model\.shop\.[abc]$/.test(r.uniqueId)))
      expect(result.outcome.compiledCode).toContain('"monitoring_datalake"."noisy"');
  });

  it("copies every column when a reader selects the view's star, and shares nothing when a reader cannot be parsed", async (ctx) => {
    const star = recording(await openTestWarehouse(ctx));
    await runModels({
      command: "build",
      projectDir: noisyProject(ctx, {
        "models/d.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('noisy') }}\n",
      }),
      warehouse: star.warehouse,
    });
    const copy = star.statements.find((sql) => sql.startsWith('create or replace table "pulse_shared_'));
    expect(copy).toMatch(/ as select "id", "k", "page", "r" from /);

    const unparsed = await openTestWarehouse(ctx);
    const run = await runModels({
      command: "build",
      projectDir: noisyProject(ctx, {
        // DuckDB runs a PIVOT statement, but json_serialize_sql parses SELECT statements only.
        "models/d.sql": "{{ config(materialized='table') }}\npivot {{ ref('noisy') }} on k using sum(r)\n",
      }),
      warehouse: unparsed,
    });
    expect(run.ok).toBe(true);
    const [a, b, c] = await totals(unparsed, ["a", "b", "c"]);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it("shares on a first build and on the next, where an incremental reader's other branch reads its own table", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = noisyProject(ctx, {
      "models/c.sql": [
        "{{ config(materialized='incremental', unique_key='n') }}",
        "select sum(r) as total, count(id) as n from {{ ref('noisy') }}",
        "{% if is_incremental() %}where id >= (select count(*) - count(*) from {{ this }}){% endif %}",
        "",
      ].join("\n"),
    });
    for (const build of ["first", "second"]) {
      const run = await runModels({ command: "build", projectDir: dir, warehouse });
      expect(run.ok, build).toBe(true);
      const [a, b, c] = await totals(warehouse, ["a", "b", "c"]);
      expect([b, c], build).toEqual([a, a]);
    }
  });

  it("leaves a reader DuckDB cannot plan on the view, so that its error names the view", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = noisyProject(ctx, {
      "models/d.sql": "{{ config(materialized='table') }}\nselect no_such_column from {{ ref('noisy') }}\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    const d = run.results.find((r) => r.uniqueId === "model.shop.d")!;
    expect(d.outcome.status).toBe("error");
    expect(d.outcome.message).toContain("no_such_column");
    expect(d.outcome.message).not.toContain("pulse_shared_");
    const [a, b, c] = await totals(warehouse, ["a", "b", "c"]);
    expect([b, c]).toEqual([a, a]);
  });

  it("keeps apart views of one name in two schemas, both copies alive at once", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    // b and c run after a2, b2 and c2 after a: whichever view is copied first, the other is copied before
    // all of the first one's readers are done.
    const reader = (view: string, after: string | undefined, schema = "") =>
      `{{ config(materialized='table'${schema}) }}\nselect sum(r) as total from {{ ref('${view}') }}` +
      (after === undefined ? "\n" : ` where exists (select 1 from {{ ref('${after}') }})\n`);
    const far = ", schema='far'";
    const dir = noisyProject(ctx, {
      "models/far.sql":
        "{{ config(alias='noisy', schema='far') }}\nselect id, 1000000 + random() as r from {{ ref('base') }}\n",
      "models/a.sql": reader("noisy", undefined),
      "models/b.sql": reader("noisy", "a2"),
      "models/c.sql": reader("noisy", "a2"),
      "models/a2.sql": reader("far", undefined, far),
      "models/b2.sql": reader("far", "a", far),
      "models/c2.sql": reader("far", "a", far),
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    const near = await totals(warehouse, ["a", "b", "c"]);
    const { rows } = await warehouse.query(
      "select total from monitoring_datalake_far.a2 union all select total from monitoring_datalake_far.b2 union all select total from monitoring_datalake_far.c2",
    );
    const farTotals = rows.map((row) => Number(row.total));
    expect(new Set(near).size).toBe(1);
    expect(new Set(farTotals).size).toBe(1);
    expect(near[0]).toBeLessThan(1000);
    expect(farTotals[0]).toBeGreaterThan(1_000_000_000);
  });

  it("leaves a test DuckDB answers from statistics on the view, and counts only readers that scan", async (ctx) => {
    const { warehouse, statements } = recording(await openTestWarehouse(ctx));
    const dir = writeProject(ctx, {
      "models/base.sql":
        "{{ config(materialized='table') }}\nselect i as id, 'p' || i as page from range(1000) t(i)\n",
      "models/noisy.sql": "select id, page, random() as r from {{ ref('base') }}\n",
      "models/a.sql": "{{ config(materialized='table') }}\nselect sum(r) as total from {{ ref('noisy') }}\n",
      "models/b.sql": "{{ config(materialized='table') }}\nselect sum(r) as total from {{ ref('noisy') }}\n",
      "models/schema.yml":
        "version: 2\nmodels:\n  - name: noisy\n    columns:\n      - name: page\n        data_tests: [not_null]\n      - name: id\n        data_tests: [not_null]\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    expect(run.counts.pass).toBe(6);
    // Four readers, but the not_null tests scan nothing (no nulls in base's statistics): two left, no copy.
    expect(statements.some((sql) => sql.includes("pulse_shared_"))).toBe(false);
    const [a, b] = await totals(warehouse, ["a", "b"]);
    expect(a).not.toBe(b);
  });

  it("skips the readers of a view that fails, and leaves nothing attached", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = noisyProject(ctx, {
      "models/noisy.sql": "select id, k, page, random() as r, no_such_column from {{ ref('base') }}\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(run.ok).toBe(false);
    const status = Object.fromEntries(
      run.results.map((r) => [run.project.nodes.get(r.uniqueId)!.name, r.outcome.status]),
    );
    expect(status).toEqual({ base: "success", noisy: "error", a: "skipped", b: "skipped", c: "skipped" });
    expect(await attached(warehouse)).toEqual([]);
  });

  it("gives `pulse models test` the same failures through the copy as through the view", async (ctx) => {
    const dir = writeProject(ctx, {
      "models/base.sql":
        "{{ config(materialized='table') }}\nselect i % 10 as id, i % 3 as k from range(100) t(i)\n",
      "models/v.sql": "select id, k from {{ ref('base') }} where k > 0\n",
      "models/schema.yml":
        "version: 2\nmodels:\n  - name: v\n    columns:\n      - name: id\n        data_tests: [unique]\n      - name: k\n        data_tests:\n          - accepted_values:\n              values: [1]\n          - unique\n",
    });
    const failures = async (shareViews: boolean) => {
      const warehouse = await openTestWarehouse(ctx);
      await runModels({ command: "run", projectDir: dir, warehouse });
      const { warehouse: recorded, statements } = recording(warehouse);
      const run = await runModels({ command: "test", projectDir: dir, warehouse: recorded, shareViews });
      return {
        shared: statements.some((sql) => sql.includes("pulse_shared_")),
        failures: Object.fromEntries(
          run.results.map((r) => [run.project.nodes.get(r.uniqueId)!.name, r.outcome.failures]),
        ),
      };
    };
    const on = await failures(true);
    const off = await failures(false);
    expect(on.shared).toBe(true);
    expect(off.shared).toBe(false);
    // 67 rows with k > 0: ids 0–9 each more than once; k is 1 or 2 (accepted_values fails on 2).
    expect(on.failures).toEqual({ unique_v_id: 10, unique_v_k: 2, accepted_values_v_k__1: 1 });
    expect(off.failures).toEqual(on.failures);
  });
});

describe("namesIn", () => {
  const view = { schema: "s", name: "v" };
  /** DuckDB's parse tree of `sql`, as SharedViews reads it. */
  async function tree(ctx: TestContext, sql: string): Promise<unknown> {
    const warehouse = await openTestWarehouse(ctx);
    const { rows } = await warehouse.query(
      `select json_serialize_sql(${warehouse.dialect.quoteLiteral(sql)}) as tree`,
    );
    return JSON.parse(String(rows[0]!.tree));
  }
  const cases: [string, boolean][] = [
    ["select a, count(*) from s.v group by a", false],
    ["select * from s.v", true],
    ["select x.* from s.v as x join t using (k)", true],
    ["select * from (select a from s.v) q", false],
    ["with c as (select a from s.v) select * from c", false],
    ["select v from s.v", true],
    ["select q from s.v as q", true],
    ["select a from s.v natural join t", true],
    ["select columns('a.*') from s.v", true],
    ["select a from t where a in (select * from s.v)", true],
    ["select * from t", false],
  ];
  for (const [sql, unnamed] of cases)
    it(`${unnamed ? "reads unnamed columns" : "names its columns"}: ${sql}`, async (ctx) => {
      const names = new Set<string>();
      expect(namesIn(await tree(ctx, sql), names, view)).toBe(unnamed);
      if (!unnamed && sql.includes("s.v")) expect(names.has("a")).toBe(true);
    });
});
