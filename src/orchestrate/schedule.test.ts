// Data intervals: cron in a time zone across DST changes, @daily outside UTC, month ends, catchup on and off.
import { describe, expect, it } from "vitest";
import { type DagSpec, defineDag } from "./dag.ts";
import { type DataInterval, dueIntervals, intervalsBetween, nextInterval } from "./schedule.ts";

function dag(schedule: string, timezone: string, startDate: string, catchup = false) {
  const spec: DagSpec = {
    id: "d",
    schedule,
    timezone,
    startDate: new Date(startDate),
    catchup,
    tasks: [{ id: "t", run: () => {} }],
  };
  return defineDag(spec);
}

/** Intervals as [start, end] ISO strings, to compare exactly. */
const iso = (intervals: readonly (DataInterval | null)[]): (string[] | null)[] =>
  intervals.map((i) => (i === null ? null : [i.start.toISOString(), i.end.toISOString()]));

describe("cron across DST changes (Europe/Berlin)", () => {
  // 2026-03-29: 02:00 CET → 03:00 CEST. 2026-10-25: 03:00 CEST → 02:00 CET.
  it("0 2 * * *: the missing 02:00 fires at 03:00 CEST that day, so the intervals around it are 24 h and 23 h", () => {
    const d = dag("0 2 * * *", "Europe/Berlin", "2026-03-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-03-27T00:00:00Z"), new Date("2026-03-30T12:00:00Z"))),
    ).toEqual([
      ["2026-03-27T01:00:00.000Z", "2026-03-28T01:00:00.000Z"],
      ["2026-03-28T01:00:00.000Z", "2026-03-29T01:00:00.000Z"],
      ["2026-03-29T01:00:00.000Z", "2026-03-30T00:00:00.000Z"],
    ]);
  });

  it("0 2 * * *: the doubled 02:00 fires once, at its first (CEST) occurrence, so that day's interval is 25 h", () => {
    const d = dag("0 2 * * *", "Europe/Berlin", "2026-03-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-10-24T00:00:00Z"), new Date("2026-10-27T00:00:00Z"))),
    ).toEqual([
      ["2026-10-24T00:00:00.000Z", "2026-10-25T00:00:00.000Z"],
      ["2026-10-25T00:00:00.000Z", "2026-10-26T01:00:00.000Z"],
    ]);
  });

  it("30 1 * * *: a time outside both gaps keeps its wall-clock time, so the change days give 23 h and 25 h intervals", () => {
    const d = dag("30 1 * * *", "Europe/Berlin", "2026-03-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-03-28T00:00:00Z"), new Date("2026-03-30T00:00:00Z"))),
    ).toEqual([
      ["2026-03-28T00:30:00.000Z", "2026-03-29T00:30:00.000Z"],
      ["2026-03-29T00:30:00.000Z", "2026-03-29T23:30:00.000Z"],
    ]);
    expect(
      iso(intervalsBetween(d, new Date("2026-10-24T00:00:00Z"), new Date("2026-10-26T01:00:00Z"))),
    ).toEqual([["2026-10-24T23:30:00.000Z", "2026-10-26T00:30:00.000Z"]]);
  });

  it("@hourly fires on both occurrences of the doubled hour, so every interval stays 1 h", () => {
    const d = dag("@hourly", "Europe/Berlin", "2026-03-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-10-24T23:00:00Z"), new Date("2026-10-25T02:00:00Z"))),
    ).toEqual([
      ["2026-10-24T23:00:00.000Z", "2026-10-25T00:00:00.000Z"],
      ["2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z"],
      ["2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z"],
    ]);
  });
});

