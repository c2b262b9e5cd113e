// The Warehouse conformance suite: every warehouse (DuckDB, PostgreSQL, BigQuery) runs these cases, through the seam only.
import { describe, expect, it, type TestContext } from "vitest";
import { WarehouseErrorCode } from "../../src/errors.ts";
import type { ColumnType, Relation, SqlValue } from "../../src/warehouse/index.ts";
import {
  AWKWARD_ROWS,
  EVERY_TYPE,
  type MakeWarehouse,
  rejection,
  uniqueSchema,
  valuesOf,
  type WarehouseCaseKit,
  type WarehouseSkippableCase,
  type WarehouseTraits,
} from "./warehouse-fixtures.ts";
import { runWarehouseWriteCases } from "./warehouse-writes.ts";

export type { MakeWarehouse, WarehouseSkippableCase, WarehouseTraits };

/*
 * Every case opens its own warehouse and works in schemas with random names (uniqueSchema), so cases
 * never share a relation even on a warehouse a factory reuses. The suite knows the Warehouse interface
 * and the PULSE_WAREHOUSE_* codes only: SQL in it is portable (CAST, ORDER BY, aggregates) or spelled
 * by `warehouse.dialect` (names, literals, type names).
 *
 * Besides the contract at the top of src/warehouse/index.ts, the cases hold a backend to:
 *   - append: a row of the wrong width is PULSE_WAREHOUSE_BAD_ARGUMENT; an append that fails (outside a
 *     transaction too) writes none of its rows;
 *   - transaction: work's own error is rethrown as it is; its session, once the transaction has ended,
 *     refuses every call with PULSE_WAREHOUSE_CLOSED;
 *   - replaceTable, replaceView, mergeInto: the select may end with a semicolon; a failing select leaves
 *     the old relation as it was and nothing beside it in relations();
 *   - mergeInto "merge": a select with two rows for one key of the target is PULSE_WAREHOUSE_QUERY_FAILED
 *     and changes nothing; "delete+insert" inserts every row of the select, duplicates too;
 *   - a statement's failure leaves the warehouse usable.
 */
export function runWarehouseContract(name: string, make: MakeWarehouse, traits: WarehouseTraits = {}): void {
  function caseIt(skippable: WarehouseSkippableCase, title: string, fn: (ctx: TestContext) => Promise<void>) {
    it(title, async (ctx) => {
      const reason = traits.skip?.[skippable];
      if (reason !== undefined) ctx.skip(reason);
      await fn(ctx);
    });
  }

  describe(`Warehouse contract: ${name}`, () => {
    runValueCases(make);
    runTableCases(make, caseIt);
    runWarehouseWriteCases({ make, caseIt });
  });
}

