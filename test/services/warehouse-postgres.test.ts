// The PostgreSQL warehouse against a real server (scripts/services/postgres.sh): the Warehouse contract, each case in a database of its own, and what is PostgreSQL's own.
import { randomBytes } from "node:crypto";
import { describe, expect, it, type TestContext } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../src/errors.ts";
import { openPostgresWarehouse } from "../../src/warehouse/postgres/index.ts";
import type { Warehouse } from "../../src/warehouse/index.ts";
import { runWarehouseContract } from "../conformance/warehouse.ts";
import { usePostgres } from "./services.ts";

const postgres = usePostgres();

/** A warehouse on a new database, dropped (with any session left on it) when the test ends. */
async function freshWarehouse(ctx: TestContext): Promise<Warehouse> {
  const database = `pulse_test_${randomBytes(6).toString("hex")}`;
  await postgres.admin.query(`CREATE DATABASE ${database}`);
  let warehouse: Warehouse | undefined;
  ctx.onTestFinished(async () => {
    await warehouse?.close();
    await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
  warehouse = await openPostgresWarehouse({ url: postgres.urlOf(database) });
  return warehouse;
}

runWarehouseContract("postgres", freshWarehouse);

describe("PostgreSQL warehouse: its own", () => {
  it("gives a server that is not there, or a database that is not, as unavailable and retriable, without the password", async () => {
    const nowhere = await openPostgresWarehouse({
      url: "postgres://pulse:s3cret-pw@127.0.0.1:1/pulse",
    }).catch((e: unknown) => e);
    expect(nowhere).toBeInstanceOf(WarehouseError);
    expect((nowhere as WarehouseError).code).toBe(WarehouseErrorCode.unavailable);
    expect((nowhere as WarehouseError).retriable).toBe(true);
    expect((nowhere as WarehouseError).message).toContain("postgres://pulse@127.0.0.1:1/pulse");
    expect((nowhere as WarehouseError).message).not.toContain("s3cret-pw");

    const missing = await openPostgresWarehouse({ url: postgres.urlOf("pulse_no_such_database") }).catch(
      (e: unknown) => e,
    );
    expect((missing as WarehouseError).code).toBe(WarehouseErrorCode.unavailable);
    expect((missing as WarehouseError).details.sqlstate).toBe("3D000");
    expect((missing as WarehouseError).message).toContain('database "pulse_no_such_database" does not exist');
  });

  it("puts the SQLSTATE and the error's position in a refused statement's details", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    const error = (await warehouse
      .query("SELECT * FROM nowhere_at_all")
      .catch((e: unknown) => e)) as WarehouseError;
    expect(error.code).toBe(WarehouseErrorCode.queryFailed);
    expect(error.details).toMatchObject({ sqlstate: "42P01", position: "15" });
    expect(error.message).toContain('relation "nowhere_at_all" does not exist');
  });

  it("reads PostgreSQL's other types: timestamptz as the instant, small ints and numeric as numbers, json as text", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    const result = await warehouse.query(
      `SELECT TIMESTAMPTZ '2026-01-01 00:00:00.123456+02' AS tz,
              CAST(TIMESTAMPTZ '2026-01-01 00:00:00+02' AS timestamp) AS wall,
              TIMESTAMP '2026-01-01 00:00:00.999999' AS cut,
              CAST(7 AS smallint) AS small, 12345678.25::numeric(12, 2) AS dec, 1.5::real AS r,
              '{"a": [1, 2]}'::json AS j, ARRAY[1, 2] AS arr, current_setting('TimeZone') AS zone`,
    );
    expect(result.rows).toEqual([
      {
        tz: new Date(Date.UTC(2025, 11, 31, 22, 0, 0, 123)),
        wall: new Date(Date.UTC(2025, 11, 31, 22)),
        cut: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 999)),
        small: 7,
        dec: 12_345_678.25,
        r: 1.5,
        j: '{"a": [1, 2]}',
        arr: "{1,2}",
        zone: "UTC",
      },
    ]);
  });

  it("introspects PostgreSQL's own types, mapping those the seam knows", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    await warehouse.createSchema("s");
    await warehouse.query(
      `CREATE TABLE s.t (a varchar(10) NOT NULL, b integer, c numeric(12, 2), d timestamptz, e jsonb, f integer[])`,
    );
    expect(await warehouse.columns({ schema: "s", name: "t" })).toEqual([
      { name: "a", databaseType: "character varying(10)", type: "string", nullable: false },
      { name: "b", databaseType: "integer", type: "int64", nullable: true },
      { name: "c", databaseType: "numeric(12,2)", type: "float64", nullable: true },
      { name: "d", databaseType: "timestamp with time zone", type: "timestamp", nullable: true },
      { name: "e", databaseType: "jsonb", type: undefined, nullable: true },
      { name: "f", databaseType: "integer[]", type: undefined, nullable: true },
    ]);
  });

  it("keeps a materialized view and a view's options across replaceTable", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    await warehouse.replaceTable({ schema: "s", name: "t" }, "SELECT 1 AS k UNION ALL SELECT 2");
    await warehouse.query("CREATE MATERIALIZED VIEW s.m AS SELECT sum(k) AS total FROM s.t");
    await warehouse.query(
      "CREATE VIEW s.barrier WITH (security_barrier = true) AS SELECT k FROM s.t WHERE k > 1",
    );
    await warehouse.replaceTable({ schema: "s", name: "t" }, "SELECT 10 AS k UNION ALL SELECT 20");
    // The materialized view is built again, so it holds the new table's data.
    expect((await warehouse.query("SELECT total FROM s.m")).rows).toEqual([{ total: 30 }]);
    expect((await warehouse.query("SELECT k FROM s.barrier ORDER BY k")).rows).toEqual([
      { k: 10 },
      { k: 20 },
    ]);
    const options = await warehouse.query(
      "SELECT reloptions::text AS options FROM pg_class WHERE relname = 'barrier'",
    );
    expect(options.rows).toEqual([{ options: "{security_barrier=true}" }]);
    expect(await warehouse.relations("s")).toEqual([
      { schema: "s", name: "barrier", kind: "view" },
      { schema: "s", name: "m", kind: "view" },
      { schema: "s", name: "t", kind: "table" },
    ]);
  });

  it("refuses a replaceTable that would break a view reading it, naming the view, and changes nothing", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    await warehouse.replaceTable({ schema: "s", name: "t" }, "SELECT 1 AS k, 'a' AS v");
    await warehouse.replaceView({ schema: "s", name: "reads_v" }, "SELECT v FROM s.t");
    const error = (await warehouse
      .replaceTable({ schema: "s", name: "t" }, "SELECT 2 AS k")
      .catch((e: unknown) => e)) as WarehouseError;
    expect(error.code).toBe(WarehouseErrorCode.queryFailed);
    expect(error.message).toContain('"s"."reads_v"');
    expect(error.message).toContain("column t.v does not exist");
    expect((await warehouse.query("SELECT k, v FROM s.t")).rows).toEqual([{ k: 1, v: "a" }]);
    expect((await warehouse.query("SELECT v FROM s.reads_v")).rows).toEqual([{ v: "a" }]);
  });

  it("does not drop a table that views read (no CASCADE): the error says so", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    await warehouse.replaceTable({ schema: "s", name: "t" }, "SELECT 1 AS k");
    await warehouse.replaceView({ schema: "s", name: "v" }, "SELECT k FROM s.t");
    const error = (await warehouse
      .drop({ schema: "s", name: "t" }, "table")
      .catch((e: unknown) => e)) as WarehouseError;
    expect(error.code).toBe(WarehouseErrorCode.queryFailed);
    expect(error.details.sqlstate).toBe("2BP01");
    expect((await warehouse.relations("s")).map((r) => r.name)).toEqual(["t", "v"]);
  });

  it("refuses names past 63 bytes and a merge key the select does not have, before writing anything", async (ctx) => {
    const warehouse = await freshWarehouse(ctx);
    const long = await warehouse
      .createTable({ schema: "s", name: "n".repeat(64) }, [{ name: "k", type: "int64" }])
      .catch((e: unknown) => e);
    expect((long as WarehouseError).code).toBe(WarehouseErrorCode.badArgument);
    expect(await warehouse.relations("s")).toEqual([]);

    await warehouse.createTable({ schema: "s", name: "t" }, [{ name: "k", type: "int64" }]);
    const key = await warehouse
      .mergeInto({ schema: "s", name: "t" }, "SELECT 1 AS other", ["k"], "merge")
      .catch((e: unknown) => e);
    expect((key as WarehouseError).code).toBe(WarehouseErrorCode.badArgument);
    expect((key as WarehouseError).message).toContain('no key column "k"');
  });
});
