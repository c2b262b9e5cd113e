// The select stage: names, +model, model+, @, tag:, path:, source:, unions, intersections, --exclude and tests picked with their models.

import { describe, expect, it } from "vitest";
import { modelError, TEST_TARGET, writeProject } from "../../test/helpers/models.ts";
import { ModelErrorCode } from "../errors.ts";
import { buildGraph } from "./graph.ts";
import { parseProject } from "./parse.ts";
import { selectNodes } from "./select.ts";

function project(ctx: Parameters<typeof writeProject>[0]) {
  const dir = writeProject(ctx, {
    "dbt_project.yml":
      "name: shop\nmodels:\n  shop:\n    staging:\n      +tags: [staging]\n    marts:\n      +tags: [marts]\n",
    "models/staging/src.yml": "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n",
    "models/staging/stg_orders.sql": "select * from {{ source('raw', 'orders') }}\n",
    "models/staging/stg_users.sql": "select 1 as user_id\n",
    "models/marts/fct_orders.sql":
      "{{ config(tags=['daily']) }}\nselect * from {{ ref('stg_orders') }} join {{ ref('stg_users') }} on true\n",
    "models/marts/fct_report.sql": "select * from {{ ref('fct_orders') }}\n",
    "models/marts/schema.yml":
      "version: 2\nmodels:\n  - name: fct_orders\n    columns:\n      - name: user_id\n        data_tests:\n          - not_null\n          - relationships: {to: ref('stg_users'), field: user_id}\n",
    "tests/orders_positive.sql": "select * from {{ ref('fct_orders') }} where 1 = 0\n",
  });
  const parsed = parseProject({ projectDir: dir, target: TEST_TARGET });
  const graph = buildGraph(parsed);
  const names = (select: string[], exclude: string[] = []) =>
    selectNodes(parsed, graph, { select, exclude }).map((id) => {
      const node = parsed.nodes.get(id);
      return node === undefined ? id : node.name;
    });
  return names;
}

const NOT_NULL = "not_null_fct_orders_user_id";
const RELATIONSHIPS = "relationships_fct_orders_user_id__user_id__ref_stg_users_";

describe("selectNodes", () => {
  it("selects a node by name with the tests on it (eager indirect selection)", (ctx) => {
    const names = project(ctx);
    expect(names(["fct_orders"]).sort()).toEqual(
      ["fct_orders", "orders_positive", NOT_NULL, RELATIONSHIPS].sort(),
    );
    // The relationships test also reads stg_users, so selecting stg_users picks it up too.
    expect(names(["stg_users"]).sort()).toEqual([RELATIONSHIPS, "stg_users"].sort());
  });

  it("follows graph operators: +model, model+, depths, and @model", (ctx) => {
    const names = project(ctx);
    expect(
      names(["+fct_report"])
        .filter((n) => !n.includes("_fct_orders_") && n !== "orders_positive")
        .sort(),
    ).toEqual(["fct_orders", "fct_report", "source.shop.raw.orders", "stg_orders", "stg_users"]);
    expect(names(["stg_orders+"]).filter((n) => n.startsWith("stg") || n.startsWith("fct"))).toEqual([
      "fct_orders",
      "fct_report",
      "stg_orders",
    ]);
    expect(names(["stg_orders+1"]).filter((n) => n.startsWith("stg") || n.startsWith("fct"))).toEqual([
      "fct_orders",
      "stg_orders",
    ]);
    expect(names(["1+fct_report"]).filter((n) => n.startsWith("stg") || n.startsWith("fct"))).toEqual([
      "fct_orders",
      "fct_report",
    ]);
    expect(names(["@stg_orders"]).filter((n) => n.startsWith("stg") || n.startsWith("fct"))).toEqual([
      "fct_orders",
      "fct_report",
      "stg_orders",
      "stg_users",
    ]);
  });

  it("selects by tag:, path:, source:, folder and glob, unions words and intersects commas", (ctx) => {
    const names = project(ctx);
    const models = (list: string[]) =>
      list.filter((n) => n.startsWith("stg") || n.startsWith("fct") || n.startsWith("source")).sort();
    expect(models(names(["tag:staging"]))).toEqual(["stg_orders", "stg_users"]);
    expect(models(names(["tag:daily"]))).toEqual(["fct_orders"]);
    expect(models(names(["path:models/marts"]))).toEqual(["fct_orders", "fct_report"]);
    expect(models(names(["path:models/marts/fct_report.sql"]))).toEqual(["fct_report"]);
    expect(models(names(["staging"]))).toEqual(["stg_orders", "stg_users"]);
    expect(models(names(["stg_*"]))).toEqual(["stg_orders", "stg_users"]);
    expect(models(names(["source:raw+"]))).toEqual([
      "fct_orders",
      "fct_report",
      "source.shop.raw.orders",
      "stg_orders",
    ]);
    expect(models(names(["stg_users fct_report"]))).toEqual(["fct_report", "stg_users"]);
    expect(models(names(["tag:marts,tag:daily"]))).toEqual(["fct_orders"]);
  });

  it("drops what --exclude picks, with the tests on it", (ctx) => {
    const names = project(ctx);
    expect(names(["tag:marts"], ["fct_orders"])).toEqual(["fct_report"]);
    expect(names([], ["staging", "marts"])).toEqual(["source.shop.raw.orders"]);
  });

  it("rejects a selector method it does not have", (ctx) => {
    const names = project(ctx);
    const error = modelError(() => names(["state:modified"]));
    expect(error.code).toBe(ModelErrorCode.projectInvalid);
    expect(error.message).toContain("'state' is not a selector method");
  });
});
