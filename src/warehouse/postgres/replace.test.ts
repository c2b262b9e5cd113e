// The names replaceTable builds under and the select bodies it wraps.
import { describe, expect, it } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { buildName, selectBody } from "./replace.ts";

describe("buildName", () => {
  it("is <name>__pulse_new while that fits PostgreSQL's 63 bytes", () => {
    expect(buildName("fct_daily_user_metrics")).toBe("fct_daily_user_metrics__pulse_new");
    expect(buildName("x".repeat(52))).toBe(`${"x".repeat(52)}__pulse_new`);
  });

  it("cuts a long name and adds a hash of it, so that long names sharing a start stay apart", () => {
    const a = buildName(`${"é".repeat(30)}a`);
    const b = buildName(`${"é".repeat(30)}b`);
    for (const name of [a, b]) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      expect(name).toMatch(/__pulse_new_[0-9a-f]{8}$/);
    }
    expect(a).not.toBe(b);
  });
});

describe("selectBody", () => {
  it("drops the semicolons and space a select ends with", () => {
    expect(selectBody("SELECT 1 AS k;\n  ;  ")).toBe("SELECT 1 AS k");
    expect(selectBody("SELECT ';' AS k -- done\n")).toBe("SELECT ';' AS k -- done");
  });

  it("refuses an empty select", () => {
    let error: unknown;
    try {
      selectBody(" ;\n");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WarehouseError);
    expect((error as WarehouseError).code).toBe(WarehouseErrorCode.badArgument);
  });
});
