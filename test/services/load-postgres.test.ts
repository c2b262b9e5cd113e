// pulse load's loader into a real PostgreSQL warehouse: every raw-lake row once, a second load adds nothing, a day reloads exactly, retention by day.

import { randomBytes } from "node:crypto";
import { describe, expect, it, type TestContext } from "vitest";
import { loadRaw } from "../../src/load/index.ts";
import type { Warehouse } from "../../src/warehouse/index.ts";
import { open } from "../../src/warehouse/open.ts";
import { producedWithTruth } from "../helpers/stream-job.ts";
import { warehouseRetentionCase } from "../load/retention-case.ts";
import { usePostgres } from "./services.ts";

const postgres = usePostgres();

async function freshWarehouse(ctx: TestContext): Promise<Warehouse> {
  const database = `pulse_load_${randomBytes(6).toString("hex")}`;
  await postgres.admin.query(`CREATE DATABASE ${database}`);
  const warehouse = await open(postgres.urlOf(database), { dataDir: "." });
  ctx.onTestFinished(async () => {
    await warehouse.close();
    await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
  return warehouse;
}

const TABLE_SQL = "SELECT * FROM raw.user_activity ORDER BY _log_partition, _offset";

describe("loadRaw into PostgreSQL", () => {
  it("loads each raw-lake row once, adds nothing when run again, and reloads a day exactly", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, {
      seed: 21,
      count: 5000,
      duplicateShare: 0.03,
      lagShare: 0.05,
    });
    await fx.job().drain();
    const warehouse = await freshWarehouse(ctx);
    const first = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, pageRows: 1500 });
    const keys = await warehouse.query(
      "SELECT _log_partition AS p, _offset AS o, event_id AS e FROM raw.user_activity ORDER BY 1, 2",
    );
    expect(new Map(keys.rows.map((r) => [`${r.p}:${r.o}`, r.e]))).toEqual(truth.lake);
    expect(first.topics[0]!.rowsLoaded).toBe(truth.lake.size);
    const types = await warehouse.columns({ schema: "raw", name: "user_activity" });
    expect(types.find((c) => c.name === "event_time")).toMatchObject({
      databaseType: "timestamp without time zone",
    });

    const before = (await warehouse.query(TABLE_SQL)).rows;
    const again = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse });
    expect(again.topics.map((t) => t.rowsLoaded)).toEqual([0, 0]);
    expect((await warehouse.query(TABLE_SQL)).rows).toEqual(before);

    const day = first.topics[0]!.days[1]!;
    await warehouse.query("DELETE FROM raw.user_activity WHERE CAST(event_time AS date) = CAST($1 AS date)", [
      day,
    ]);
    const reload = await loadRaw({ lake: fx.store.lake, serde: fx.serde, warehouse, reloadDays: [day] });
    expect(reload.topics[0]!.rowsReloaded).toBeGreaterThan(0);
    expect((await warehouse.query(TABLE_SQL)).rows).toEqual(before);
  });

  it("retention deletes the raw rows of days before today − N and nothing else", async (ctx) => {
    await warehouseRetentionCase(await freshWarehouse(ctx));
  });
});
