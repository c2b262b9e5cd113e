// Seeds: RFC 4180 CSV, dbt's agate type inference column by column, column_types, and rows that do not fit the header.

import { describe, expect, it } from "vitest";
import { modelError } from "../../test/helpers/models.ts";
import { resolveConfig } from "./configs.ts";
import type { SeedNode } from "./nodes.ts";
import { inferType, parseCsv, readSeed } from "./seeds.ts";

function seed(csv: string, columnTypes: Record<string, string> = {}): SeedNode {
  const config = resolveConfig(
    "seed",
    new Map([["column_types", { value: columnTypes, at: { file: "dbt_project.yml", line: 1 } }]]),
  );
  return {
    resourceType: "seed",
    uniqueId: "seed.shop.s",
    name: "s",
    originalFilePath: "seeds/s.csv",
    path: "s.csv",
    fqn: ["shop", "s"],
    config,
    description: "",
    columns: {},
    patchPath: undefined,
    rawCode: csv,
    csvPath: "/nowhere/s.csv",
    dependsOn: [],
    refs: [],
  };
}

describe("seeds", () => {
  it("reads quoted fields with commas, doubled quotes and line breaks, CRLF and a BOM", () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n"two\nlines",\r\n', "s.csv")).toEqual([
      ["a", "b"],
      ["x, y", 'say "hi"'],
      ["two\nlines", ""],
    ]);
  });

  it("infers types in agate's order: integer, number, date, datetime, boolean, else text", () => {
    expect(inferType(["1", "-20", ""])).toBe("int64");
    expect(inferType(["1", "2.5", "1e3"])).toBe("float64");
    expect(inferType(["2024-01-31", "null"])).toBe("date");
    expect(inferType(["2024-01-31 10:00:00", "2024-02-01T08:30:00.123Z", "2024-02-01T08:30:00+02:00"])).toBe(
      "timestamp",
    );
    expect(inferType(["True", "false", ""])).toBe("boolean");
    expect(inferType(["1", "x"])).toBe("string");
    expect(inferType(["2024-13-45"])).toBe("string");
    // A column with no values at all is an integer, as dbt makes it.
    expect(inferType(["", "null"])).toBe("int64");
  });

  it("types each row's values, with NULL for empty and null, and column_types over inference", () => {
    const table = readSeed(
      seed("id,code,at,flag\n1,007,2024-01-01 10:00:00,true\n2,,,null\n", { code: "varchar(8)" }),
    );
    expect(table.columns).toEqual([
      { name: "id", type: "int64" },
      { name: "code", type: "string" },
      { name: "at", type: "timestamp" },
      { name: "flag", type: "boolean" },
    ]);
    expect(table.rows).toEqual([
      [1, "007", new Date("2024-01-01T10:00:00Z"), true],
      [2, null, null, null],
    ]);
  });

  it("names the line of a row that does not fit the header, and a column type it cannot load", () => {
    expect(modelError(() => readSeed(seed("a,b\n1,2\n3\n"))).message).toBe(
      "seeds/s.csv:3: the row has 1 fields, the header 2. Fix the row",
    );
    expect(modelError(() => readSeed(seed("a\n1\n", { a: "geometry" }))).message).toMatch(
      /^seeds\/s\.csv: column_types a: 'geometry' is not a type the runner can load/,
    );
  });
});
