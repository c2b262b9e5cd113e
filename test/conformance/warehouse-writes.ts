// The Warehouse conformance suite's writing cases: bulk appends, transactions, atomic replaces and merges.
import { describe, expect, it } from "vitest";
import { WarehouseErrorCode } from "../../src/errors.ts";
import type { Relation, Row, SqlValue, Warehouse, WarehouseSession } from "../../src/warehouse/index.ts";
import {
  AWKWARD_ROWS,
  AWKWARD_STRINGS,
  EVERY_TYPE,
  rejection,
  uniqueSchema,
  valuesOf,
  type WarehouseCaseKit,
} from "./warehouse-fixtures.ts";

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

/** Every row of a relation, ordered by the given columns. */
async function rowsOf(warehouse: Warehouse, relation: Relation, orderBy: string): Promise<Row[]> {
  return (
    await warehouse.query(`SELECT * FROM ${warehouse.dialect.relationName(relation)} ORDER BY ${orderBy}`)
  ).rows;
}

/** The rows of a relation, counted by a session: the warehouse, or a transaction in it. */
async function countOf(session: WarehouseSession, name: string): Promise<number> {
  const result = await session.query(`SELECT count(*) AS n FROM ${name}`);
  return result.rows[0]!.n as number;
}

/** A table (k int64, v string) holding the given rows. */
async function keyValueTable(warehouse: Warehouse, rows: [number, string][]): Promise<Relation> {
  const table = { schema: uniqueSchema(), name: "kv" };
  await warehouse.createTable(table, [
    { name: "k", type: "int64", nullable: false },
    { name: "v", type: "string" },
  ]);
  await warehouse.append(table, ["k", "v"], rows);
  return table;
}

