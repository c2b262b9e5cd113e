// The DuckDB warehouse opened read-only: it reads what a writer left, refuses writes, never creates a missing file, and sits beside other readers.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { open } from "../../src/warehouse/open.ts";

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-duckdb-ro-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("DuckDB read-only", () => {
  it("reads a closed writer's rows, refuses writes, and two readers open the file at once", async () => {
    const dir = dataDir();
    const writer = await open("embedded:warehouse.duckdb", { dataDir: dir });
    await writer.createTable({ schema: "s", name: "t" }, [{ name: "n", type: "int64" }]);
    await writer.append({ schema: "s", name: "t" }, ["n"], [[1], [2]]);
    await writer.close();

    const first = await open("embedded:warehouse.duckdb", { dataDir: dir, readOnly: true });
    onTestFinished(() => first.close());
    const second = await open("embedded:warehouse.duckdb", { dataDir: dir, readOnly: true });
    onTestFinished(() => second.close());
    expect((await first.query("select sum(n) as total from s.t")).rows).toEqual([{ total: 3 }]);
    expect((await second.query("select count(*) as rows from s.t where n = $1", [2])).rows).toEqual([
      { rows: 1 },
    ]);
    await expect(first.query("insert into s.t values (3)")).rejects.toMatchObject({
      code: "PULSE_WAREHOUSE_QUERY_FAILED",
    });
    expect((await second.query("select count(*) as rows from s.t")).rows).toEqual([{ rows: 2 }]);
  });

  it("does not create a missing file or its folder", async () => {
    const dir = join(dataDir(), "not-yet");
    await expect(open("embedded:warehouse.duckdb", { dataDir: dir, readOnly: true })).rejects.toMatchObject({
      code: "PULSE_WAREHOUSE_QUERY_FAILED",
    });
    expect(existsSync(dir)).toBe(false);
  });
});
