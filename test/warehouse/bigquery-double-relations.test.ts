// The BigQuery warehouse's datasets, tables, views, replaces and merges, against a local double of BigQuery's REST API.

import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, WarehouseErrorCode } from "../../src/errors.ts";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery/index.ts";
import { open } from "../../src/warehouse/open.ts";
import { type Field, startBigQueryDouble } from "../helpers/bigquery-double.ts";

const P = "pulse-test";

async function subject(options: { location?: string; listPageSize?: number } = {}) {
  const double = await startBigQueryDouble({ projectId: P, listPageSize: options.listPageSize });
  const warehouse = await openBigQueryWarehouse({
    projectId: P,
    dataset: "analytics",
    location: options.location,
    apiEndpoint: double.url,
    credentials: { accessToken: "double-token" },
  });
  return { double, warehouse };
}

const METRICS: Field[] = [
  { name: "activity_date", type: "DATE", mode: "REQUIRED" },
  { name: "event_type", type: "STRING", mode: "REQUIRED" },
  { name: "event_count", type: "INTEGER" },
  { name: "unique_users", type: "INTEGER" },
];

describe("BigQuery warehouse (against a double of the REST API): datasets and tables", () => {
  it("creates a missing dataset in the URL's location, once, then the table with GoogleSQL types", async () => {
    const { double, warehouse } = await subject({ location: "EU" });
    const columns = [
      { name: "event_id", type: "string", nullable: false },
      { name: "n", type: "int64" },
      { name: "amount", type: "float64" },
      { name: "bot", type: "boolean" },
      { name: "day", type: "date" },
      { name: "at", type: "timestamp", nullable: false },
    ] as const;
    await warehouse.createTable({ schema: "raw", name: "events" }, columns);
    await warehouse.createTable({ schema: "raw", name: "more" }, [{ name: "x", type: "string" }]);
    expect(double.calls()).toEqual([
      "GET /bigquery/v2/projects/P/datasets/raw",
      "POST /bigquery/v2/projects/P/datasets",
      // Whether the default dataset exists, asked once, before the first statement.
      "GET /bigquery/v2/projects/P/datasets/analytics",
      "POST /bigquery/v2/projects/P/queries",
      "POST /bigquery/v2/projects/P/queries",
    ]);
    expect(double.requests[1]!.body).toEqual({
      datasetReference: { projectId: P, datasetId: "raw" },
      location: "EU",
    });
    expect(double.queries()[0]!.query).toBe(
      `CREATE TABLE IF NOT EXISTS \`${P}\`.\`raw\`.\`events\` (\`event_id\` STRING NOT NULL, \`n\` INT64, \`amount\` FLOAT64, \`bot\` BOOL, \`day\` DATE, \`at\` TIMESTAMP NOT NULL)`,
    );
  });

  it("leaves an existing dataset as it is", async () => {
    const { double, warehouse } = await subject();
    double.addDataset("raw");
    await warehouse.createSchema("raw");
    expect(double.calls()).toEqual(["GET /bigquery/v2/projects/P/datasets/raw"]);
  });

  it("lists a dataset's tables and views over pages, sorted, without staging tables; [] for no dataset", async () => {
    const { double, warehouse } = await subject({ listPageSize: 2 });
    double.addTable("analytics", "stg_user_activity", [], "VIEW");
    double.addTable("analytics", "fct_daily_user_metrics", METRICS);
    double.addTable("analytics", "_pulse_staging_0123456789abcdef_1", METRICS);
    double.addTable("analytics", "dim_users", []);
    double.addTable("analytics", "mv", [], "MATERIALIZED_VIEW");
    expect(await warehouse.relations("analytics")).toEqual([
      { schema: "analytics", name: "dim_users", kind: "table" },
      { schema: "analytics", name: "fct_daily_user_metrics", kind: "table" },
      { schema: "analytics", name: "mv", kind: "view" },
      { schema: "analytics", name: "stg_user_activity", kind: "view" },
    ]);
    expect(double.requests.map((r) => r.query.pageToken)).toEqual([undefined, "2", "4"]);
    expect(await warehouse.relations("nowhere")).toEqual([]);
  });

  it("describes columns by GoogleSQL type names and the seam's types; [] for a missing table", async () => {
    const { double, warehouse } = await subject();
    double.addTable("analytics", "t", [
      ...METRICS,
      { name: "amount", type: "FLOAT" },
      { name: "ok", type: "BOOLEAN" },
      { name: "at", type: "TIMESTAMP" },
      { name: "tags", type: "STRING", mode: "REPEATED" },
      { name: "payload", type: "JSON" },
    ]);
    expect(await warehouse.columns({ schema: "analytics", name: "t" })).toEqual([
      { name: "activity_date", databaseType: "DATE", type: "date", nullable: false },
      { name: "event_type", databaseType: "STRING", type: "string", nullable: false },
      { name: "event_count", databaseType: "INT64", type: "int64", nullable: true },
      { name: "unique_users", databaseType: "INT64", type: "int64", nullable: true },
      { name: "amount", databaseType: "FLOAT64", type: "float64", nullable: true },
      { name: "ok", databaseType: "BOOL", type: "boolean", nullable: true },
      { name: "at", databaseType: "TIMESTAMP", type: "timestamp", nullable: true },
      { name: "tags", databaseType: "ARRAY<STRING>", type: undefined, nullable: true },
      { name: "payload", databaseType: "JSON", type: undefined, nullable: true },
    ]);
    expect(await warehouse.columns({ schema: "analytics", name: "gone" })).toEqual([]);
    expect(await warehouse.columns({ schema: "nowhere", name: "gone" })).toEqual([]);
  });

  it("drops with DROP … IF EXISTS, and a relation in a missing dataset is already gone", async () => {
    const { double, warehouse } = await subject();
    await warehouse.drop({ schema: "analytics", name: "old" }, "table");
    await warehouse.drop({ schema: "analytics", name: "v" }, "view");
    expect(double.queries().map((q) => q.query)).toEqual([
      `DROP TABLE IF EXISTS \`${P}\`.\`analytics\`.\`old\``,
      `DROP VIEW IF EXISTS \`${P}\`.\`analytics\`.\`v\``,
    ]);
    double.onQuery(/gone/, {
      error: { status: 404, reason: "notFound", message: `Not found: Dataset ${P}:gone` },
    });
    await expect(warehouse.drop({ schema: "gone", name: "t" }, "table")).resolves.toBeUndefined();
  });
});

