// The BigQuery warehouse against the real service: the Warehouse contract and BigQuery's own cases, only when credentials are set.

/*
 * Runs only when GOOGLE_APPLICATION_CREDENTIALS (a service account key file, or any Application Default
 * Credentials file) and PULSE_BIGQUERY_PROJECT (a project the account may create datasets and run jobs
 * in) are set; PULSE_BIGQUERY_LOCATION picks the location (US by default). Every case works in datasets
 * of its own (pulse_<label>_<hex>), dropped with everything in them when it ends. It costs a few cents of
 * queries; a 100,000-row load job is the largest.
 */

import { describe, expect, it, type TestContext } from "vitest";
import { WarehouseErrorCode } from "../../src/errors.ts";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery/index.ts";
import type { Relation, Warehouse } from "../../src/warehouse/index.ts";
import { runWarehouseContract } from "../conformance/warehouse.ts";
import { uniqueSchema } from "../conformance/warehouse-fixtures.ts";

const project = process.env.PULSE_BIGQUERY_PROJECT;
const location = process.env.PULSE_BIGQUERY_LOCATION ?? "US";
const ready = process.env.GOOGLE_APPLICATION_CREDENTIALS !== undefined && project !== undefined;
const SKIPPED =
  "skipped: set GOOGLE_APPLICATION_CREDENTIALS and PULSE_BIGQUERY_PROJECT to run against the real BigQuery";
if (!ready) console.info(`test/services/warehouse-bigquery.test.ts: ${SKIPPED}`);

function open(): Promise<Warehouse> {
  return openBigQueryWarehouse({ projectId: project!, location, dataset: uniqueSchema("models") });
}

/**
 * A warehouse for one case. Every dataset the case names through it is dropped, with its tables, when the
 * case ends (by another warehouse, since the case may close this one).
 */
async function freshWarehouse(ctx: TestContext): Promise<Warehouse> {
  const warehouse = await open();
  const datasets = new Set<string>();
  const seen = (relation: Relation | string) =>
    datasets.add(typeof relation === "string" ? relation : relation.schema);
  ctx.onTestFinished(async () => {
    await warehouse.close();
    const cleaner = await open();
    for (const dataset of datasets)
      await cleaner.query(`DROP SCHEMA IF EXISTS \`${project}\`.\`${dataset}\` CASCADE`).catch(() => {});
    await cleaner.close();
  });
  return new Proxy(warehouse, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (["createSchema", "relations"].includes(key as string)) seen(args[0] as string);
        else if (args[0] !== null && typeof args[0] === "object" && "schema" in args[0])
          seen(args[0] as Relation);
        return value.apply(target, args);
      };
    },
  });
}

describe.skipIf(!ready)(ready ? "BigQuery (the real service)" : `BigQuery (${SKIPPED})`, () => {
  runWarehouseContract("bigquery", freshWarehouse, {
    skip: {
      "reads in a transaction":
        "a transaction's statements are deferred to one script at commit (load jobs cannot join a BigQuery transaction), so a SELECT inside one is refused and a write's row count is not known until then",
      isolation:
        "the case reads inside the transaction, which BigQuery's staged transactions refuse (see above)",
      "quoted names": "BigQuery dataset names hold only letters, digits and underscores",
      "concurrent readers":
        "BigQuery allows 5 metadata updates of a table per 10 seconds; 12 swaps in a row are refused as rateLimitExceeded",
    },
  });

  describe("BigQuery: its own", () => {
    it("commits a transaction's appends and statements together, and leaves no staging table", async (ctx) => {
      const warehouse = await freshWarehouse(ctx);
      const table = { schema: uniqueSchema(), name: "kv" };
      await warehouse.createTable(table, [
        { name: "k", type: "int64", nullable: false },
        { name: "v", type: "string" },
      ]);
      await warehouse.append(table, ["k", "v"], [[1, "before"]]);
      const name = warehouse.dialect.relationName(table);
      await warehouse.transaction(async (session) => {
        await session.append(
          table,
          ["k", "v"],
          [
            [2, "append"],
            [3, "append"],
          ],
        );
        await session.query(`UPDATE ${name} SET v = $1 WHERE k = $2`, ["updated", 1]);
        await session.query(`DELETE FROM ${name} WHERE k = $1`, [3]);
        // Nothing is visible before the commit.
        expect((await warehouse.query(`SELECT count(*) AS n FROM ${name}`)).rows).toEqual([{ n: 1 }]);
      });
      expect((await warehouse.query(`SELECT k, v FROM ${name} ORDER BY k`)).rows).toEqual([
        { k: 1, v: "updated" },
        { k: 2, v: "append" },
      ]);
      expect(await warehouse.relations(table.schema)).toEqual([{ ...table, kind: "table" }]);

      await expect(
        warehouse.transaction(async (session) => {
          await session.append(table, ["k", "v"], [[4, "thrown away"]]);
          throw new Error("work failed");
        }),
      ).rejects.toThrow("work failed");
      await expect(
        warehouse.transaction(async (session) => {
          await session.query(`SELECT count(*) FROM ${name}`);
        }),
      ).rejects.toMatchObject({ code: WarehouseErrorCode.badArgument });
      expect((await warehouse.query(`SELECT count(*) AS n FROM ${name}`)).rows).toEqual([{ n: 2 }]);
    });

    it("resolves unqualified names in the URL's dataset, and reads DATE(ts) and CAST(ts AS DATE) alike", async (ctx) => {
      const warehouse = await freshWarehouse(ctx);
      const dataset = (warehouse as unknown as { dataset: string }).dataset;
      await warehouse.replaceTable(
        { schema: dataset, name: "t" },
        "SELECT TIMESTAMP '2026-01-02 23:59:59.999+00:00' AS ts",
      );
      expect((await warehouse.query("SELECT DATE(ts) AS a, CAST(ts AS DATE) AS b, ts FROM t")).rows).toEqual([
        { a: "2026-01-02", b: "2026-01-02", ts: new Date(Date.UTC(2026, 0, 2, 23, 59, 59, 999)) },
      ]);
    });
  });
});
