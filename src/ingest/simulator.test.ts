// Tests for the activity simulator: determinism, defect shares, contract conformance, funnels, skew, time curve.

import { readFileSync } from "node:fs";
import avro from "avsc";
import { describe, expect, it } from "vitest";
import type { UserActivity } from "../contracts/types.ts";
import { validateActivity } from "../contracts/validate.ts";
import {
  MALFORMED_DEFECTS,
  type SimulatedEvent,
  type SimulatorOptions,
  simulateActivity,
} from "./simulator.ts";

const SCHEMA = avro.Type.forSchema(
  JSON.parse(readFileSync(new URL("../contracts/schemas/user-activity.v1.avsc", import.meta.url), "utf8")),
);
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const take = (options: SimulatorOptions): SimulatedEvent[] => Array.from(simulateActivity(options));

/** The semantic rules a contract validator applies on top of the Avro schema. */
function breaksContract(value: unknown, newestEventTimeMs: number): boolean {
  if (!SCHEMA.isValid(value)) return true;
  const e = value as UserActivity;
  if (e.user_id === "" || e.session_id === "" || e.event_id === "") return true;
  if (e.event_type === "PURCHASE" && (e.amount === null || !(e.amount > 0) || e.currency === null))
    return true;
  if (e.amount !== null && e.amount < 0) return true;
  return e.event_time > newestEventTimeMs + DAY_MS;
}

