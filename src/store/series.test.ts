// The series specs: their names checked once, their columns in table order, their tables apart, activity's revenue presented in currency units.
import { describe, expect, it } from "vitest";
import { StoreErrorCode } from "../errors.ts";
import { ACTIVITY_SERIES, defineSeries, SERIES, WIKIMEDIA_SERIES } from "./series.ts";

describe("series specs", () => {
  it("list their metric columns in table order, the keys of their metrics", () => {
    expect(ACTIVITY_SERIES.metricColumns).toEqual([
      "event_count",
      "unique_users",
      "sessions",
      "revenue_cents",
    ]);
    expect(WIKIMEDIA_SERIES.metricColumns).toEqual([
      "changes",
      "edits",
      "bot_edits",
      "human_edits",
      "new_pages",
      "byte_delta",
      "unique_editors",
    ]);
    for (const series of SERIES) {
      expect(series.metricColumns).toEqual(Object.keys(series.metrics));
      expect(Object.isFrozen(series)).toBe(true);
    }
  });

  it("keep names, labels and tables apart", () => {
    for (const field of ["name", "label", "windowTable", "dailyTable"] as const) {
      const values = SERIES.map((series) => series[field]);
      expect(new Set(values).size).toBe(values.length);
    }
    const tables = SERIES.flatMap((series) => [series.windowTable, series.dailyTable]);
    expect(new Set(tables).size).toBe(tables.length);
    expect(SERIES.map((series) => series.name)).toEqual(["activity", "wikimedia"]);
    expect(WIKIMEDIA_SERIES.label).toBe("wiki");
  });

  it("present activity's revenue in currency units, divided once from the summed cents", () => {
    const merged = {
      window_start: 0,
      window_end: 60_000,
      event_type: "PURCHASE",
      event_count: 3,
      unique_users: 2,
      sessions: 2,
      revenue_cents: 2010,
      final: true,
    };
    const { revenue_cents: _cents, ...rest } = merged;
    const presented = ACTIVITY_SERIES.present(merged);
    expect(presented).toEqual({ ...rest, revenue: 20.1 });
    // Field order as the API serializes it: revenue where revenue_cents was.
    expect(Object.keys(presented)).toEqual(
      Object.keys(merged).map((k) => (k === "revenue_cents" ? "revenue" : k)),
    );
  });

  it("refuses a name or column that is not a plain lower-case identifier", () => {
    const { metricColumns: _columns, ...spec } = ACTIVITY_SERIES;
    expect(defineSeries(spec).metricColumns).toEqual(ACTIVITY_SERIES.metricColumns);
    for (const bad of [
      { ...spec, windowTable: "activity_windows; DROP TABLE alerts" },
      { ...spec, name: "Activity" },
      { ...spec, metrics: { ...spec.metrics, "event count": "sum" } },
    ]) {
      expect(() => defineSeries(bad as typeof spec)).toThrow(
        expect.objectContaining({ code: StoreErrorCode.badArgument }),
      );
    }
  });
});
