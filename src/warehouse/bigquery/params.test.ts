// The $n → @pn rewrite: parameters in code only, never inside literals, quoted identifiers or comments.

import { describe, expect, it } from "vitest";
import { WarehouseErrorCode } from "../../errors.ts";
import {
  bindParams,
  checkParams,
  firstKeyword,
  returnsRows,
  rewriteParams,
  scriptStatement,
} from "./params.ts";

describe("rewriteParams", () => {
  it("names each $n in code @pn, and lists the numbers used", () => {
    expect(rewriteParams("SELECT * FROM t WHERE a = $1 AND b IN ($2, $10) AND c = $1")).toEqual({
      sql: "SELECT * FROM t WHERE a = @p1 AND b IN (@p2, @p10) AND c = @p1",
      used: [1, 2, 10],
    });
  });

  it("leaves string literals alone, in every quoting, with escapes and prefixes", () => {
    const cases = [
      "SELECT '$1', $2",
      'SELECT "$1", $2',
      "SELECT 'it\\'s $1', $2",
      "SELECT '''a ' $1 '' b''', $2",
      'SELECT """$1 " still in""", $2',
      "SELECT r'\\$1', $2",
      'SELECT R"$1", $2',
      "SELECT b'$1', $2",
      "SELECT rb'''$1''', $2",
      "SELECT BR'$1', $2",
    ];
    for (const sql of cases)
      expect(rewriteParams(sql), sql).toEqual({ sql: sql.replace("$2", "@p2"), used: [2] });
  });

  it("leaves quoted identifiers and comments alone", () => {
    const sql = [
      "SELECT `col$1`, `a\\`$1` -- $1 here",
      "# $1 there",
      "/* $1 and",
      "   $1 */ FROM t WHERE x = $2",
    ].join("\n");
    expect(rewriteParams(sql)).toEqual({ sql: sql.replace("$2", "@p2"), used: [2] });
  });

  it("reads a word ending in r or b before a quote as code, not as a string prefix", () => {
    expect(rewriteParams("SELECT $1 AS bar, $2").sql).toBe("SELECT @p1 AS bar, @p2");
    expect(rewriteParams("WHERE x = $1 OR 'b' = $2").sql).toBe("WHERE x = @p1 OR 'b' = @p2");
  });

  it("writes the names it is given, and leaves a $ without digits and existing @names", () => {
    expect(rewriteParams("SELECT $1, $2, $x, @named, '$1'", (n) => (n === 2 ? "NULL" : `@s3_p${n}`))).toEqual(
      {
        sql: "SELECT @s3_p1, NULL, $x, @named, '$1'",
        used: [1, 2],
      },
    );
  });

  it("does not run away on an unterminated literal or comment", () => {
    expect(rewriteParams("SELECT $1, 'open $2").sql).toBe("SELECT @p1, 'open $2");
    expect(rewriteParams("SELECT $1 /* open $2").sql).toBe("SELECT @p1 /* open $2");
  });
});

describe("bindParams", () => {
  it("binds each value as a typed named parameter, once however often it is used, and a null as NULL", () => {
    expect(bindParams("UPDATE t SET a = $2, b = $3 WHERE k = $1 OR j = $1", [7, "x", null], "s2_p")).toEqual({
      sql: "UPDATE t SET a = @s2_p2, b = NULL WHERE k = @s2_p1 OR j = @s2_p1",
      params: [
        { name: "s2_p1", parameterType: { type: "INT64" }, parameterValue: { value: "7" } },
        { name: "s2_p2", parameterType: { type: "STRING" }, parameterValue: { value: "x" } },
      ],
    });
  });
});

describe("checkParams", () => {
  it("refuses a parameter that was not given", () => {
    expect(() => checkParams([1, 3], 2, "SELECT $1, $3")).toThrow(
      expect.objectContaining({
        code: WarehouseErrorCode.badArgument,
        message: expect.stringContaining("$3"),
      }),
    );
    expect(() => checkParams([1, 2], 2, "SELECT $1, $2")).not.toThrow();
  });
});

describe("returnsRows", () => {
  it("knows a query from a statement by its first keyword in code", () => {
    expect(returnsRows("SELECT 1")).toBe(true);
    expect(returnsRows("  -- a comment\n/* another */ with x AS (SELECT 1) SELECT * FROM x")).toBe(true);
    expect(returnsRows("(SELECT 1)")).toBe(true);
    expect(returnsRows("DELETE FROM t WHERE true")).toBe(false);
    expect(returnsRows("INSERT INTO t SELECT * FROM s")).toBe(false);
    expect(returnsRows("MERGE t USING s ON false WHEN NOT MATCHED THEN INSERT ROW")).toBe(false);
    expect(firstKeyword("# SELECT\nUPDATE t SET a = 1 WHERE true")).toBe("UPDATE");
  });
});

describe("scriptStatement", () => {
  it("ends a statement with one semicolon, on its own line after a trailing line comment", () => {
    expect(scriptStatement("DELETE FROM t WHERE true ;; ")).toBe("DELETE FROM t WHERE true;");
    expect(scriptStatement("DELETE FROM t WHERE a = ';'")).toBe("DELETE FROM t WHERE a = ';';");
    expect(scriptStatement("SELECT 1 -- the end")).toBe("SELECT 1 -- the end\n;");
    expect(scriptStatement("SELECT 1 # the end")).toBe("SELECT 1 # the end\n;");
    expect(scriptStatement("SELECT 1 /* the end */")).toBe("SELECT 1 /* the end */;");
    expect(scriptStatement("SELECT 1 -- note\nFROM t")).toBe("SELECT 1 -- note\nFROM t;");
  });
});