describe("@daily in America/New_York", () => {
  it("runs from local midnight to local midnight, 05:00Z in winter and 04:00Z in summer", () => {
    const d = dag("@daily", "America/New_York", "2026-03-01T00:00:00Z");
    // 2026-03-08: 02:00 EST → 03:00 EDT.
    expect(
      iso(intervalsBetween(d, new Date("2026-03-07T00:00:00Z"), new Date("2026-03-10T00:00:00Z"))),
    ).toEqual([
      ["2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z"],
      ["2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"],
    ]);
    expect(iso([nextInterval(d, new Date("2026-07-04T12:00:00Z"))])).toEqual([
      ["2026-07-05T04:00:00.000Z", "2026-07-06T04:00:00.000Z"],
    ]);
  });

  it("starts the first interval at the first tick at or after startDate", () => {
    const d = dag("@daily", "America/New_York", "2026-03-01T05:00:00Z");
    expect(iso([nextInterval(d, new Date("2020-01-01T00:00:00Z"))])).toEqual([
      ["2026-03-01T05:00:00.000Z", "2026-03-02T05:00:00.000Z"],
    ]);
    const late = dag("@daily", "America/New_York", "2026-03-01T05:00:00.001Z");
    expect(iso([nextInterval(late, new Date("2020-01-01T00:00:00Z"))])).toEqual([
      ["2026-03-02T05:00:00.000Z", "2026-03-03T05:00:00.000Z"],
    ]);
  });
});

describe("month ends", () => {
  it("@monthly runs from the 1st to the 1st, whatever the month's length", () => {
    const d = dag("@monthly", "UTC", "2026-01-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-01-01T00:00:00Z"), new Date("2026-04-01T00:00:00Z"))),
    ).toEqual([
      ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"],
      ["2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"],
      ["2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"],
    ]);
  });

  it("0 0 31 * * skips the months without a 31st", () => {
    const d = dag("0 0 31 * *", "UTC", "2026-01-01T00:00:00Z");
    expect(
      iso(intervalsBetween(d, new Date("2026-01-01T00:00:00Z"), new Date("2026-08-01T00:00:00Z"))),
    ).toEqual([
      ["2026-01-31T00:00:00.000Z", "2026-03-31T00:00:00.000Z"],
      ["2026-03-31T00:00:00.000Z", "2026-05-31T00:00:00.000Z"],
      ["2026-05-31T00:00:00.000Z", "2026-07-31T00:00:00.000Z"],
    ]);
  });
});

describe("dueIntervals", () => {
  const start = "2026-01-01T00:00:00Z";
  const now = new Date("2026-01-04T09:30:00Z");

  it("with catchup, every complete interval since startDate, then since the last run's end", () => {
    const d = dag("@daily", "UTC", start, true);
    expect(iso(dueIntervals(d, null, now))).toEqual([
      ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
      ["2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"],
      ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"],
    ]);
    expect(iso(dueIntervals(d, new Date("2026-01-03T00:00:00Z"), now))).toEqual([
      ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"],
    ]);
    expect(dueIntervals(d, new Date("2026-01-04T00:00:00Z"), now)).toEqual([]);
  });

  it("without catchup, only the latest complete interval, once", () => {
    const d = dag("@daily", "UTC", start, false);
    expect(iso(dueIntervals(d, null, now))).toEqual([
      ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"],
    ]);
    expect(iso(dueIntervals(d, new Date("2026-01-02T00:00:00Z"), now))).toEqual([
      ["2026-01-03T00:00:00.000Z", "2026-01-04T00:00:00.000Z"],
    ]);
    expect(dueIntervals(d, new Date("2026-01-04T00:00:00Z"), now)).toEqual([]);
  });

  it("counts an interval due exactly at its end, and none before startDate's first complete interval", () => {
    const d = dag("@daily", "UTC", start, false);
    expect(iso(dueIntervals(d, null, new Date("2026-01-02T00:00:00Z")))).toEqual([
      ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
    ]);
    expect(dueIntervals(d, null, new Date("2026-01-01T23:59:59.999Z"))).toEqual([]);
    expect(dueIntervals(dag("@daily", "UTC", start, true), null, new Date("2026-01-01T23:59:59Z"))).toEqual(
      [],
    );
  });

  it("logicalDate is the interval's start; manual DAGs have no intervals", () => {
    const [first] = dueIntervals(dag("@hourly", "UTC", start, false), null, new Date("2026-01-01T05:10:00Z"));
    expect(first?.logicalDate.toISOString()).toBe("2026-01-01T04:00:00.000Z");
    const manual = dag("manual", "UTC", start, true);
    expect(dueIntervals(manual, null, now)).toEqual([]);
    expect(nextInterval(manual, now)).toBeNull();
    expect(intervalsBetween(manual, new Date(start), now)).toEqual([]);
  });
});