describe("simulateActivity", () => {
  const options: SimulatorOptions = {
    seed: 20240101,
    count: 100_000,
    users: 2_000,
    outOfOrderShare: 0.05,
    maxLatenessSec: 30,
    duplicateShare: 0.02,
    malformedShare: 0.01,
  };
  const records = take(options);

  it("is deterministic for a seed and differs across seeds", () => {
    const again = take({ ...options, count: 20_000 });
    expect(again).toEqual(records.slice(0, 20_000));
    const other = take({ ...options, seed: options.seed + 1, count: 1000 });
    const ids = (list: SimulatedEvent[]) => list.map((r) => (r.kind === "malformed" ? "" : r.event.event_id));
    expect(ids(other)).not.toEqual(ids(records.slice(0, 1000)));
  });

  it("emits exactly count records, with each defect share within 0.4 points", () => {
    expect(records).toHaveLength(100_000);
    const share = (kind: string) => records.filter((r) => r.kind === kind).length / records.length;
    expect(Math.abs(share("out_of_order") - 0.05)).toBeLessThan(0.004);
    expect(Math.abs(share("duplicate") - 0.02)).toBeLessThan(0.004);
    expect(Math.abs(share("malformed") - 0.01)).toBeLessThan(0.004);
    expect(
      take({ ...options, count: 5000, outOfOrderShare: 0, duplicateShare: 0, malformedShare: 0 }).every(
        (r) => r.kind === "valid",
      ),
    ).toBe(true);
  });

  it("emits only contract-valid events outside the malformed kind, with unique v4 ids", () => {
    const events = records.filter((r) => r.kind !== "malformed").map((r) => r.event as UserActivity);
    expect(events.filter((e) => !SCHEMA.isValid(e))).toEqual([]);
    expect(events.filter((e) => breaksContract(e, Number.POSITIVE_INFINITY))).toEqual([]);
    expect(events.filter((e) => !UUID_V4.test(e.event_id) || !UUID_V4.test(e.session_id))).toEqual([]);
    const originals = records.filter((r) => r.kind === "valid" || r.kind === "out_of_order");
    expect(new Set(originals.map((r) => (r.event as UserActivity).event_id)).size).toBe(originals.length);
    const moneyOff = events.filter((e) =>
      e.event_type === "PURCHASE"
        ? !["USD", "EUR", "GBP"].includes(e.currency ?? "")
        : e.amount !== null || e.currency !== null,
    );
    expect(moneyOff).toEqual([]);
    const types = new Set(events.map((e) => e.event_type));
    expect([...types].sort()).toEqual([
      "ADD_TO_CART",
      "CLICK",
      "LOGIN",
      "LOGOUT",
      "PURCHASE",
      "REMOVE_FROM_CART",
      "SEARCH",
      "SIGNUP",
      "VIEW",
    ]);
    expect(new Set(events.map((e) => e.device))).toEqual(new Set(["MOBILE", "DESKTOP", "TABLET"]));
    expect(events.some((e) => e.country === null)).toBe(true);
  });

  it("re-emits duplicates as exact copies of an earlier event", () => {
    const seen = new Map<string, UserActivity>();
    let duplicates = 0;
    for (const r of records) {
      if (r.kind === "valid" || r.kind === "out_of_order") seen.set(r.event.event_id, r.event);
      if (r.kind === "duplicate") {
        duplicates++;
        const original = seen.get(r.event.event_id);
        expect(original).toBeDefined();
        expect(r.event).toEqual(original);
        expect(r.event).not.toBe(original);
      }
    }
    expect(duplicates).toBeGreaterThan(0);
  });

  it("keeps in-order event time non-decreasing and sets late events back by at most maxLatenessSec", () => {
    let newest = Number.NEGATIVE_INFINITY;
    let late = 0;
    let behind = 0;
    const violations: string[] = [];
    for (const [i, r] of records.entries()) {
      if (r.kind === "valid") {
        if (r.event.event_time < newest) violations.push(`#${i} in-order event went back in time`);
        newest = r.event.event_time;
      } else if (r.kind === "out_of_order") {
        late++;
        if (r.event.event_time < newest - 30_000) violations.push(`#${i} is later than maxLatenessSec`);
        if (r.event.event_time < newest) behind++;
      }
    }
    expect(violations).toEqual([]);
    expect(behind / late).toBeGreaterThan(0.95);
  });

  it("follows the funnel: a PURCHASE only with an item added to the session's cart and still there", () => {
    const cart = new Map<string, number>();
    const violations: string[] = [];
    let purchases = 0;
    let adds = 0;
    let views = 0;
    for (const r of records) {
      if (r.kind !== "valid" && r.kind !== "out_of_order") continue;
      const { session_id: session, event_type: type } = r.event;
      if (type === "VIEW") views++;
      if (type === "ADD_TO_CART") {
        adds++;
        cart.set(session, (cart.get(session) ?? 0) + 1);
      }
      if (type === "REMOVE_FROM_CART" || type === "PURCHASE") {
        if ((cart.get(session) ?? 0) <= 0)
          violations.push(`${type} in session ${session} with an empty cart`);
        cart.set(session, type === "PURCHASE" ? 0 : cart.get(session)! - 1);
        if (type === "PURCHASE") purchases++;
      }
    }
    expect(violations).toEqual([]);
    // Drop-off at each step: fewer carts than views, fewer purchases than carts.
    expect(adds / views).toBeGreaterThan(0.03);
    expect(adds / views).toBeLessThan(0.2);
    expect(purchases / adds).toBeGreaterThan(0.1);
    expect(purchases / adds).toBeLessThan(0.6);
  });

  it("skews activity: the top 1% of users produce far more than the median user", () => {
    const perUser = new Map<string, number>();
    for (const r of records) {
      if (r.kind === "valid") perUser.set(r.event.user_id, (perUser.get(r.event.user_id) ?? 0) + 1);
    }
    const counts = [...perUser.values()].sort((a, b) => b - a);
    const top = counts.slice(0, Math.ceil(options.users! / 100));
    const topMean = top.reduce((a, b) => a + b, 0) / top.length;
    const median = counts[Math.floor(counts.length / 2)]!;
    expect(topMean).toBeGreaterThan(20 * median);
  });

  it("emits malformed records of every defect kind, each breaking the schema or a semantic rule", () => {
    let newest = Number.NEGATIVE_INFINITY;
    const kinds = new Set<string>();
    for (const r of records) {
      if (r.kind === "valid") newest = Math.max(newest, r.event.event_time);
      if (r.kind !== "malformed") continue;
      kinds.add(r.defect);
      expect(breaksContract(r.event, newest), `${r.defect}: ${JSON.stringify(r.event)}`).toBe(true);
    }
    expect([...kinds].sort()).toEqual([...MALFORMED_DEFECTS].sort());
  });

  // Regression: future_event_time was only days ahead of the simulated clock, so a run started in the
  // past (--start) let those "malformed" events through validation against the wall clock.
  it("puts future_event_time defects ahead of the wall clock even when the run starts years ago", () => {
    const nowMs = Date.now();
    let seen = 0;
    for (const r of simulateActivity({
      seed: 5,
      count: 20_000,
      malformedShare: 0.2,
      startTimeMs: Date.UTC(2019, 0, 1),
    })) {
      if (r.kind !== "malformed" || r.defect !== "future_event_time") continue;
      seen++;
      expect(validateActivity(r.event, { nowMs }).ok).toBe(false);
    }
    expect(seen).toBeGreaterThan(100);
  });

  // Regression: wrong_type once set event_time to an ISO string, which the contract accepts.
  it("emits malformed records that the contract's own validator rejects, every one", () => {
    let newest = Number.NEGATIVE_INFINITY;
    for (const r of records) {
      if (r.kind === "valid") newest = Math.max(newest, r.event.event_time);
      if (r.kind !== "malformed") continue;
      const result = validateActivity(r.event, { nowMs: Math.max(newest, Date.UTC(2024, 0, 1)) });
      expect(result.ok, `${r.defect}: ${JSON.stringify(r.event)}`).toBe(false);
    }
  });
});