function runValueCases(make: MakeWarehouse): void {
  describe("queries and values", () => {
    it("binds $n parameters of every type and reads every column type back as the seam's values", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "every_type" };
      await warehouse.createTable(table, EVERY_TYPE);
      const name = warehouse.dialect.relationName(table);
      const columns = EVERY_TYPE.map((column) => warehouse.dialect.quoteIdentifier(column.name)).join(", ");
      for (const row of AWKWARD_ROWS) {
        const inserted = await warehouse.query(
          `INSERT INTO ${name} (${columns}) VALUES ($1, $2, $3, $4, $5, $6)`,
          valuesOf(row),
        );
        expect(inserted.rowsAffected).toBe(1);
      }

      const all = await warehouse.query(`SELECT ${columns} FROM ${name} ORDER BY id`);
      expect(all.columns).toEqual(EVERY_TYPE.map((column) => column.name));
      expect(all.rows).toEqual([...AWKWARD_ROWS].sort((a, b) => Number(a.id) - Number(b.id)));
      expect(all.rowsAffected).toBe(0);
      for (const row of all.rows) expect(Object.keys(row)).toEqual(all.columns);

      // Parameters in a WHERE clause find each row by each of its values.
      const { typeName } = warehouse.dialect;
      for (const row of AWKWARD_ROWS.slice(0, 3)) {
        const found = await warehouse.query(
          `SELECT id FROM ${name} WHERE s = $1 AND f = $2 AND b = $3 AND d = CAST($4 AS ${typeName("date")}) AND ts = $5`,
          [row.s!, row.f!, row.b!, row.d!, row.ts!],
        );
        expect(found.rows).toEqual([{ id: row.id }]);
      }
    });

    it("casts each parameter to each seam type and reads it back unchanged", async (ctx) => {
      const warehouse = await make(ctx);
      const { typeName } = warehouse.dialect;
      const cases: [ColumnType, SqlValue][] = [
        ["string", `a 'quoted' "double" \\ string`],
        ["int64", -42],
        ["int64", 9_007_199_254_740_991],
        ["float64", -1234.5625],
        ["float64", 0.1],
        ["boolean", true],
        ["boolean", false],
        ["date", "2026-12-31"],
        ["timestamp", new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 123))],
        ["string", null],
        ["timestamp", null],
      ];
      for (const [type, value] of cases) {
        const result = await warehouse.query(`SELECT CAST($1 AS ${typeName(type)}) AS v`, [value]);
        expect(result.rows, `${type} ${String(value)}`).toEqual([{ v: value }]);
      }
    });

    it("reads counts, sums and averages as numbers", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "numbers" };
      await warehouse.createTable(table, [
        { name: "i", type: "int64" },
        { name: "f", type: "float64" },
      ]);
      await warehouse.append(
        table,
        ["i", "f"],
        [
          [3_000_000_000, 0.25],
          [4_000_000_000, -1.5],
          [-5, 2],
          [null, null],
        ],
      );
      const result = await warehouse.query(
        `SELECT count(*) AS n, count(i) AS counted, sum(i) AS total, sum(f) AS f_total, avg(f) AS f_mean, min(i) AS low, max(f) AS high
           FROM ${warehouse.dialect.relationName(table)}`,
      );
      expect(result.rows).toEqual([
        { n: 4, counted: 3, total: 6_999_999_995, f_total: 0.75, f_mean: 0.25, low: -5, high: 2 },
      ]);
    });

    it("quotes literals of every type so that they select back as the same values", async (ctx) => {
      const warehouse = await make(ctx);
      const { quoteLiteral, typeName } = warehouse.dialect;
      const values: SqlValue[] = [
        `it's "quoted" \\ and -- not a comment /* nor this */ 日本`,
        "",
        0,
        42,
        -42,
        9_007_199_254_740_991,
        -0.375,
        1e-7,
        true,
        false,
        null,
        new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 789)),
        new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 1)),
      ];
      for (const value of values) {
        const result = await warehouse.query(`SELECT ${quoteLiteral(value)} AS v`);
        expect(result.rows, String(value)).toEqual([{ v: value }]);
      }
      // A negative literal after a minus is still a number, not the start of a comment.
      expect((await warehouse.query(`SELECT 1 -${quoteLiteral(-5)} AS v`)).rows).toEqual([{ v: 6 }]);
      const date = await warehouse.query(
        `SELECT CAST(${quoteLiteral("2026-02-03")} AS ${typeName("date")}) AS v`,
      );
      expect(date.rows).toEqual([{ v: "2026-02-03" }]);
    });

    it("counts the rows an INSERT, UPDATE and DELETE wrote, and none for a SELECT", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "counted" };
      await warehouse.createTable(table, [
        { name: "k", type: "int64" },
        { name: "v", type: "string" },
      ]);
      const name = warehouse.dialect.relationName(table);
      expect(
        (await warehouse.query(`INSERT INTO ${name} (k, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')`))
          .rowsAffected,
      ).toBe(3);
      expect((await warehouse.query(`UPDATE ${name} SET v = $1 WHERE k >= $2`, ["z", 2])).rowsAffected).toBe(
        2,
      );
      expect((await warehouse.query(`UPDATE ${name} SET v = 'none' WHERE k > 100`)).rowsAffected).toBe(0);
      expect((await warehouse.query(`DELETE FROM ${name} WHERE k = $1`, [1])).rowsAffected).toBe(1);
      const read = await warehouse.query(`SELECT k, v FROM ${name} ORDER BY k`);
      expect(read).toEqual({
        columns: ["k", "v"],
        rows: [
          { k: 2, v: "z" },
          { k: 3, v: "z" },
        ],
        rowsAffected: 0,
      });
    });

    it("reports a statement the database refuses as PULSE_WAREHOUSE_QUERY_FAILED with the database's message", async (ctx) => {
      const warehouse = await make(ctx);
      const missing = { schema: uniqueSchema(), name: "no_such_table_here" };
      const error = await rejection(
        warehouse.query(`SELECT * FROM ${warehouse.dialect.relationName(missing)}`),
      );
      expect(error.code).toBe(WarehouseErrorCode.queryFailed);
      expect(error.retriable).toBe(false);
      expect(error.message).toContain("no_such_table_here");

      const table = { schema: uniqueSchema(), name: "strict" };
      await warehouse.createTable(table, [{ name: "k", type: "int64", nullable: false }]);
      const notNull = await rejection(
        warehouse.query(`INSERT INTO ${warehouse.dialect.relationName(table)} (k) VALUES ($1)`, [null]),
      );
      expect(notNull.code).toBe(WarehouseErrorCode.queryFailed);
      expect(notNull.message.toLowerCase()).toMatch(/null/);
      // The warehouse is still usable after a failed statement.
      expect((await warehouse.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    });

    it("refuses every use after close() with PULSE_WAREHOUSE_CLOSED; closing twice is harmless", async (ctx) => {
      const warehouse = await make(ctx);
      const table = { schema: uniqueSchema(), name: "t" };
      await warehouse.createTable(table, [{ name: "k", type: "int64" }]);
      await warehouse.close();
      const attempts: Promise<unknown>[] = [
        warehouse.query("SELECT 1"),
        warehouse.append(table, ["k"], [[1]]),
        warehouse.transaction(async (session) => session.query("SELECT 1")),
        warehouse.createSchema(uniqueSchema()),
        warehouse.createTable(table, [{ name: "k", type: "int64" }]),
        warehouse.replaceTable(table, "SELECT 1 AS k"),
        warehouse.replaceView({ ...table, name: "v" }, "SELECT 1 AS k"),
        warehouse.mergeInto(table, "SELECT 1 AS k", ["k"], "merge"),
        warehouse.drop(table, "table"),
        warehouse.relations(table.schema),
        warehouse.columns(table),
      ];
      for (const attempt of attempts) expect((await rejection(attempt)).code).toBe(WarehouseErrorCode.closed);
      await warehouse.close();
    });
  });
}

