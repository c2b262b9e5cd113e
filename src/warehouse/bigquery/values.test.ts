// BigQuery values ↔ SqlValue: typed parameters, f/v result cells, NDJSON cells, and the dialect's literals and names.

import { describe, expect, it } from "vitest";
import { WarehouseErrorCode } from "../../errors.ts";
import { bigqueryDialect, literal } from "./dialect.ts";
import { jsonCell, queryParameter, readRows, timestampOfCell } from "./values.ts";

const badArgument = expect.objectContaining({ code: WarehouseErrorCode.badArgument });

describe("queryParameter", () => {
  it("types each value, a null as STRING", () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    expect(
      (["x", 42, -7, 1.5, true, false, at, null] as const).map((v, i) => queryParameter(`p${i}`, v, "here")),
    ).toEqual([
      { name: "p0", parameterType: { type: "STRING" }, parameterValue: { value: "x" } },
      { name: "p1", parameterType: { type: "INT64" }, parameterValue: { value: "42" } },
      { name: "p2", parameterType: { type: "INT64" }, parameterValue: { value: "-7" } },
      { name: "p3", parameterType: { type: "FLOAT64" }, parameterValue: { value: "1.5" } },
      { name: "p4", parameterType: { type: "BOOL" }, parameterValue: { value: "true" } },
      { name: "p5", parameterType: { type: "BOOL" }, parameterValue: { value: "false" } },
      {
        name: "p6",
        parameterType: { type: "TIMESTAMP" },
        parameterValue: { value: "2026-01-02T03:04:05.678Z" },
      },
      { name: "p7", parameterType: { type: "STRING" }, parameterValue: { value: null } },
    ]);
  });

  it("refuses what has no SQL type", () => {
    expect(() => queryParameter("p1", Number.NaN, "parameter $1")).toThrow(badArgument);
    expect(() => queryParameter("p1", new Date(Number.NaN), "parameter $1")).toThrow(badArgument);
    expect(() => queryParameter("p1", {} as never, "parameter $1")).toThrow(badArgument);
  });
});

describe("timestampOfCell", () => {
  const expected = Date.UTC(2026, 0, 2, 0, 0, 0, 123);
  it("reads int64 microseconds, float seconds (plain and E notation) and ISO 8601", () => {
    expect(timestampOfCell("1767312000123456").getTime()).toBe(expected);
    expect(timestampOfCell("1767312000.123456").getTime()).toBe(expected);
    expect(timestampOfCell("1.767312000123456E9").getTime()).toBe(expected);
    expect(timestampOfCell("2026-01-02T00:00:00.123456Z").getTime()).toBe(expected);
  });

  it("floors to the millisecond, before 1970 too", () => {
    expect(timestampOfCell("-1500").getTime()).toBe(-2);
    expect(timestampOfCell("-0.0015").getTime()).toBe(-2);
    expect(timestampOfCell("1999").getTime()).toBe(1);
  });
});

describe("readRows", () => {
  it("turns f/v rows into SqlValues by the schema's types", () => {
    const fields = [
      { name: "s", type: "STRING" },
      { name: "i", type: "INTEGER" },
      { name: "i2", type: "INT64" },
      { name: "f", type: "FLOAT" },
      { name: "n", type: "NUMERIC" },
      { name: "b", type: "BOOLEAN" },
      { name: "d", type: "DATE" },
      { name: "t", type: "TIMESTAMP" },
      { name: "dt", type: "DATETIME" },
      { name: "tags", type: "STRING", mode: "REPEATED" },
      { name: "r", type: "RECORD", fields: [{ name: "x", type: "INTEGER" }] },
      { name: "z", type: "STRING" },
    ];
    const cells = [
      "a",
      "42",
      "-9007199254740991",
      "1.5",
      "12.25",
      "true",
      "2026-01-02",
      "1767312000123456",
      "2026-01-02T03:04:05",
      [{ v: "x" }, { v: "y" }],
      { f: [{ v: "7" }] },
      null,
    ];
    const [row] = readRows(fields, [{ f: cells.map((v) => ({ v })) }]);
    expect(row).toEqual({
      s: "a",
      i: 42,
      i2: -9007199254740991,
      f: 1.5,
      n: 12.25,
      b: true,
      d: "2026-01-02",
      t: new Date(Date.UTC(2026, 0, 2, 0, 0, 0, 123)),
      dt: "2026-01-02T03:04:05",
      tags: '["x","y"]',
      r: '{"x":7}',
      z: null,
    });
    expect(Object.keys(row!)).toEqual(fields.map((field) => field.name));
  });
});

describe("jsonCell", () => {
  it("writes each value as its column's type reads it from NDJSON", () => {
    expect(jsonCell(5, "INTEGER", "c")).toBe(5);
    expect(jsonCell(0.25, "FLOAT64", "c")).toBe(0.25);
    expect(jsonCell(true, "BOOLEAN", "c")).toBe(true);
    expect(jsonCell("2026-01-02", "DATE", "c")).toBe("2026-01-02");
    expect(jsonCell(new Date("2026-01-02T23:00:00Z"), "DATE", "c")).toBe("2026-01-02");
    expect(jsonCell(new Date("2026-01-02T03:04:05.678Z"), "TIMESTAMP", "c")).toBe("2026-01-02T03:04:05.678Z");
    expect(jsonCell(null, "TIMESTAMP", "c")).toBe(null);
    expect(jsonCell("x", "STRING", "c")).toBe("x");
  });

  it("refuses a value its column cannot hold", () => {
    expect(() => jsonCell(1.5, "INTEGER", "c")).toThrow(badArgument);
    expect(() => jsonCell("5", "INT64", "c")).toThrow(badArgument);
    expect(() => jsonCell(Number.POSITIVE_INFINITY, "FLOAT", "c")).toThrow(badArgument);
    expect(() => jsonCell("2026-02-30", "DATE", "c")).toThrow(badArgument);
    expect(() => jsonCell("2026-01-02", "TIMESTAMP", "c")).toThrow(badArgument);
    expect(() => jsonCell(5, "STRING", "c")).toThrow(badArgument);
  });
});

describe("the BigQuery dialect", () => {
  const dialect = bigqueryDialect("my-project");

  it("quotes identifiers with backticks and names relations project.dataset.table", () => {
    expect(dialect.quoteIdentifier("a`b\\c")).toBe("`a\\`b\\\\c`");
    expect(dialect.relationName({ schema: "raw", name: "user_activity" })).toBe(
      "`my-project`.`raw`.`user_activity`",
    );
  });

  it("writes literals GoogleSQL reads back as the same value", () => {
    expect(literal("it's a\\b\nc")).toBe("'it\\'s a\\\\b\\nc'");
    expect(literal("\u0001")).toBe("'\\x01'");
    expect(literal(42)).toBe("42");
    expect(literal(-0.5)).toBe("(-0.5)");
    expect(literal(true)).toBe("TRUE");
    expect(literal(null)).toBe("NULL");
    expect(literal(new Date("2026-01-02T03:04:05.678Z"))).toBe("TIMESTAMP '2026-01-02 03:04:05.678+00:00'");
    expect(() => literal(Number.NaN)).toThrow(badArgument);
  });

  it("names the seam's types in GoogleSQL", () => {
    expect(
      (["string", "int64", "float64", "boolean", "date", "timestamp"] as const).map(dialect.typeName),
    ).toEqual(["STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"]);
  });
});
