// The DuckDB warehouse (the embedded default) runs the Warehouse contract, each case on a file of its own.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "vitest";
import type { Warehouse } from "../../src/warehouse/index.ts";
import { open } from "../../src/warehouse/open.ts";
import { runWarehouseContract } from "../conformance/warehouse.ts";

async function freshWarehouse(ctx: TestContext): Promise<Warehouse> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-duckdb-"));
  const warehouse = await open("embedded:warehouse.duckdb", { dataDir: dir });
  ctx.onTestFinished(async () => {
    await warehouse.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return warehouse;
}

runWarehouseContract("duckdb", freshWarehouse);