export function runWarehouseWriteCases({ make, caseIt }: WarehouseCaseKit): void {
  describe("append", () => {
    it("appends 100,000 rows in bulk and reads every one back exactly", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "bulk" };
      await warehouse.createTable(table, EVERY_TYPE);
      const rows: SqlValue[][] = [];
      const perDay = new Map<string, number>();
      let fTotal = 0;
      let trues = 0;
      let strings = 0;
      for (let i = 0; i < 100_000; i++) {
        const d = new Date(T0 + (i % 365) * DAY_MS).toISOString().slice(0, 10);
        const s = i % 97 === 0 ? null : i % 1000 === 0 ? `row '${i}' "q"` : `row ${i}`;
        const f = (i % 1000) * 0.25 - 100;
        rows.push([i, s, f, i % 3 === 0, d, new Date(T0 + i * 1001)]);
        perDay.set(d, (perDay.get(d) ?? 0) + 1);
        fTotal += f;
        if (i % 3 === 0) trues++;
        if (s !== null) strings++;
      }
      expect(await warehouse.append(table, ["id", "s", "f", "b", "d", "ts"], rows)).toBe(100_000);

      const name = warehouse.dialect.relationName(table);
      const totals = await warehouse.query(
        `SELECT count(*) AS n, sum(id) AS id_total, sum(f) AS f_total, count(s) AS strings,
                sum(CASE WHEN b THEN 1 ELSE 0 END) AS trues, count(DISTINCT d) AS days, min(ts) AS first, max(ts) AS last
           FROM ${name}`,
      );
      expect(totals.rows).toEqual([
        {
          n: 100_000,
          id_total: (99_999 * 100_000) / 2,
          f_total: fTotal,
          strings,
          trues,
          days: 365,
          first: new Date(T0),
          last: new Date(T0 + 99_999 * 1001),
        },
      ]);
      const days = await warehouse.query(`SELECT d, count(*) AS n FROM ${name} GROUP BY d ORDER BY d`);
      expect(days.rows).toEqual([...perDay].sort().map(([d, n]) => ({ d, n })));

      const back = await warehouse.query(`SELECT id, s, f, b, d, ts FROM ${name} ORDER BY id`);
      expect(back.rows).toHaveLength(100_000);
      let mismatches = 0;
      for (let i = 0; i < rows.length; i++) {
        const [id, s, f, b, d, ts] = rows[i]!;
        const row = back.rows[i]!;
        const same =
          row.id === id &&
          row.s === s &&
          row.f === f &&
          row.b === b &&
          row.d === d &&
          (row.ts as Date).getTime() === (ts as Date).getTime();
        if (!same && mismatches++ < 3) expect(row).toEqual({ id, s, f, b, d, ts });
      }
      expect(mismatches).toBe(0);
    });

    it("appends every type and nulls, columns named in any order and a subset of the table's", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "awkward" };
      await warehouse.createTable(table, EVERY_TYPE);
      const columns = ["ts", "d", "b", "f", "s", "id"];
      const reversed = AWKWARD_ROWS.map((row) => valuesOf(row).reverse());
      expect(await warehouse.append(table, columns, reversed)).toBe(AWKWARD_ROWS.length);
      expect(await warehouse.append(table, ["id"], [[100]])).toBe(1);
      expect(await warehouse.append(table, ["id"], [])).toBe(0);
      expect(await rowsOf(warehouse, table, "id")).toEqual(
        [...AWKWARD_ROWS, { id: 100, s: null, f: null, b: null, d: null, ts: null }].sort(
          (a, b) => Number(a.id) - Number(b.id),
        ),
      );
    });

    it("reads back awkward values exactly in a large append too (a bulk path of its own on some backends)", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "awkward_bulk" };
      await warehouse.createTable(table, EVERY_TYPE);
      const rows: SqlValue[][] = [];
      for (let i = 0; i < 12_000; i++) {
        const base = AWKWARD_ROWS[i % AWKWARD_ROWS.length]!;
        const s = i % 5 === 4 ? AWKWARD_STRINGS[i % AWKWARD_STRINGS.length]! : base.s;
        rows.push([i, s, base.f, base.b, base.d, base.ts]);
      }
      expect(await warehouse.append(table, ["id", "s", "f", "b", "d", "ts"], rows)).toBe(rows.length);
      const back = await rowsOf(warehouse, table, "id");
      expect(back).toHaveLength(rows.length);
      let mismatches = 0;
      for (let i = 0; i < rows.length; i++) {
        const [id, s, f, b, d, ts] = rows[i]!;
        const row = back[i]!;
        const same =
          row.id === id &&
          row.s === s &&
          Object.is(row.f, f) &&
          row.b === b &&
          row.d === d &&
          (ts === null ? row.ts === null : (row.ts as Date).getTime() === (ts as Date).getTime());
        if (!same && mismatches++ < 3) expect(row).toEqual({ id, s, f, b, d, ts });
      }
      expect(mismatches).toBe(0);
    });

    it("refuses a row of the wrong width, and an append that fails writes none of its rows", async (ctx) => {
      const warehouse = await make(ctx);
      const table = await keyValueTable(warehouse, [[1, "before"]]);
      const wide = await rejection(
        warehouse.append(
          table,
          ["k", "v"],
          [
            [2, "ok"],
            [3, "too", "wide"],
          ],
        ),
      );
      expect(wide.code).toBe(WarehouseErrorCode.badArgument);
      // The NULL key of the last row breaks NOT NULL after 69,999 good rows.
      const rows: SqlValue[][] = Array.from({ length: 70_000 }, (_, i) => [i + 10, `r${i}`]);
      rows[rows.length - 1]![0] = null;
      const failed = await rejection(warehouse.append(table, ["k", "v"], rows));
      expect(failed.code).toBe(WarehouseErrorCode.queryFailed);
      expect(await rowsOf(warehouse, table, "k")).toEqual([{ k: 1, v: "before" }]);

      const missing = await rejection(warehouse.append({ ...table, name: "no_such_table" }, ["k"], [[1]]));
      expect(missing.code).toBe(WarehouseErrorCode.queryFailed);
    });
  });

  describe("transaction", () => {
    caseIt(
      "reads in a transaction",
      "makes every statement and append visible together when work resolves, and returns its result",
      async (ctx) => {
        const warehouse = await make(ctx);
        const table = await keyValueTable(warehouse, [[1, "before"]]);
        const name = warehouse.dialect.relationName(table);
        const result = await warehouse.transaction(async (session) => {
          expect(
            (await session.query(`INSERT INTO ${name} (k, v) VALUES ($1, $2)`, [2, "query"])).rowsAffected,
          ).toBe(1);
          expect(
            await session.append(
              table,
              ["k", "v"],
              [
                [3, "append"],
                [4, "append"],
              ],
            ),
          ).toBe(2);
          expect(
            (await session.query(`UPDATE ${name} SET v = $1 WHERE k = $2`, ["updated", 1])).rowsAffected,
          ).toBe(1);
          return (await session.query(`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n;
        });
        expect(result).toBe(4);
        expect(await rowsOf(warehouse, table, "k")).toEqual([
          { k: 1, v: "updated" },
          { k: 2, v: "query" },
          { k: 3, v: "append" },
          { k: 4, v: "append" },
        ]);
      },
    );

    caseIt(
      "reads in a transaction",
      "keeps none of its writes, large appends included, when work throws, and rethrows work's error",
      async (ctx) => {
        const warehouse = await make(ctx);
        const table = await keyValueTable(warehouse, [[1, "before"]]);
        const name = warehouse.dialect.relationName(table);
        const boom = new Error("work failed");
        const thrown = await warehouse
          .transaction(async (session) => {
            await session.query(`INSERT INTO ${name} (k, v) VALUES (2, 'query')`);
            await session.query(`DELETE FROM ${name} WHERE k = 1`);
            const rows: [number, string][] = Array.from({ length: 70_000 }, (_, i) => [i + 10, "append"]);
            expect(await session.append(table, ["k", "v"], rows)).toBe(70_000);
            expect(await countOf(session, name)).toBe(70_001);
            throw boom;
          })
          .catch((e: unknown) => e);
        expect(thrown).toBe(boom);
        expect(await rowsOf(warehouse, table, "k")).toEqual([{ k: 1, v: "before" }]);
      },
    );

    it("rolls back when a statement in it fails, rejecting with that statement's error", async (ctx) => {
      const warehouse = await make(ctx);
      const table = await keyValueTable(warehouse, [[1, "before"]]);
      const name = warehouse.dialect.relationName(table);
      const error = await rejection(
        warehouse.transaction(async (session) => {
          await session.append(table, ["k", "v"], [[2, "kept?"]]);
          await session.query(`INSERT INTO ${name} (k, v) VALUES ($1, $2)`, [null, "breaks NOT NULL"]);
        }),
      );
      expect(error.code).toBe(WarehouseErrorCode.queryFailed);
      expect(await rowsOf(warehouse, table, "k")).toEqual([{ k: 1, v: "before" }]);
    });

    caseIt(
      "isolation",
      "hides its uncommitted writes from statements on the warehouse outside it",
      async (ctx) => {
        const warehouse = await make(ctx);
        const table = await keyValueTable(warehouse, [[1, "before"]]);
        const name = warehouse.dialect.relationName(table);
        await warehouse.transaction(async (session) => {
          await session.query(`INSERT INTO ${name} (k, v) VALUES (2, 'inside')`);
          await session.append(
            table,
            ["k", "v"],
            Array.from({ length: 70_000 }, (_, i) => [i + 10, "inside"]),
          );
          expect(await countOf(session, name)).toBe(70_002);
          expect(await countOf(warehouse, warehouse.dialect.relationName(table))).toBe(1);
          expect((await warehouse.query(`SELECT v FROM ${name}`)).rows).toEqual([{ v: "before" }]);
        });
        expect(await countOf(warehouse, warehouse.dialect.relationName(table))).toBe(70_002);
      },
    );

    it("refuses its session once it has ended", async (ctx) => {
      const warehouse = await make(ctx);
      const table = await keyValueTable(warehouse, []);
      let leaked: WarehouseSession | undefined;
      await warehouse.transaction(async (session) => {
        leaked = session;
      });
      expect((await rejection(leaked!.query("SELECT 1"))).code).toBe(WarehouseErrorCode.closed);
      expect((await rejection(leaked!.append(table, ["k"], [[1]]))).code).toBe(WarehouseErrorCode.closed);
      expect(await countOf(warehouse, warehouse.dialect.relationName(table))).toBe(0);
    });
  });

  describe("replaceTable and replaceView", () => {
    it("builds the table from a select, swaps new content and columns in, and leaves nothing beside it", async (ctx) => {
      const warehouse = await make(ctx);
      const { relationName } = warehouse.dialect;
      const source = await keyValueTable(warehouse, [
        [1, "a"],
        [2, "b"],
        [3, "c"],
      ]);
      const table = { schema: uniqueSchema(), name: "built" };
      expect(
        await warehouse.replaceTable(table, `SELECT k, v FROM ${relationName(source)} WHERE k < 3`),
      ).toBe(2);
      expect(await rowsOf(warehouse, table, "k")).toEqual([
        { k: 1, v: "a" },
        { k: 2, v: "b" },
      ]);
      // New columns, and a select that reads the table it replaces.
      expect(
        await warehouse.replaceTable(table, `SELECT k * 10 AS k10, v FROM ${relationName(table)};\n`),
      ).toBe(2);
      expect(await rowsOf(warehouse, table, "k10")).toEqual([
        { k10: 10, v: "a" },
        { k10: 20, v: "b" },
      ]);
      expect((await warehouse.columns(table)).map((c) => [c.name, c.type])).toEqual([
        ["k10", "int64"],
        ["v", "string"],
      ]);
      expect(await warehouse.relations(table.schema)).toEqual([{ ...table, kind: "table" }]);
      expect(
        await warehouse.replaceTable(table, `SELECT k, v FROM ${relationName(source)} WHERE k > 100`),
      ).toBe(0);
      expect(await countOf(warehouse, warehouse.dialect.relationName(table))).toBe(0);
    });

    it("keeps the old table whole when the select fails", async (ctx) => {
      const warehouse = await make(ctx);
      const table = await keyValueTable(warehouse, [
        [1, "a"],
        [2, "b"],
      ]);
      const before = await warehouse.columns(table);
      const error = await rejection(
        warehouse.replaceTable(table, `SELECT no_such_column FROM ${warehouse.dialect.relationName(table)}`),
      );
      expect(error.code).toBe(WarehouseErrorCode.queryFailed);
      expect(error.message).toContain("no_such_column");
      expect(await rowsOf(warehouse, table, "k")).toEqual([
        { k: 1, v: "a" },
        { k: 2, v: "b" },
      ]);
      expect(await warehouse.columns(table)).toEqual(before);
      expect(await warehouse.relations(table.schema)).toEqual([{ ...table, kind: "table" }]);
    });

    it("keeps the views that read the table working, in another schema and through another view", async (ctx) => {
      const warehouse = await make(ctx);
      const { relationName } = warehouse.dialect;
      const table = await keyValueTable(warehouse, [
        [1, "a"],
        [2, "b"],
      ]);
      const views = uniqueSchema("views");
      const big = { schema: views, name: "big_keys" };
      const counted = { schema: views, name: "counted" };
      await warehouse.replaceView(big, `SELECT k, v FROM ${relationName(table)} WHERE k > 1`);
      await warehouse.replaceView(counted, `SELECT count(*) AS n FROM ${relationName(big)}`);
      expect((await warehouse.query(`SELECT n FROM ${relationName(counted)}`)).rows).toEqual([{ n: 1 }]);

      expect(
        await warehouse.replaceTable(
          table,
          `SELECT k + 1 AS k, v, 'extra' AS w FROM ${relationName(table)} UNION ALL SELECT 10, 'j', 'extra'`,
        ),
      ).toBe(3);
      expect(await rowsOf(warehouse, big, "k")).toEqual([
        { k: 2, v: "a" },
        { k: 3, v: "b" },
        { k: 10, v: "j" },
      ]);
      expect((await warehouse.query(`SELECT n FROM ${relationName(counted)}`)).rows).toEqual([{ n: 3 }]);
      expect(await warehouse.relations(views)).toEqual([
        { ...big, kind: "view" },
        { ...counted, kind: "view" },
      ]);
    });

    caseIt(
      "concurrent readers",
      "never shows a reader a missing or half-built table while it swaps",
      async (ctx) => {
        const warehouse = await make(ctx);
        const table = await keyValueTable(warehouse, [
          [1, "a"],
          [2, "b"],
          [3, "c"],
        ]);
        const five =
          "SELECT 1 AS k, 'a' AS v UNION ALL SELECT 2, 'b' UNION ALL SELECT 3, 'c' UNION ALL SELECT 4, 'd' UNION ALL SELECT 5, 'e'";
        const three = "SELECT 1 AS k, 'a' AS v UNION ALL SELECT 2, 'b' UNION ALL SELECT 3, 'c'";
        let swapping = true;
        const seen = new Set<number>();
        const readers = Array.from({ length: 3 }, async () => {
          while (swapping) seen.add(await countOf(warehouse, warehouse.dialect.relationName(table)));
        });
        try {
          for (let i = 0; i < 12; i++) await warehouse.replaceTable(table, i % 2 === 0 ? five : three);
        } finally {
          swapping = false;
        }
        await Promise.all(readers);
        expect([...seen].filter((n) => n !== 3 && n !== 5)).toEqual([]);
        expect(await countOf(warehouse, warehouse.dialect.relationName(table))).toBe(3);
      },
    );

    it("creates and replaces a view, keeps a view on it working, and keeps the old one when the select fails", async (ctx) => {
      const warehouse = await make(ctx);
      const { relationName } = warehouse.dialect;
      const table = await keyValueTable(warehouse, [
        [1, "a"],
        [2, "b"],
      ]);
      const view = { schema: uniqueSchema(), name: "v" };
      await warehouse.replaceView(view, `SELECT k, v FROM ${relationName(table)}`);
      const top = { schema: view.schema, name: "top" };
      await warehouse.replaceView(top, `SELECT max(k) AS k FROM ${relationName(view)}`);

      await warehouse.replaceView(view, `SELECT k * 100 AS k FROM ${relationName(table)};`);
      expect(await rowsOf(warehouse, view, "k")).toEqual([{ k: 100 }, { k: 200 }]);
      expect((await warehouse.columns(view)).map((c) => c.name)).toEqual(["k"]);
      expect((await warehouse.query(`SELECT k FROM ${relationName(top)}`)).rows).toEqual([{ k: 200 }]);

      const error = await rejection(warehouse.replaceView(view, `SELECT nope FROM ${relationName(table)}`));
      expect(error.code).toBe(WarehouseErrorCode.queryFailed);
      expect(await rowsOf(warehouse, view, "k")).toEqual([{ k: 100 }, { k: 200 }]);
      expect(await warehouse.relations(view.schema)).toEqual([
        { ...top, kind: "view" },
        { ...view, kind: "view" },
      ]);
    });
  });

  describe("mergeInto", () => {
    const KEY = ["region", "day"];

    /** The target (region, day, n, note) and a source table, each holding the rows given. */
    async function mergeTables(warehouse: Warehouse, target: SqlValue[][], source: SqlValue[][]) {
      const schema = uniqueSchema();
      const columns = [
        { name: "region", type: "string" as const, nullable: false },
        { name: "day", type: "date" as const, nullable: false },
        { name: "n", type: "int64" as const },
        { name: "note", type: "string" as const },
      ];
      const tables = { target: { schema, name: "target" }, source: { schema, name: "source" } };
      await warehouse.createTable(tables.target, columns);
      await warehouse.createTable(tables.source, columns);
      await warehouse.append(tables.target, ["region", "day", "n", "note"], target);
      await warehouse.append(tables.source, ["region", "day", "n", "note"], source);
      return {
        ...tables,
        select: `SELECT region, day, n, note FROM ${warehouse.dialect.relationName(tables.source)}`,
      };
    }

    const TARGET: SqlValue[][] = [
      ["eu", "2026-01-01", 1, "old"],
      ["eu", "2026-01-02", 2, "old"],
      ["us", "2026-01-01", 3, "old"],
      ["us", "2026-01-02", 4, "untouched"],
    ];

    it.for(["merge", "delete+insert"] as const)(
      "%s: updates rows whose composite key matches, inserts the others, leaves the rest",
      async (strategy, ctx) => {
        const warehouse = await make(ctx);
        const { target, select } = await mergeTables(warehouse, TARGET, [
          ["eu", "2026-01-02", 20, "new"],
          ["us", "2026-01-01", 30, "new"],
          ["eu", "2026-01-03", 50, "new"],
          ["ap", "2026-01-01", 60, "new"],
        ]);
        expect(await warehouse.mergeInto(target, select, KEY, strategy)).toBe(4);
        expect(await rowsOf(warehouse, target, "region, day")).toEqual([
          { region: "ap", day: "2026-01-01", n: 60, note: "new" },
          { region: "eu", day: "2026-01-01", n: 1, note: "old" },
          { region: "eu", day: "2026-01-02", n: 20, note: "new" },
          { region: "eu", day: "2026-01-03", n: 50, note: "new" },
          { region: "us", day: "2026-01-01", n: 30, note: "new" },
          { region: "us", day: "2026-01-02", n: 4, note: "untouched" },
        ]);
      },
    );

    it.for(["merge", "delete+insert"] as const)(
      "%s: runs a select that reads the target once, against the target as it was",
      async (strategy, ctx) => {
        const warehouse = await make(ctx);
        const { target } = await mergeTables(warehouse, TARGET, []);
        const name = warehouse.dialect.relationName(target);
        const select = `SELECT region, day, n + 100 AS n, 'bumped' AS note FROM ${name} WHERE region = 'eu'`;
        expect(await warehouse.mergeInto(target, select, KEY, strategy)).toBe(2);
        expect((await warehouse.query(`SELECT region, n FROM ${name} ORDER BY region, day`)).rows).toEqual([
          { region: "eu", n: 101 },
          { region: "eu", n: 102 },
          { region: "us", n: 3 },
          { region: "us", n: 4 },
        ]);
      },
    );

    caseIt(
      "merge duplicate keys",
      "merge: refuses a select with two rows for one key of the target, changing nothing",
      async (ctx) => {
        const warehouse = await make(ctx);
        const { target, select } = await mergeTables(warehouse, TARGET, [
          ["eu", "2026-01-01", 10, "first"],
          ["eu", "2026-01-01", 11, "second"],
          ["ap", "2026-01-01", 60, "new"],
        ]);
        const error = await rejection(warehouse.mergeInto(target, select, KEY, "merge"));
        expect(error.code).toBe(WarehouseErrorCode.queryFailed);
        expect(await rowsOf(warehouse, target, "region, day")).toEqual(
          TARGET.map(([region, day, n, note]) => ({ region, day, n, note })),
        );
      },
    );

    it("delete+insert: deletes every target row of a key in the select and inserts every select row, duplicates too", async (ctx) => {
      const warehouse = await make(ctx);
      const { target, select } = await mergeTables(
        warehouse,
        [...TARGET, ["eu", "2026-01-01", 5, "old duplicate"]],
        [
          ["eu", "2026-01-01", 10, "first"],
          ["eu", "2026-01-01", 11, "second"],
        ],
      );
      expect(await warehouse.mergeInto(target, select, KEY, "delete+insert")).toBe(2);
      expect(await rowsOf(warehouse, target, "region, day, n")).toEqual([
        { region: "eu", day: "2026-01-01", n: 10, note: "first" },
        { region: "eu", day: "2026-01-01", n: 11, note: "second" },
        { region: "eu", day: "2026-01-02", n: 2, note: "old" },
        { region: "us", day: "2026-01-01", n: 3, note: "old" },
        { region: "us", day: "2026-01-02", n: 4, note: "untouched" },
      ]);
    });
  });
}
