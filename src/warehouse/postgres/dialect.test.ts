// How PostgreSQL names, literals and types are spelled, and the names it cannot hold refused before they reach it.
import { describe, expect, it } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { postgresDialect } from "./dialect.ts";

const { quoteIdentifier, quoteLiteral, relationName, typeName } = postgresDialect;

function badArgument(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WarehouseError);
    expect((error as WarehouseError).code).toBe(WarehouseErrorCode.badArgument);
    return (error as WarehouseError).message;
  }
  return expect.fail("expected PULSE_WAREHOUSE_BAD_ARGUMENT");
}

describe("postgresDialect", () => {
  it("quotes identifiers, doubling double quotes, and qualifies relations", () => {
    expect(quoteIdentifier("events")).toBe('"events"');
    expect(quoteIdentifier('we"ird name')).toBe('"we""ird name"');
    expect(relationName({ schema: "raw", name: 'a"b' })).toBe('"raw"."a""b"');
  });

  it("refuses names PostgreSQL would cut or cannot hold", () => {
    expect(badArgument(() => quoteIdentifier(""))).toContain("empty");
    expect(badArgument(() => quoteIdentifier("a\0b"))).toContain("NUL");
    expect(quoteIdentifier("x".repeat(63))).toBe(`"${"x".repeat(63)}"`);
    expect(badArgument(() => quoteIdentifier("x".repeat(64)))).toContain("63 bytes");
    // Bytes, not characters: 32 two-byte letters are 64 bytes.
    expect(badArgument(() => relationName({ schema: "s", name: "é".repeat(32) }))).toContain("relation name");
  });

  it("writes literals of every value", () => {
    expect(quoteLiteral(null)).toBe("NULL");
    expect(quoteLiteral(true)).toBe("TRUE");
    expect(quoteLiteral(false)).toBe("FALSE");
    expect(quoteLiteral(42)).toBe("42");
    expect(quoteLiteral(-1.5)).toBe("(-1.5)");
    expect(quoteLiteral(1e21)).toBe("1e+21");
    expect(quoteLiteral(Number.NaN)).toBe("'NaN'::double precision");
    expect(quoteLiteral(Number.NEGATIVE_INFINITY)).toBe("'-Infinity'::double precision");
    expect(quoteLiteral(`it's a \\ back`)).toBe(`'it''s a \\ back'`);
    expect(quoteLiteral(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe(
      "TIMESTAMP '2026-01-02 03:04:05.006'",
    );
    expect(badArgument(() => quoteLiteral("a\0"))).toContain("NUL");
    expect(badArgument(() => quoteLiteral(new Date(Number.NaN)))).toContain("invalid Date");
    expect(badArgument(() => quoteLiteral({} as never))).toContain("no SQL value");
  });

  it("names each seam type", () => {
    expect(
      (["string", "int64", "float64", "boolean", "date", "timestamp"] as const).map((type) => typeName(type)),
    ).toEqual(["text", "bigint", "double precision", "boolean", "date", "timestamp"]);
    expect(badArgument(() => typeName("json" as never))).toContain("Unknown column type");
  });
});