describe("simulateActivity over event time", () => {
  it("follows the day/night curve: the 16:00 UTC hour is busier than 04:00 by about 4x", () => {
    const perHour = new Array<number>(24).fill(0);
    const start = Date.UTC(2024, 0, 1);
    for (const r of simulateActivity({ seed: 3, ratePerSec: 1, count: 3 * 86_400, malformedShare: 0 })) {
      if (r.kind !== "valid" || r.event.event_time >= start + 2 * DAY_MS) continue;
      perHour[Math.floor((r.event.event_time - start) / HOUR_MS) % 24]++;
    }
    const ratio = perHour[16]! / perHour[4]!;
    expect(ratio).toBeGreaterThan(3);
    expect(ratio).toBeLessThan(5.5);
  });

  it("multiplies the rate during a burst", () => {
    const start = Date.UTC(2024, 0, 1);
    const perHour = new Array<number>(6).fill(0);
    const records = simulateActivity({
      seed: 5,
      ratePerSec: 1,
      dayNightAmplitude: 0,
      startTimeMs: start,
      burst: { atMs: start + 2 * HOUR_MS, durationMs: HOUR_MS, multiplier: 10 },
      count: 60_000,
      outOfOrderShare: 0,
    });
    for (const r of records) {
      if (r.kind === "valid") {
        const hour = Math.floor((r.event.event_time - start) / HOUR_MS);
        if (hour < 6) perHour[hour]++;
      }
    }
    expect(perHour[2]! / perHour[1]!).toBeGreaterThan(7);
    expect(perHour[2]! / perHour[1]!).toBeLessThan(13);
    expect(perHour[4]! / perHour[1]!).toBeGreaterThan(0.8);
    expect(perHour[4]! / perHour[1]!).toBeLessThan(1.25);
  });

  it("rejects impossible options with PULSE_SOURCE_BAD_OPTION", () => {
    expect(() => simulateActivity({ seed: 1, duplicateShare: 2 }).next()).toThrow(
      expect.objectContaining({ code: "PULSE_SOURCE_BAD_OPTION" }),
    );
    expect(() => simulateActivity({ seed: 1, ratePerSec: 0 }).next()).toThrow(
      expect.objectContaining({ code: "PULSE_SOURCE_BAD_OPTION" }),
    );
  });
});
