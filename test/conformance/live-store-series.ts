// The LiveStore conformance cases on series specs: one loop over SERIES drives every series through a store, which answers each as its spec says.
import { describe, expect, it } from "vitest";
import { StoreErrorCode } from "../../src/errors.ts";
import {
  ACTIVITY_SERIES,
  type LiveStore,
  type MergedRow,
  SERIES,
  type Series,
  type StoreBatch,
  type WindowRowKey,
} from "../../src/store/index.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** 2026-11-28T00:00:00Z. */
const T0 = Date.UTC(2026, 10, 28);
const KEYS = ["b-key", "a-key"];
const PARTITIONS = [1, 0];

/**
 * A series' rows built from its spec alone: two window starts, two keys, two partitions, every metric a
 * distinct whole number; a window is final on partition 0 always and on partition 1 only at T0.
 */
function rowsOf(series: Series, windowMs: number, salt: number): WindowRowKey[] {
  const rows: WindowRowKey[] = [];
  for (const start of [T0 + windowMs, T0]) {
    for (const [k, key] of KEYS.entries()) {
      for (const partition of PARTITIONS) {
        const row: Record<string, unknown> = {
          partition,
          window_start: start,
          window_end: start + windowMs,
          [series.key]: `${series.name}-${key}`,
        };
        for (const [m, metric] of series.metricColumns.entries()) {
          row[metric] = salt + 1000 * m + 100 * k + 10 * partition + (start === T0 ? 1 : 2);
        }
        row.final = partition === 0 || start === T0;
        rows.push(row as unknown as WindowRowKey);
      }
    }
  }
  return rows;
}

/** The rows merged per (window, key) as the spec says, independently of any store, then presented. */
function expectedWindows(series: Series, rows: readonly WindowRowKey[]): unknown[] {
  const merged = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    const fields = row as unknown as Record<string, unknown>;
    const id = JSON.stringify([row.window_start, row.window_end, fields[series.key]]);
    const out = merged.get(id) ?? {
      window_start: row.window_start,
      window_end: row.window_end,
      [series.key]: fields[series.key],
      ...Object.fromEntries(series.metricColumns.map((metric) => [metric, 0])),
      final: true,
    };
    for (const metric of series.metricColumns) {
      expect(series.metrics[metric]).toBe("sum");
      (out[metric] as number) += fields[metric] as number;
    }
    out.final = out.final === true && row.final;
    merged.set(id, out);
  }
  return [...merged.values()]
    .sort(
      (a, b) =>
        (a.window_start as number) - (b.window_start as number) ||
        String(a[series.key]).localeCompare(String(b[series.key])),
    )
    .map((row) => series.present(row as unknown as MergedRow));
}

/** Rows per partition ordered as windowRows answers: window start, key, partition. */
function ordered(series: Series, rows: readonly WindowRowKey[]): WindowRowKey[] {
  const key = (row: WindowRowKey) => String((row as unknown as Record<string, unknown>)[series.key]);
  return [...rows].sort(
    (a, b) => a.window_start - b.window_start || key(a).localeCompare(key(b)) || a.partition - b.partition,
  );
}

/** The series cases, run inside runLiveStoreContract on its fresh store. */
export function runSeriesCases(store: () => LiveStore): void {
  describe("series specs", () => {
    it("drives every series the same way: its rows in, its windows, days, rows and finals out as its spec says", async () => {
      const windows: Record<string, WindowRowKey[]> = {};
      const daily: Record<string, WindowRowKey[]> = {};
      for (const [i, series] of SERIES.entries()) {
        windows[series.name] = rowsOf(series, MINUTE, 10_000 * i);
        daily[series.name] = rowsOf(series, DAY, 10_000 * i + 5_000);
      }
      await store().commit({ windows, daily, checkpoints: [] } as StoreBatch);

      for (const series of SERIES) {
        const read = await store().windows(series, { windowMs: MINUTE, last: 10 });
        const expected = expectedWindows(series, windows[series.name]!);
        expect(read).toEqual(expected);
        // Field by field in the same order, so every store's answers serialize alike.
        expect(read.map((row) => Object.keys(row))).toEqual(
          expected.map((row) => Object.keys(row as object)),
        );
        expect(await store().windows(series, { windowMs: MINUTE, last: 1 })).toEqual(expected.slice(2));

        const days = await store().daily(series);
        expect(days).toEqual(expectedWindows(series, daily[series.name]!));
        expect(await store().daily(series, { fromMs: T0 + 1 })).toEqual(
          expectedWindows(series, daily[series.name]!).slice(2),
        );

        const range = { windowMs: MINUTE, fromMs: T0, toMs: T0 + 2 * MINUTE };
        expect(await store().windowRows(series, range)).toEqual(ordered(series, windows[series.name]!));
        expect(await store().finalWindowStarts(series, MINUTE, T0)).toEqual(
          new Map([
            [0, T0 + MINUTE],
            [1, T0],
          ]),
        );
        // Daily rows are their own table: never windows.
        expect(await store().finalWindowStarts(series, DAY, T0)).toEqual(new Map());
        expect(await store().windows(series, { windowMs: DAY, last: 10 })).toEqual([]);
      }
    });

    it("refuses a series it does not keep, in a read and in a batch, and writes none of that batch", async () => {
      const copy = { ...ACTIVITY_SERIES };
      await expect(store().windows(copy, { windowMs: MINUTE, last: 1 })).rejects.toMatchObject({
        code: StoreErrorCode.badArgument,
      });
      await expect(store().finalWindowStarts(copy, MINUTE, 0)).rejects.toMatchObject({
        code: StoreErrorCode.badArgument,
      });
      const [activity] = rowsOf(ACTIVITY_SERIES, MINUTE, 0);
      const batch = { windows: { activity: [activity], activities: [activity] }, checkpoints: [] };
      await expect(store().commit(batch as unknown as StoreBatch)).rejects.toMatchObject({
        code: StoreErrorCode.badArgument,
      });
      expect(await store().windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).toEqual([]);
    });
  });
}
