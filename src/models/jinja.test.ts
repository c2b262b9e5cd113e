// The Jinja checks and renders: syntax errors, unsupported tags, functions, filters and names, each at the file's line.

import { describe, expect, it } from "vitest";
import { modelError, TEST_TARGET, writeProject } from "../../test/helpers/models.ts";
import { ModelErrorCode } from "../errors.ts";
import { parseProject } from "./parse.ts";

function parseModel(
  ctx: Parameters<typeof writeProject>[0],
  sql: string,
  extra: Record<string, string> = {},
) {
  const dir = writeProject(ctx, { "models/m.sql": sql, "models/base.sql": "select 1 as id\n", ...extra });
  return () => parseProject({ projectDir: dir, target: TEST_TARGET });
}

describe("Jinja checks", () => {
  it("names the file and line of a syntax error", (ctx) => {
    const error = modelError(
      parseModel(ctx, "select 1\nfrom x\n{% if true %}\n{{ ref('base' }}\n{% endif %}\n"),
    );
    expect(error.code).toBe(ModelErrorCode.renderFailed);
    expect(error.message).toMatch(/^models\/m\.sql:4: Jinja syntax error/);
    expect(error.location).toEqual({ file: "models/m.sql", line: 4 });
  });

  it.for([
    ["{% call statement('x') %}select 1{% endcall %}", "the {% call %} tag"],
    ["{% materialization my_mat, default %}{% endmaterialization %}", "the {% materialization %} tag"],
    ["{% do log('x') %}", "the {% do %} tag"],
    ["{% include 'x.sql' %}", "the {% include %} tag"],
    ["select {{ dbt_utils.star(ref('base')) }}", "the function 'dbt_utils.star'"],
    ["{% set r = run_query('select 1') %}", "the function 'run_query'"],
    ["{{ statement('main') }}", "the function 'statement'"],
    ["{{ adapter.get_relation(this) }}", "'adapter.get_relation(…)'"],
    ["select '{{ 'a' | slugify }}'", "the filter 'slugify'"],
    ["{% if var('x', 1) is odd_number %}{% endif %}", "the test 'is odd_number'"],
  ])("rejects %s at its line, naming the construct", ([construct, name], ctx) => {
    const error = modelError(parseModel(ctx, `-- line 1\n-- line 2\n${construct}\n`));
    expect(error.code).toBe(ModelErrorCode.unsupported);
    expect(error.message).toMatch(/^models\/m\.sql:3: /);
    expect(error.message).toContain(name);
  });

  it("rejects a name nothing defines, instead of rendering it empty", (ctx) => {
    const error = modelError(parseModel(ctx, "select 1\nwhere x = '{{ start_dat }}'\n"));
    expect(error.code).toBe(ModelErrorCode.renderFailed);
    expect(error.message).toMatch(/^models\/m\.sql:2: 'start_dat' is undefined/);
  });

  it("maps a runtime error back to the file's line", (ctx) => {
    const error = modelError(parseModel(ctx, "select 1\n\n\n{{ env_var('MODELS_TEST_SURELY_UNSET') }}\n"));
    expect(error.code).toBe(ModelErrorCode.renderFailed);
    expect(error.message).toMatch(
      /^models\/m\.sql:4: the environment variable 'MODELS_TEST_SURELY_UNSET' is not set/,
    );
  });

  it("rejects an unsupported construct inside a macro file at the macro file's line", (ctx) => {
    const error = modelError(
      parseModel(ctx, "select 1", {
        "macros/util.sql": "{% macro a() %}\n  {{ dbt_utils.foo() }}\n{% endmacro %}\n",
      }),
    );
    expect(error.message).toMatch(/^macros\/util\.sql:2: the function 'dbt_utils\.foo'/);
  });

  it("accepts if/for/set, block set, macros from macros/, var, env_var, target, adapter.quote and filters", (ctx) => {
    const sql = [
      "{% set kinds = ['a', 'b'] %}",
      "{% set label %}{{ target.name | upper }}{% endset %}",
      "select",
      "{% for k in kinds %}  {{ cents(adapter.quote(k)) }} as {{ k }}{% if not loop.last %},{% endif %}\n{% endfor %}",
      "from {{ ref('base') }} where '{{ label }}' = 'DEV' and '{{ var('x', 'dflt') }}' = '{{ env_var('MODELS_TEST_SURELY_UNSET', 'e') }}'",
      "{% if var('y', none) is none or (kinds | length) > 1 %}{% endif %}",
      "-- {% raw %}{% call x %}{{ not_rendered }}{% endraw %}",
    ].join("\n");
    const project = parseModel(ctx, sql, {
      "macros/money.sql":
        "{% macro cents(col, scale=100) -%}\n  ({{ col }} * {{ scale }})\n{%- endmacro %}\n",
    })();
    expect(project.nodes.has("model.shop.m")).toBe(true);
  });
});
