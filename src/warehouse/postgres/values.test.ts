// How PostgreSQL's text values become SqlValues and back: numbers, booleans, dates as text, timestamps as UTC Dates.
import { describe, expect, it } from "vitest";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { parserFor, parseTimestamp, toParam } from "./values.ts";

describe("parseTimestamp", () => {
  it("reads a timestamp without time zone as UTC, cut to milliseconds", () => {
    expect(parseTimestamp("2026-03-04 05:06:07")).toEqual(new Date(Date.UTC(2026, 2, 4, 5, 6, 7)));
    expect(parseTimestamp("2026-03-04 05:06:07.5")).toEqual(new Date(Date.UTC(2026, 2, 4, 5, 6, 7, 500)));
    expect(parseTimestamp("2026-03-04 05:06:07.123987")).toEqual(
      new Date(Date.UTC(2026, 2, 4, 5, 6, 7, 123)),
    );
    expect(parseTimestamp("1969-12-31 23:59:59.999")).toEqual(new Date(-1));
    // Years 0–99 are those years, not 1900–1999 as Date.UTC reads them.
    expect(parseTimestamp("0099-01-01 00:00:00")).toEqual(new Date("0099-01-01T00:00:00Z"));
  });

  it("reads a timestamptz at the instant its offset names", () => {
    expect(parseTimestamp("2026-03-04 05:06:07+00")).toEqual(new Date(Date.UTC(2026, 2, 4, 5, 6, 7)));
    expect(parseTimestamp("2026-03-04 05:06:07.25+05:30")).toEqual(
      new Date(Date.UTC(2026, 2, 3, 23, 36, 7, 250)),
    );
    expect(parseTimestamp("2026-03-04 05:06:07-08")).toEqual(new Date(Date.UTC(2026, 2, 4, 13, 6, 7)));
    expect(parseTimestamp("1900-01-01 00:00:00+00:09:21")).toEqual(
      new Date(Date.UTC(1899, 11, 31, 23, 50, 39)),
    );
  });

  it("keeps text a Date cannot hold", () => {
    expect(parseTimestamp("infinity")).toBe("infinity");
    expect(parseTimestamp("0044-03-15 12:00:00 BC")).toBe("0044-03-15 12:00:00 BC");
  });
});

describe("parserFor", () => {
  it("reads every numeric type as a number, bool as boolean, date and unmapped types as their text", () => {
    for (const oid of [20, 21, 23, 26, 700, 701, 1700]) expect(parserFor(oid)("-12.5")).toBe(-12.5);
    expect(parserFor(20)("9007199254740991")).toBe(9_007_199_254_740_991);
    expect(parserFor(16)("t")).toBe(true);
    expect(parserFor(16)("f")).toBe(false);
    expect(parserFor(1082)("2026-02-28")).toBe("2026-02-28");
    expect(parserFor(1114)("2026-02-28 01:02:03")).toEqual(new Date(Date.UTC(2026, 1, 28, 1, 2, 3)));
    expect(parserFor(3802)('{"a": 1}')).toBe('{"a": 1}');
    expect(parserFor(1007)("{1,2}")).toBe("{1,2}");
  });
});

describe("toParam", () => {
  it("sends a Date as its UTC ISO text and other values as they are", () => {
    expect(toParam(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe("2026-01-02T03:04:05.006Z");
    expect(toParam("x")).toBe("x");
    expect(toParam(-1.5)).toBe(-1.5);
    expect(toParam(false)).toBe(false);
    expect(toParam(null)).toBe(null);
  });

  it("refuses an invalid Date and anything that is not a SqlValue", () => {
    for (const value of [new Date(Number.NaN), undefined, {}, 10n]) {
      let error: unknown;
      try {
        toParam(value as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WarehouseError);
      expect((error as WarehouseError).code).toBe(WarehouseErrorCode.badArgument);
    }
  });
});
