// The compiled window binders: each series' rows bound in its tables' column order, checked as every row is.
import { describe, expect, it } from "vitest";
import { StoreErrorCode } from "../../errors.ts";
import type { WindowRowKey } from "../index.ts";
import { SERIES, type Series } from "../series.ts";
import { windowBinder } from "./commit.ts";

/** What a row binds, read column by column from the spec: the straight-line binder must agree. */
function expectedArgs(series: Series, row: Record<string, unknown>): unknown[] {
  return [
    (row.window_end as number) - (row.window_start as number),
    row.window_start,
    row[series.key],
    row.partition,
    ...series.metricColumns.map((column) => row[column]),
    row.final ? 1 : 0,
  ];
}

function rowOf(series: Series, partition: number, final: boolean): Record<string, unknown> {
  const row: Record<string, unknown> = {
    partition,
    window_start: 1_700_000_000_000,
    window_end: 1_700_000_060_000,
    [series.key]: `${series.name}-key`,
    final,
  };
  for (const [i, column] of series.metricColumns.entries()) row[column] = 11 * (i + 1);
  return row;
}

describe("windowBinder", () => {
  it("binds each series' rows in its column order, at any place of the statement's arguments", () => {
    for (const series of SERIES) {
      const bind = windowBinder(series);
      const columns = 5 + series.metricColumns.length;
      const args = new Array<unknown>(3 * columns).fill(null);
      const rows = [rowOf(series, 0, true), rowOf(series, 7, false), rowOf(series, 1023, true)];
      for (const [i, row] of rows.entries()) bind(args, i * columns, row as unknown as WindowRowKey);
      expect(args).toEqual(rows.flatMap((row) => expectedArgs(series, row)));
    }
  });

  it("checks each row's window and partition, naming the series' rows", () => {
    for (const series of SERIES) {
      const bind = windowBinder(series);
      const args: unknown[] = [];
      const empty = { ...rowOf(series, 0, true), window_end: 1_700_000_000_000 };
      expect(() => bind(args, 0, empty as unknown as WindowRowKey)).toThrow(
        expect.objectContaining({
          code: StoreErrorCode.badArgument,
          message: expect.stringContaining(`A ${series.label} row's window`),
        }),
      );
      expect(() => bind(args, 0, rowOf(series, 1024, true) as unknown as WindowRowKey)).toThrow(
        expect.objectContaining({
          code: StoreErrorCode.badArgument,
          message: expect.stringContaining(`A ${series.label} row's partition`),
        }),
      );
    }
  });
});