describe("BigQuery warehouse (against a double of the REST API): replaces and merges", () => {
  it("replaces a table with CREATE OR REPLACE TABLE … AS and counts it in the same script", async () => {
    const { double, warehouse } = await subject();
    double.addDataset("analytics");
    double.onQuery(/^CREATE OR REPLACE TABLE/, { fields: [{ name: "n", type: "INTEGER" }], rows: [["42"]] });
    const rows = await warehouse.replaceTable(
      { schema: "analytics", name: "fct_daily_user_metrics" },
      "SELECT DATE(event_time) AS activity_date FROM `raw`.`user_activity` -- by day",
    );
    expect(rows).toBe(42);
    const name = `\`${P}\`.\`analytics\`.\`fct_daily_user_metrics\``;
    expect(double.queries().map((q) => q.query)).toEqual([
      `CREATE OR REPLACE TABLE ${name} AS\nSELECT DATE(event_time) AS activity_date FROM \`raw\`.\`user_activity\` -- by day\n;\nSELECT COUNT(*) AS n FROM ${name};`,
    ]);
  });

  it("replaces a view with CREATE OR REPLACE VIEW, making the dataset first", async () => {
    const { double, warehouse } = await subject();
    await warehouse.replaceView({ schema: "analytics", name: "stg" }, "SELECT 1 AS one;");
    expect(double.calls()).toEqual([
      "GET /bigquery/v2/projects/P/datasets/analytics",
      "POST /bigquery/v2/projects/P/datasets",
      "POST /bigquery/v2/projects/P/queries",
    ]);
    expect(double.queries()[0]!.query).toBe(
      `CREATE OR REPLACE VIEW \`${P}\`.\`analytics\`.\`stg\` AS\nSELECT 1 AS one;`,
    );
  });

  it("merges with one MERGE over the target's columns, returning BigQuery's affected rows", async () => {
    const { double, warehouse } = await subject();
    double.addTable("analytics", "m", METRICS);
    double.onQuery(/^MERGE/, { numDmlAffectedRows: 5 });
    const written = await warehouse.mergeInto(
      { schema: "analytics", name: "m" },
      "SELECT * FROM staged",
      ["activity_date", "EVENT_TYPE"],
      "merge",
    );
    expect(written).toBe(5);
    const q = (name: string) => `\`${name}\``;
    expect(double.queries()[0]!.query).toBe(
      [
        `MERGE INTO \`${P}\`.\`analytics\`.\`m\` AS t`,
        "USING (",
        "SELECT * FROM staged",
        ") AS s",
        `ON t.${q("activity_date")} = s.${q("activity_date")} AND t.${q("EVENT_TYPE")} = s.${q("EVENT_TYPE")}`,
        `WHEN MATCHED THEN UPDATE SET ${q("event_count")} = s.${q("event_count")}, ${q("unique_users")} = s.${q("unique_users")}`,
        `WHEN NOT MATCHED THEN INSERT (${METRICS.map((f) => q(f.name)).join(", ")}) VALUES (${METRICS.map((f) => `s.${q(f.name)}`).join(", ")});`,
      ].join("\n"),
    );
  });

  it("runs delete+insert as one script transaction: the select once, DELETE … WHERE EXISTS, INSERT", async () => {
    const { double, warehouse } = await subject();
    double.addTable("analytics", "m", METRICS);
    double.onQuery(/^DECLARE/, { fields: [{ name: "n", type: "INTEGER" }], rows: [["8"]] });
    const written = await warehouse.mergeInto(
      { schema: "analytics", name: "m" },
      "SELECT * FROM staged WHERE activity_date >= '2026-01-02'",
      ["activity_date", "event_type"],
      "delete+insert",
    );
    expect(written).toBe(8);
    const target = `\`${P}\`.\`analytics\`.\`m\``;
    const list = METRICS.map((f) => `\`${f.name}\``).join(", ");
    expect(double.queries().map((q) => q.query)).toEqual([
      [
        "DECLARE pulse_rows_written INT64 DEFAULT 0;",
        "CREATE TEMP TABLE _pulse_merge_source AS",
        "SELECT * FROM staged WHERE activity_date >= '2026-01-02';",
        "BEGIN TRANSACTION;",
        `DELETE FROM ${target} AS t WHERE EXISTS (SELECT 1 FROM _pulse_merge_source AS s WHERE t.\`activity_date\` = s.\`activity_date\` AND t.\`event_type\` = s.\`event_type\`);`,
        `INSERT INTO ${target} (${list}) SELECT ${list} FROM _pulse_merge_source;`,
        "SET pulse_rows_written = @@row_count;",
        "COMMIT TRANSACTION;",
        "SELECT pulse_rows_written AS n;",
      ].join("\n"),
    ]);
  });

  it("refuses a merge without a key, and one into a table that does not exist", async () => {
    const { double, warehouse } = await subject();
    await expect(
      warehouse.mergeInto({ schema: "analytics", name: "m" }, "SELECT 1", [], "merge"),
    ).rejects.toMatchObject({ code: WarehouseErrorCode.badArgument });
    await expect(
      warehouse.mergeInto({ schema: "analytics", name: "m" }, "SELECT 1", ["k"], "merge"),
    ).rejects.toMatchObject({
      code: WarehouseErrorCode.queryFailed,
      message: expect.stringContaining("does not exist"),
    });
    expect(double.queries()).toEqual([]);
  });
});

describe("open() with a bigquery:// URL", () => {
  it("opens the BigQuery backend on the URL's project, quoting names project.dataset.table", async () => {
    const warehouse = await open("bigquery://my-project/analytics?location=EU", { dataDir: tmpdir() });
    expect(warehouse.dialect.name).toBe("bigquery");
    expect(warehouse.dialect.relationName({ schema: "raw", name: "user_activity" })).toBe(
      "`my-project`.`raw`.`user_activity`",
    );
    await warehouse.close();
  });

  it("refuses a bad bigquery URL with a ConfigError", async () => {
    await expect(open("bigquery://Bad_Project", { dataDir: tmpdir() })).rejects.toThrow(ConfigError);
  });
});
