// Data intervals of a DAG's schedule, Airflow's semantics: cron ticks in the DAG's time zone cut time into [start, end) intervals.
//
// The ticks of the schedule's cron expression, evaluated by croner in the DAG's time zone, are the
// interval bounds: each interval runs from one tick to the next, and its logical date is its start. The
// first interval starts at the first tick at or after startDate. An interval is due once its end ≤ now
// (a run covers a period that is over). Everything here is a pure function of its arguments.
//
// Around a DST change croner follows Vixie cron: a fixed time that does not exist (02:00 on the night
// the clocks go forward) fires at the first instant after the gap (03:00) that day; a fixed time that
// occurs twice (02:30 on the night they go back) fires once, at its first occurrence. Intervals on those
// days are 23 or 25 hours long. An hourly schedule fires on both occurrences, so its intervals stay 1 hour.

import { Cron } from "croner";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { Dag } from "./dag.ts";

/** [start, end), and its logical date (= start). */
export interface DataInterval {
  start: Date;
  end: Date;
  logicalDate: Date;
}

/** The part of a Dag this module reads. */
export type ScheduledDag = Pick<Dag, "id" | "cron" | "timezone" | "startDate" | "catchup">;

/** At most this many intervals come from one call; a longer span is a mistake (a from of 1970). */
export const MAX_INTERVALS = 100_000;

/** The first interval whose start is at or after `after` (and at or after the DAG's startDate); null when manual. */
export function nextInterval(dag: ScheduledDag, after: Date): DataInterval | null {
  const cron = cronOf(dag);
  if (cron === null) return null;
  const from = Math.max(after.getTime(), dag.startDate.getTime());
  const start = tickAtOrAfter(cron, from);
  if (start === null) return null;
  const end = cron.nextRun(start);
  return end === null ? null : interval(start, end);
}

/**
 * Every interval with from ≤ start and end ≤ to, in order, none before the DAG's startDate (a backfill of
 * [from, to)). Empty for a manual DAG.
 */
export function intervalsBetween(dag: ScheduledDag, from: Date, to: Date): DataInterval[] {
  const cron = cronOf(dag);
  if (cron === null) return [];
  const out: DataInterval[] = [];
  let start = tickAtOrAfter(cron, Math.max(from.getTime(), dag.startDate.getTime()));
  while (start !== null) {
    const end = cron.nextRun(start);
    if (end === null || end.getTime() > to.getTime()) break;
    if (out.length === MAX_INTERVALS) {
      throw new OrchestrateError(
        OrchestrateErrorCode.badArgument,
        `DAG "${dag.id}": more than ${MAX_INTERVALS} intervals from ${from.toISOString()} to ${to.toISOString()}; ` +
          "narrow the range.",
      );
    }
    out.push(interval(start, end));
    start = end;
  }
  return out;
}

/**
 * The intervals a scheduler should create runs for at `now`, given the end of the latest interval it
 * has already run (null when none). With catchup, every complete interval from there (or from
 * startDate); without, only the latest complete interval, when it has not been run yet.
 */
export function dueIntervals(dag: ScheduledDag, lastRunEnd: Date | null, now: Date): DataInterval[] {
  const cron = cronOf(dag);
  if (cron === null) return [];
  const from = new Date(Math.max(lastRunEnd?.getTime() ?? Number.NEGATIVE_INFINITY, dag.startDate.getTime()));
  if (dag.catchup) return intervalsBetween(dag, from, now);
  const latest = latestCompleteInterval(cron, now.getTime());
  if (latest === null || latest.start.getTime() < from.getTime()) {
    // The latest complete interval starts before startDate or was run already.
    return [];
  }
  return [latest];
}

/**
 * The interval that holds `at`: from the latest tick ≤ at to the next one (a manual run for a date); null
 * when manual or before the DAG's first interval.
 */
export function intervalContaining(dag: ScheduledDag, at: Date): DataInterval | null {
  const cron = cronOf(dag);
  if (cron === null) return null;
  const start = tickAtOrBefore(cron, at.getTime());
  if (start === null || start.getTime() < dag.startDate.getTime()) return null;
  const end = cron.nextRun(start);
  return end === null ? null : interval(start, end);
}

/** The latest interval that is over at `now` (Airflow's data interval of a manual run); null when manual. */
export function latestInterval(dag: ScheduledDag, now: Date): DataInterval | null {
  const cron = cronOf(dag);
  return cron === null ? null : latestCompleteInterval(cron, now.getTime());
}

/** The interval that ends at the latest tick ≤ now; null when the schedule has no two ticks before now. */
function latestCompleteInterval(cron: Cron, nowMs: number): DataInterval | null {
  const end = tickAtOrBefore(cron, nowMs);
  if (end === null) return null;
  const [start] = cron.previousRuns(1, end);
  return start === undefined ? null : interval(start, end);
}

/** The first tick ≥ ms. croner's nextRun is strictly after a whole second, so step back one and check. */
function tickAtOrAfter(cron: Cron, ms: number): Date | null {
  let tick = cron.nextRun(new Date(ms - 1000));
  while (tick !== null && tick.getTime() < ms) tick = cron.nextRun(tick);
  return tick;
}

/** The last tick ≤ ms. croner's previousRuns is strictly before, so start one second later and check. */
function tickAtOrBefore(cron: Cron, ms: number): Date | null {
  let [tick] = cron.previousRuns(1, new Date(Math.floor(ms / 1000) * 1000 + 1000));
  while (tick !== undefined && tick.getTime() > ms) [tick] = cron.previousRuns(1, tick);
  return tick ?? null;
}

const crons = new Map<string, Cron>();

/** croner's job for the DAG's cron expression and time zone (cached: a Cron is stateless when paused). */
function cronOf(dag: ScheduledDag): Cron | null {
  if (dag.cron === null) return null;
  const key = `${dag.timezone}\u0000${dag.cron}`;
  let cron = crons.get(key);
  if (cron === undefined) {
    cron = new Cron(dag.cron, { timezone: dag.timezone, mode: "5-part", paused: true });
    crons.set(key, cron);
  }
  return cron;
}

function interval(start: Date, end: Date): DataInterval {
  return { start, end, logicalDate: start };
}