function runTableCases(make: MakeWarehouse, caseIt: WarehouseCaseKit["caseIt"]): void {
  describe("schemas, tables and introspection", () => {
    it("creates schemas and tables idempotently, with every column type and NOT NULL", async (ctx) => {
      const warehouse = await make(ctx);
      const schema = uniqueSchema();
      await warehouse.createSchema(schema);
      await warehouse.createSchema(schema);
      expect(await warehouse.relations(schema)).toEqual([]);

      // createTable makes a missing schema itself.
      const table = { schema: uniqueSchema(), name: "every_type" };
      await warehouse.createTable(table, EVERY_TYPE);
      await warehouse.append(table, ["id", "s"], [[1, "kept"]]);
      // A second create, even with other columns, leaves the table and its rows as they are.
      await warehouse.createTable(table, [{ name: "other", type: "string" }]);
      expect(
        (await warehouse.query(`SELECT id, s FROM ${warehouse.dialect.relationName(table)}`)).rows,
      ).toEqual([{ id: 1, s: "kept" }]);

      const columns = await warehouse.columns(table);
      expect(columns.map(({ name, type, nullable }) => ({ name, type, nullable }))).toEqual(
        EVERY_TYPE.map((column) => ({
          name: column.name,
          type: column.type,
          nullable: column.nullable ?? true,
        })),
      );
      for (const column of columns) expect(column.databaseType).toMatch(/\S/);

      const error = await rejection(warehouse.append(table, ["id", "s"], [[null, "no id"]]));
      expect(error.code).toBe(WarehouseErrorCode.queryFailed);
    });

    it("lists a schema's tables and views sorted by name, [] for a missing schema or relation", async (ctx) => {
      const warehouse = await make(ctx);
      const schema = uniqueSchema();
      const { relationName } = warehouse.dialect;
      await warehouse.createTable({ schema, name: "b_table" }, [{ name: "x", type: "int64" }]);
      await warehouse.createTable({ schema, name: "a_table" }, [{ name: "x", type: "int64" }]);
      await warehouse.replaceView(
        { schema, name: "c_view" },
        `SELECT x, x + 1 AS y FROM ${relationName({ schema, name: "a_table" })}`,
      );
      await warehouse.replaceView({ schema, name: "a0_view" }, "SELECT 1 AS one");
      // Another schema's relations are not listed.
      await warehouse.createTable({ schema: uniqueSchema(), name: "elsewhere" }, [
        { name: "x", type: "int64" },
      ]);

      expect(await warehouse.relations(schema)).toEqual([
        { schema, name: "a0_view", kind: "view" },
        { schema, name: "a_table", kind: "table" },
        { schema, name: "b_table", kind: "table" },
        { schema, name: "c_view", kind: "view" },
      ]);
      const viewColumns = await warehouse.columns({ schema, name: "c_view" });
      expect(viewColumns.map(({ name, type }) => ({ name, type }))).toEqual([
        { name: "x", type: "int64" },
        { name: "y", type: "int64" },
      ]);
      expect(await warehouse.relations(uniqueSchema("missing"))).toEqual([]);
      expect(await warehouse.columns({ schema, name: "no_such_relation" })).toEqual([]);
      expect(await warehouse.columns({ schema: uniqueSchema("missing"), name: "t" })).toEqual([]);
    });

    it("drops a table and a view, and does nothing for one that does not exist", async (ctx) => {
      const warehouse = await make(ctx);
      const schema = uniqueSchema();
      await warehouse.createTable({ schema, name: "t" }, [{ name: "x", type: "int64" }]);
      await warehouse.replaceView({ schema, name: "v" }, "SELECT 1 AS one");
      await warehouse.createTable({ schema, name: "kept" }, [{ name: "x", type: "int64" }]);
      await warehouse.drop({ schema, name: "v" }, "view");
      await warehouse.drop({ schema, name: "t" }, "table");
      expect(await warehouse.relations(schema)).toEqual([{ schema, name: "kept", kind: "table" }]);
      await warehouse.drop({ schema, name: "t" }, "table");
      await warehouse.drop({ schema, name: "v" }, "view");
      await warehouse.drop({ schema: uniqueSchema("missing"), name: "t" }, "table");
      expect(await warehouse.relations(schema)).toEqual([{ schema, name: "kept", kind: "table" }]);
    });

    caseIt(
      "quoted names",
      "takes any text as a name: a double quote and a space in schema, table and column",
      async (ctx) => {
        const warehouse = await make(ctx);
        const { quoteIdentifier, relationName } = warehouse.dialect;
        const table: Relation = { schema: `${uniqueSchema()} "q"`, name: `we"ird name` };
        const column = `col "a" b`;
        await warehouse.createTable(table, [
          { name: column, type: "string" },
          { name: "n", type: "int64" },
        ]);
        expect(await warehouse.append(table, [column, "n"], [["x'y", 1]])).toBe(1);
        await warehouse.query(
          `INSERT INTO ${relationName(table)} (${quoteIdentifier(column)}, n) VALUES ($1, $2)`,
          ['z"', 2],
        );
        const read = await warehouse.query(
          `SELECT ${quoteIdentifier(column)}, n AS ${quoteIdentifier('the "n"')} FROM ${relationName(table)} ORDER BY n`,
        );
        expect(read.columns).toEqual([column, 'the "n"']);
        expect(read.rows).toEqual([
          { [column]: "x'y", 'the "n"': 1 },
          { [column]: 'z"', 'the "n"': 2 },
        ]);
        expect(await warehouse.relations(table.schema)).toEqual([{ ...table, kind: "table" }]);
        expect((await warehouse.columns(table)).map((c) => c.name)).toEqual([column, "n"]);

        const view = { schema: table.schema, name: `v "${column}"` };
        await warehouse.replaceView(view, `SELECT n FROM ${relationName(table)} WHERE n > 1`);
        expect((await warehouse.query(`SELECT n FROM ${relationName(view)}`)).rows).toEqual([{ n: 2 }]);
        await warehouse.drop(view, "view");
        await warehouse.drop(table, "table");
        expect(await warehouse.relations(table.schema)).toEqual([]);
      },
    );
  });
}
