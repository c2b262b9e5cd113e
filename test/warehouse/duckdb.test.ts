// The DuckDB warehouse (the embedded default) runs the Warehouse contract, each case on a file of its own.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, type TestContext } from "vitest";
import type { SqlValue, Warehouse } from "../../src/warehouse/index.ts";
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

describe("DuckDB's bulk path (a CSV file read by DuckDB)", () => {
  it("keeps a NUL and every control character inside a string", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    const table = { schema: "main", name: "controls" };
    await warehouse.createTable(table, [
      { name: "id", type: "int64", nullable: false },
      { name: "s", type: "string", nullable: true },
    ]);
    const controls = Array.from({ length: 32 }, (_, code) => `a${String.fromCharCode(code)}b`);
    const rows: SqlValue[][] = Array.from({ length: 6_000 }, (_, i) => [i, controls[i % 32]!]);
    expect(await warehouse.append(table, ["id", "s"], rows)).toBe(6_000);
    const back = await warehouse.query(`SELECT id, s FROM main.controls ORDER BY id`);
    expect(back.rows.map((row) => row.s)).toEqual(rows.map((row) => row[1]));
  });
});
