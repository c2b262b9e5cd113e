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
