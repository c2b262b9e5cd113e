// pulse models end to end: a dbt project built on the configured DuckDB warehouse, its log, exit status, artifacts and errors.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPulse } from "../helpers/cli.ts";
import { writeFile, writeProject } from "../helpers/models.ts";

const FILES = {
  "seeds/users.csv": "user_id,country\n1,FR\n2,DE\n3,\n",
  "models/staging/stg_users.sql": "select user_id, country from {{ ref('users') }}\n",
  "models/marts/dim_countries.sql":
    "{{ config(materialized='table') }}\nselect country, count(*) as users from {{ ref('stg_users') }} where country is not null group by 1\n",
  "models/marts/report.sql": "select * from {{ ref('dim_countries') }}\n",
  "models/schema.yml":
    "version: 2\nmodels:\n  - name: stg_users\n    columns:\n      - name: user_id\n        data_tests: [unique, not_null]\n      - name: country\n        data_tests:\n          - not_null\n",
};

describe("pulse models", () => {
  it("builds a project, prints a line a node and the summary, and exits 1 when an error test fails", async (ctx) => {
    const dir = writeProject(ctx, FILES);
    const dataDir = join(dir, "data");
    const build = await runPulse([
      "models",
      "build",
      "--project-dir",
      dir,
      "--data-dir",
      dataDir,
      "--threads",
      "2",
    ]);
    expect(build.code, build.stderr).toBe(1);
    const lines = build.stdout.split("\n");
    const nodeLines = lines.filter((line) => / \d+ of 7 /.test(line));
    expect(nodeLines).toHaveLength(7);
    expect(build.stdout).toMatch(
      /\d+ of 7 OK loaded seed file monitoring_datalake\.users \.+ \[INSERT 3 in \d+\.\d\ds\]/,
    );
    expect(build.stdout).toMatch(/\d+ of 7 FAIL 1 not_null_stg_users_country \.+ \[FAIL 1 in \d+\.\d\ds\]/);
    expect(build.stdout).toMatch(/\d+ of 7 PASS unique_stg_users_user_id \.+ \[PASS in/);
    expect(build.stdout).toMatch(
      /\d+ of 7 SKIP relation sql table model monitoring_datalake\.dim_countries \.+ \[SKIP\]/,
    );
    expect(build.stdout).toContain("Failure in test not_null_stg_users_country (models/schema.yml)");
    expect(build.stdout).toContain("Got 1 result, configured to fail if != 0");
    expect(build.stdout).toContain("Done. PASS=4 WARN=0 ERROR=1 SKIP=2 TOTAL=7");
    const runResults = JSON.parse(readFileSync(join(dir, "target/run_results.json"), "utf8"));
    expect(runResults.results).toHaveLength(7);

    // The failing test made a warning: everything builds, and the command exits 0.
    writeFile(dir, "dbt_project.yml", "name: shop\ndata_tests:\n  +severity: warn\n");
    const warned = await runPulse(["models", "build", "--project-dir", dir, "--data-dir", dataDir]);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stdout).toContain("Done. PASS=6 WARN=1 ERROR=0 SKIP=0 TOTAL=7");
    // Three nodes scan stg_users (not_null on user_id is answered from statistics): it is computed once.
    expect(warned.stdout).toMatch(
      / Shared view monitoring_datalake\.stg_users in memory for 3 nodes \(2 of 2 columns\) \.+ \[OK in \d+\.\d\ds\]\n/,
    );
    const unshared = await runPulse([
      "models",
      "build",
      "--no-shared-views",
      "--project-dir",
      dir,
      "--data-dir",
      dataDir,
    ]);
    expect(unshared.stdout).toContain("Done. PASS=6 WARN=1 ERROR=0 SKIP=0 TOTAL=7");
    expect(unshared.stdout).not.toContain("Shared view");
    const query = await runPulse([
      "query",
      "select country, users from monitoring_datalake.report order by 1",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    expect(
      query.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { country: "DE", users: 1 },
      { country: "FR", users: 1 },
    ]);
  });

  it("lists a selection with ls, and reports a model error at its file:line with exit status 1", async (ctx) => {
    const dir = writeProject(ctx, FILES);
    const dataDir = join(dir, "data");
    const ls = await runPulse([
      "models",
      "ls",
      "--project-dir",
      dir,
      "--select",
      "+dim_countries",
      "--exclude",
      "users",
    ]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.trim().split("\n")).toEqual([
      "shop.marts.dim_countries",
      "shop.staging.stg_users",
      "shop.not_null_stg_users_country",
      "shop.not_null_stg_users_user_id",
      "shop.unique_stg_users_user_id",
    ]);
    writeFile(
      dir,
      "models/marts/report.sql",
      "select *\nfrom {{ ref('dim_countries') }}\nwhere {{ ref('no_such_model') }} is null\n",
    );
    const broken = await runPulse(["models", "run", "--project-dir", dir, "--data-dir", dataDir]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(
      "models/marts/report.sql:3: model 'report' (model.shop.report) depends on 'no_such_model'",
    );
    expect(broken.stderr).toContain("[PULSE_MODEL_MISSING_REF]");
    const usage = await runPulse(["models", "deploy", "--project-dir", dir]);
    expect(usage.code).toBe(2);
  });
});
