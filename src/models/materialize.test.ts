// Materializations on a real DuckDB warehouse: view, table swap, incremental (merge, delete+insert, append), ephemeral CTEs, seeds.

import { describe, expect, it } from "vitest";
import { openTestWarehouse, writeFile, writeProject } from "../../test/helpers/models.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { runModels } from "./runner.ts";

const rows = async (warehouse: Warehouse, sql: string) => (await warehouse.query(sql)).rows;

const EVENTS_SEED = [
  "event_id,user_id,event_type,amount,day,at,is_bot",
  "1,u1,VIEW,,2024-01-01,2024-01-01 10:00:00,false",
  "2,u1,PURCHASE,12.5,2024-01-01,2024-01-01 10:05:00,false",
  "3,u2,VIEW,,2024-01-02,2024-01-02T09:00:00Z,true",
  "",
].join("\n");

describe("materializations", () => {
  it("loads a seed with types inferred as dbt's agate does, and column_types over them", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "dbt_project.yml":
        "name: shop\nseeds:\n  shop:\n    +column_types:\n      user_id: varchar(16)\n      event_id: varchar\n",
      "seeds/events.csv": EVENTS_SEED,
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    const columns = await warehouse.columns({ schema: "monitoring_datalake", name: "events" });
    expect(columns.map((c) => [c.name, c.type])).toEqual([
      ["event_id", "string"],
      ["user_id", "string"],
      ["event_type", "string"],
      ["amount", "float64"],
      ["day", "date"],
      ["at", "timestamp"],
      ["is_bot", "boolean"],
    ]);
    expect(
      await rows(
        warehouse,
        'select event_id, amount, day, "at", is_bot from monitoring_datalake.events order by event_id',
      ),
    ).toEqual([
      { event_id: "1", amount: null, day: "2024-01-01", at: new Date("2024-01-01T10:00:00Z"), is_bot: false },
      { event_id: "2", amount: 12.5, day: "2024-01-01", at: new Date("2024-01-01T10:05:00Z"), is_bot: false },
      { event_id: "3", amount: null, day: "2024-01-02", at: new Date("2024-01-02T09:00:00Z"), is_bot: true },
    ]);
    // A second run replaces the rows (dbt truncates and inserts): still three, not six.
    writeFile(dir, "seeds/events.csv", EVENTS_SEED.split("\n").slice(0, 3).join("\n"));
    await runModels({ command: "seed", projectDir: dir, warehouse });
    expect(await rows(warehouse, "select count(*) as n from monitoring_datalake.events")).toEqual([{ n: 2 }]);
  });

  it("builds views and tables in the target schema and in <target>_<custom> schemas", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "dbt_project.yml":
        "name: shop\nmodels:\n  shop:\n    staging:\n      +schema: staging\n    marts:\n      +materialized: table\n",
      "seeds/events.csv": EVENTS_SEED,
      "models/staging/stg_events.sql": "select event_id, user_id, event_type from {{ ref('events') }}\n",
      "models/marts/fct_counts.sql":
        "select event_type, count(*) as n from {{ ref('stg_events') }} group by 1\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse, targetSchema: "analytics" });
    expect(run.ok).toBe(true);
    expect(await warehouse.relations("analytics_staging")).toEqual([
      { schema: "analytics_staging", name: "stg_events", kind: "view" },
    ]);
    expect(await warehouse.relations("analytics")).toEqual([
      { schema: "analytics", name: "events", kind: "table" },
      { schema: "analytics", name: "fct_counts", kind: "table" },
    ]);
    const table = run.results.find((r) => r.uniqueId === "model.shop.fct_counts")!;
    expect(table.outcome.rowsAffected).toBe(2);
    expect(table.relationName).toBe('"analytics"."fct_counts"');
    // A model that turns from view to table (and back) replaces the other kind.
    writeFile(
      dir,
      "dbt_project.yml",
      "name: shop\nmodels:\n  shop:\n    staging:\n      +schema: staging\n      +materialized: table\n    marts:\n      +materialized: view\n",
    );
    expect(
      (await runModels({ command: "run", projectDir: dir, warehouse, targetSchema: "analytics" })).ok,
    ).toBe(true);
    expect((await warehouse.relations("analytics_staging"))[0]!.kind).toBe("table");
    expect((await warehouse.relations("analytics")).find((r) => r.name === "fct_counts")!.kind).toBe("view");
  });

  it("swaps a table in whole: a failing rebuild leaves the old table readable", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "models/t.sql": "{{ config(materialized='table') }}\nselect 1 as id union all select 2\n",
    });
    expect((await runModels({ command: "run", projectDir: dir, warehouse })).ok).toBe(true);
    writeFile(
      dir,
      "models/t.sql",
      "{{ config(materialized='table') }}\nselect 1 as id, cast('x' as integer) as broken\n",
    );
    const failed = await runModels({ command: "run", projectDir: dir, warehouse });
    expect(failed.ok).toBe(false);
    expect(failed.results[0]!.outcome.status).toBe("error");
    expect(failed.results[0]!.outcome.message).toMatch(/^models\/t\.sql: model t failed: /);
    expect(await rows(warehouse, "select id from monitoring_datalake.t order by id")).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
  });

  for (const strategy of ["merge", "delete+insert"] as const) {
    it(`runs an incremental model with unique_key and ${strategy}: a table first, then is_incremental() true`, async (ctx) => {
      const warehouse = await openTestWarehouse(ctx);
      await warehouse.createTable({ schema: "raw", name: "orders" }, [
        { name: "id", type: "int64" },
        { name: "status", type: "string" },
        { name: "day", type: "int64" },
      ]);
      await warehouse.append(
        { schema: "raw", name: "orders" },
        ["id", "status", "day"],
        [
          [1, "placed", 1],
          [2, "placed", 1],
        ],
      );
      const model = [
        `{{ config(materialized='incremental', unique_key='id', incremental_strategy='${strategy}') }}`,
        "select id, status, day, {{ 'true' if is_incremental() else 'false' }} as incremental_run",
        "from {{ source('raw', 'orders') }}",
        "{% if is_incremental() %}",
        "where day > (select max(day) from {{ this }})",
        "{% endif %}",
      ].join("\n");
      const dir = writeProject(ctx, {
        "models/sources.yml": "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n",
        "models/orders.sql": model,
      });
      expect((await runModels({ command: "run", projectDir: dir, warehouse })).ok).toBe(true);
      const all = "select id, status, day, incremental_run from monitoring_datalake.orders order by id";
      expect(await rows(warehouse, all)).toEqual([
        { id: 1, status: "placed", day: 1, incremental_run: false },
        { id: 2, status: "placed", day: 1, incremental_run: false },
      ]);
      await warehouse.query("update raw.orders set status = 'shipped', day = 2 where id = 2");
      await warehouse.append({ schema: "raw", name: "orders" }, ["id", "status", "day"], [[3, "placed", 2]]);
      const second = await runModels({ command: "run", projectDir: dir, warehouse });
      expect(second.results[0]!.outcome.compiledCode).toContain(
        'where day > (select max(day) from "monitoring_datalake"."orders")',
      );
      expect(second.results[0]!.outcome.rowsAffected).toBe(2);
      expect(await rows(warehouse, all)).toEqual([
        { id: 1, status: "placed", day: 1, incremental_run: false },
        { id: 2, status: "shipped", day: 2, incremental_run: true },
        { id: 3, status: "placed", day: 2, incremental_run: true },
      ]);
      // --full-refresh rebuilds it as a table, with is_incremental() false again.
      await runModels({ command: "run", projectDir: dir, warehouse, fullRefresh: true });
      expect(
        await rows(
          warehouse,
          "select count(*) as n, bool_or(incremental_run) as any_incremental from monitoring_datalake.orders",
        ),
      ).toEqual([{ n: 3, any_incremental: false }]);
    });
  }

  it("appends when an incremental model has no unique_key", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "models/log.sql":
        "{{ config(materialized='incremental') }}\nselect {{ 2 if is_incremental() else 1 }} as run_number\n",
    });
    await runModels({ command: "run", projectDir: dir, warehouse });
    await runModels({ command: "run", projectDir: dir, warehouse });
    expect(await rows(warehouse, "select run_number from monitoring_datalake.log order by 1")).toEqual([
      { run_number: 1 },
      { run_number: 2 },
    ]);
  });

  it("inlines ephemeral models as __dbt__cte__ CTEs, parents first, into a model's own with list", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "models/base.sql":
        "{{ config(materialized='ephemeral') }}\nselect 1 as id union all select 2 union all select 3\n",
      "models/odd.sql":
        "{{ config(materialized='ephemeral') }}\nselect id from {{ ref('base') }} where id % 2 = 1\n",
      "models/report.sql":
        "-- a leading comment\nwith doubled as (select id * 2 as d from {{ ref('odd') }})\nselect d from doubled\n",
    });
    const run = await runModels({ command: "build", projectDir: dir, warehouse });
    expect(run.ok).toBe(true);
    expect(run.results.map((r) => r.uniqueId)).toEqual(["model.shop.report"]);
    const sql = run.results[0]!.outcome.compiledCode!;
    expect(sql.indexOf("__dbt__cte__base as (")).toBeLessThan(sql.indexOf("__dbt__cte__odd as ("));
    expect(sql).toMatch(/^-- a leading comment\nwith __dbt__cte__base as \(/);
    expect(sql).toContain("select id from __dbt__cte__base where id % 2 = 1");
    expect(await rows(warehouse, "select d from monitoring_datalake.report order by d")).toEqual([
      { d: 2 },
      { d: 6 },
    ]);
    expect(await warehouse.relations("monitoring_datalake")).toEqual([
      { schema: "monitoring_datalake", name: "report", kind: "view" },
    ]);
  });

  it("uses a project's generate_schema_name macro instead of dbt's default rule", async (ctx) => {
    const warehouse = await openTestWarehouse(ctx);
    const dir = writeProject(ctx, {
      "macros/schemas.sql":
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n  {{ custom_schema_name if custom_schema_name is not none else target.schema }}\n{%- endmacro %}\n",
      "models/m.sql": "{{ config(schema='marts') }}\nselect 1 as x\n",
    });
    expect((await runModels({ command: "run", projectDir: dir, warehouse })).ok).toBe(true);
    expect(await warehouse.relations("marts")).toEqual([{ schema: "marts", name: "m", kind: "view" }]);
  });
});
