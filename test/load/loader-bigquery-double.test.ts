// pulse load's loader into the BigQuery warehouse, against a local double of BigQuery's REST API: each page one staged transaction.

import { describe, expect, it } from "vitest";
import { loadRaw } from "../../src/load/index.ts";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery/index.ts";
import { startBigQueryDouble } from "../helpers/bigquery-double.ts";
import { producedWithTruth } from "../helpers/stream-job.ts";

const P = "pulse-test";

describe("loadRaw into BigQuery (against a double of the REST API)", () => {
  it("loads each page by load jobs into staging tables and one script that moves them with the load state", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, { seed: 3, count: 300, duplicateShare: 0.05 });
    await fx.job().drain();
    const double = await startBigQueryDouble({ projectId: P });
    const warehouse = await openBigQueryWarehouse({
      projectId: P,
      apiEndpoint: double.url,
      credentials: { accessToken: "double-token" },
    });
    const pageRows = 70;
    const result = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows });
    const activity = result.topics.find((t) => t.topic === "user-activity")!;
    expect(activity.rowsLoaded).toBe(truth.lake.size);

    // The raw tables and the load state were made in dataset `raw`.
    const statements = double.queries().map((q) => q.query);
    expect(
      statements
        .slice(0, 3)
        .map((sql) => /^CREATE TABLE IF NOT EXISTS `[^`]+`\.`([^`]+)`\.`([^`]+)`/.exec(sql)?.slice(1)),
    ).toEqual([
      ["raw", "_pulse_load_state"],
      ["raw", "user_activity"],
      ["raw", "wikimedia_recentchange"],
    ]);

    // One script per page, each moving the page's staged rows and the state it advances, in the loader's order.
    const scripts = double.queries().filter((q) => q.query.startsWith("BEGIN TRANSACTION;"));
    expect(scripts).toHaveLength(Math.ceil(truth.lake.size / pageRows));
    for (const script of scripts) {
      const lines = script.query.split("\n");
      expect(lines).toHaveLength(5);
      expect(lines[1]).toMatch(
        new RegExp(
          `^INSERT INTO \`${P}\`\\.\`raw\`\\.\`user_activity\` \\(.*\\) SELECT .* FROM \`${P}\`\\.\`raw\`\\.\`_pulse_staging_\\w+_1\`;$`,
        ),
      );
      expect(lines[2]).toMatch(
        /^DELETE FROM `pulse-test`\.`raw`\.`_pulse_load_state` WHERE `topic` = @s2_p1 AND `partition` IN \([\d, ]+\);$/,
      );
      expect(lines[3]).toMatch(
        /^INSERT INTO `pulse-test`\.`raw`\.`_pulse_load_state` \(`topic`, `partition`, `last_offset`, `rows_loaded`, `loaded_at`\) SELECT .* FROM `pulse-test`\.`raw`\.`_pulse_staging_\w+_3`;$/,
      );
      expect(lines[4]).toBe("COMMIT TRANSACTION;");
      expect(script.queryParameters).toEqual([
        { name: "s2_p1", parameterType: { type: "STRING" }, parameterValue: { value: "user-activity" } },
      ]);
    }

    // Every load job went to a staging table; together they hold each raw-lake row once, all columns set.
    const jobs = double.loadJobs();
    expect(
      jobs.every((job) => job.configuration.load.destinationTable.tableId.startsWith("_pulse_staging_")),
    ).toBe(true);
    expect(jobs.every((job) => job.configuration.load.writeDisposition === "WRITE_TRUNCATE")).toBe(true);
    const rowsOf = (table: "user_activity" | "_pulse_load_state") =>
      jobs
        .filter((job) =>
          job.configuration.load.schema!.fields.some(
            (f) => f.name === (table === "user_activity" ? "event_id" : "last_offset"),
          ),
        )
        .flatMap((job) =>
          job.media
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        );
    const rows = rowsOf("user_activity");
    expect(new Map(rows.map((row) => [`${row._log_partition}:${row._offset}`, row.event_id]))).toEqual(
      truth.lake,
    );
    expect(rows).toHaveLength(truth.lake.size);
    for (const row of rows) {
      expect(row._topic).toBe("user-activity");
      expect(row.event_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Object.keys(row)).toHaveLength(16);
    }

    // The last state uploaded for each partition is its last offset and its row count.
    const expected = new Map<number, { last_offset: number; rows_loaded: number }>();
    for (const key of truth.lake.keys()) {
      const [p, o] = key.split(":").map(Number) as [number, number];
      const cell = expected.get(p) ?? { last_offset: -1, rows_loaded: 0 };
      expected.set(p, { last_offset: Math.max(cell.last_offset, o), rows_loaded: cell.rows_loaded + 1 });
    }
    const state = new Map<number, { last_offset: number; rows_loaded: number }>();
    for (const row of rowsOf("_pulse_load_state"))
      state.set(row.partition as number, {
        last_offset: row.last_offset as number,
        rows_loaded: row.rows_loaded as number,
      });
    expect(state).toEqual(expected);

    // Staging tables are gone, and nothing was streamed.
    expect(double.calls().filter((call) => call.startsWith("DELETE"))).toHaveLength(jobs.length);
    expect(double.calls().some((call) => call.endsWith("/insertAll"))).toBe(false);
  });
});
