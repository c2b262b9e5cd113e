// isPlainActivityV2 against avsc's shape check: every value it calls plain is valid, and valid simulated events are plain.

import { describe, expect, it } from "vitest";
import { SAMPLE_PURCHASE } from "../../test/helpers/events.ts";
import { simulateActivity } from "../ingest/simulator.ts";
import { DEVICE_INDEX, EVENT_TYPE_INDEX, isPlainActivityV2 } from "./activity-shape.ts";
import { userActivityV2Type } from "./schemas.ts";
import type { UserActivityV2 } from "./types.ts";

const BASE: UserActivityV2 = { ...SAMPLE_PURCHASE };

describe("isPlainActivityV2", () => {
  it("holds for the simulator's events and implies avsc's shape check on its malformed ones too", () => {
    let plain = 0;
    let malformed = 0;
    let plainMalformed = 0;
    for (const record of simulateActivity({ seed: 3, count: 20_000, malformedShare: 0.3 })) {
      if (record.kind === "malformed") {
        malformed++;
        const value = record.event as UserActivityV2;
        const plainShape = typeof value === "object" && value !== null && isPlainActivityV2(value);
        // Plain or not, the two agree: the defects that break the shape are the ones avsc refuses.
        expect(plainShape, JSON.stringify(value)).toBe(
          typeof value === "object" && value !== null && userActivityV2Type.isValid(value),
        );
        if (plainShape) plainMalformed++;
      } else {
        expect(isPlainActivityV2(record.event)).toBe(true);
        expect(userActivityV2Type.isValid(record.event)).toBe(true);
        plain++;
      }
    }
    expect(malformed).toBeGreaterThan(4_000);
    // Semantic defects (an empty user id, a future time…) keep the shape: both kinds were seen.
    expect(plainMalformed).toBeGreaterThan(1_000);
    expect(plainMalformed).toBeLessThan(malformed);
    expect(plain + malformed).toBe(20_000);
  });

  const notPlain: [string, Record<string, unknown>][] = [
    ["a number for a string", { user_id: 7 }],
    ["undefined for a nullable string", { referrer: undefined }],
    ["an event type not in the enum", { event_type: "TELEPORT" }],
    ["a device in lower case", { device: "mobile" }],
    ["a fractional event_time", { event_time: 1.5 }],
    ["an event_time of 2^52", { event_time: 2 ** 52 }],
    ["an ISO string for event_time", { event_time: "2024-01-01T00:00:00Z" }],
    ["a NaN amount", { amount: Number.NaN }],
    ["an amount as a string", { amount: "12.50" }],
    ["a missing page", { page: undefined }],
  ];
  for (const [name, change] of notPlain) {
    it(`is false for ${name}`, () => {
      expect(isPlainActivityV2({ ...BASE, ...change } as unknown as UserActivityV2)).toBe(false);
    });
  }

  it("is true at the edges avsc accepts", () => {
    for (const change of [
      { event_time: 2 ** 52 - 1 },
      { event_time: -(2 ** 52 - 1) },
      { amount: null, currency: null },
      { amount: -0 },
      { user_id: "", page: "" },
      { referrer: "x", country: "日本", currency: "EUR", app_version: "1" },
    ]) {
      const e = { ...BASE, ...change };
      expect(isPlainActivityV2(e)).toBe(true);
      expect(userActivityV2Type.isValid(e)).toBe(true);
    }
  });

  it("numbers enum symbols in schema order", () => {
    expect([...DEVICE_INDEX]).toEqual([
      ["DESKTOP", 0],
      ["MOBILE", 1],
      ["TABLET", 2],
      ["UNKNOWN", 3],
    ]);
    expect(EVENT_TYPE_INDEX.get("SIGNUP")).toBe(8);
  });
});
