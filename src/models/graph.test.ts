// The graph stage: refs resolved, a missing ref and a cycle named with their nodes and lines, a deterministic order.

import { describe, expect, it } from "vitest";
import { modelError, TEST_TARGET, writeProject } from "../../test/helpers/models.ts";
import { ModelErrorCode } from "../errors.ts";
import { buildGraph, topologicalOrder } from "./graph.ts";
import { parseProject } from "./parse.ts";

function graphOf(dir: string) {
  const project = parseProject({ projectDir: dir, target: TEST_TARGET });
  return { project, graph: buildGraph(project) };
}

describe("buildGraph", () => {
  it("names both nodes and the ref's file:line when a ref has no node", (ctx) => {
    const dir = writeProject(ctx, {
      "models/a.sql": "select 1 as id\n",
      "models/b.sql": "select *\nfrom {{ ref('a') }}\njoin {{ ref('missing_model') }} using (id)\n",
    });
    const error = modelError(() => graphOf(dir));
    expect(error.code).toBe(ModelErrorCode.missingRef);
    expect(error.message).toMatch(
      /^models\/b\.sql:3: model 'b' \(model\.shop\.b\) depends on 'missing_model' with ref\('missing_model'\)/,
    );
    expect(error.location).toEqual({ file: "models/b.sql", line: 3 });
  });

  it("names the source and the tables it has when a source table is not declared", (ctx) => {
    const dir = writeProject(ctx, {
      "models/src.yml": "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n",
      "models/a.sql": "select * from {{ source('raw', 'order') }}\n",
    });
    const error = modelError(() => graphOf(dir));
    expect(error.message).toMatch(
      /^models\/a\.sql:1: model 'a' .* reads source\('raw', 'order'\), which is not declared\. Source 'raw' has the tables orders/,
    );
  });

  it("says when a ref points at a disabled model", (ctx) => {
    const dir = writeProject(ctx, {
      "models/a.sql": "{{ config(enabled=false) }}\nselect 1 as id\n",
      "models/b.sql": "select * from {{ ref('a') }}\n",
    });
    expect(modelError(() => graphOf(dir)).message).toContain(
      "depends on model 'a' (model.shop.a, models/a.sql), which is disabled",
    );
  });

  it("names every node on a cycle, with its file", (ctx) => {
    const dir = writeProject(ctx, {
      "models/a.sql": "select * from {{ ref('c') }}\n",
      "models/b.sql": "select * from {{ ref('a') }}\n",
      "models/c.sql": "select * from {{ ref('b') }}\n",
      "models/d.sql": "select * from {{ ref('a') }}\n",
    });
    const error = modelError(() => graphOf(dir));
    expect(error.code).toBe(ModelErrorCode.cycle);
    expect(error.message).toContain("model.shop.a (models/a.sql)");
    expect(error.message).toContain("model.shop.b (models/b.sql)");
    expect(error.message).toContain("model.shop.c (models/c.sql)");
    expect(error.message).not.toContain("model.shop.d");
  });

  it("keeps refs only an is_incremental() branch reaches, and orders nodes parents first, ties by id", (ctx) => {
    const dir = writeProject(ctx, {
      "models/z_base.sql": "select 1 as id\n",
      "models/a_mid.sql": "select * from {{ ref('z_base') }}\n",
      "models/m_other.sql": "select 2 as id\n",
      "models/top.sql":
        "{{ config(materialized='incremental') }}\nselect * from {{ ref('a_mid') }}\n{% if is_incremental() %}union all select * from {{ ref('m_other') }}{% endif %}\n",
    });
    const { graph } = graphOf(dir);
    expect(graph.parents.get("model.shop.top")).toEqual(["model.shop.a_mid", "model.shop.m_other"]);
    expect(graph.children.get("model.shop.z_base")).toEqual(["model.shop.a_mid"]);
    const order = topologicalOrder(graph.ids, (id) => graph.parents.get(id) ?? []);
    expect(order).toEqual(["model.shop.m_other", "model.shop.z_base", "model.shop.a_mid", "model.shop.top"]);
  });
});
