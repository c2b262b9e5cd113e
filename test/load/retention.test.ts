// The warehouse's retention on DuckDB: exact rows deleted by whole UTC days, other tables untouched (retention-case.ts).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { open as openWarehouse } from "../../src/warehouse/open.ts";
import { warehouseRetentionCase } from "./retention-case.ts";

describe("enforceWarehouseRetention on DuckDB", () => {
  it("deletes the raw rows of days before today − N, to the millisecond of the day's start, and nothing else", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-retention-"));
    const warehouse = await openWarehouse("embedded:warehouse.duckdb", { dataDir: dir });
    ctx.onTestFinished(async () => {
      await warehouse.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await warehouseRetentionCase(warehouse);
  });
});
