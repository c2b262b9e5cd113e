// ActivityFrame: fields located and read straight from UserActivity v2 bytes, as the decoded event holds them.

import { describe, expect, it } from "vitest";
import { ActivityFrame } from "./activity-frame.ts";
import { prng } from "../../test/helpers/stream.ts";
import { userActivityV2Type } from "../contracts/schemas.ts";
import { DEVICES, EVENT_TYPES, type UserActivityV2 } from "../contracts/types.ts";
import { type ValidateOptions, validateActivityRules } from "../contracts/validate.ts";

const NOW = Date.UTC(2026, 10, 29, 12);
const OPTIONS: ValidateOptions = { nowMs: NOW, maxFutureSkewMs: 60_000 };

function frameOf(event: UserActivityV2): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), userActivityV2Type.toBuffer(event)]);
}

function base(i: number): UserActivityV2 {
  return {
    event_id: "0f8fad5b-d9cb-469f-a165-70867728950e",
    user_id: `user-${i}`,
    session_id: `s-${i}`,
    event_type: "VIEW",
    event_time: NOW - 1_000,
    page: "/p",
    referrer: null,
    device: "MOBILE",
    country: "DE",
    amount: null,
    currency: null,
    app_version: null,
  };
}

/** Events near every rule's edge: each is valid or breaks one rule, or sits where bytes cannot tell. */
function cases(): UserActivityV2[] {
  const random = prng(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const out: UserActivityV2[] = [];
  const ids = [
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "0F8FAD5B-D9CB-469F-A165-70867728950E",
    "0f8fad5bd9cb469fa16570867728950e",
    "0f8fad5b-d9cb-469f-a165-70867728950",
    "0f8fad5b-d9cb-469f-a165-70867728950g",
    "0f8fad5b_d9cb-469f-a165-70867728950e",
    "",
  ];
  const names = [
    "u",
    " u ",
    "",
    "   ",
    "\t\n",
    "\u00a0",
    "\u3000\u00a0",
    "ü",
    " ü",
    "user-é-1",
    "x".repeat(200),
  ];
  const types = ["VIEW", "PURCHASE", "CLICK", "SIGNUP"] as const;
  const amounts = [null, 0, 12.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e300];
  const currencies = [null, "EUR", "eur", "EU", "EURO", "€UR"];
  const countries = [null, "DE", "de", "DEU", "D", "É1"];
  const times = [
    NOW - 1_000,
    NOW + 60_000,
    NOW + 60_001,
    Date.UTC(1999, 11, 31),
    Date.UTC(2000, 0, 1),
    0,
    -5,
  ];
  for (let i = 0; i < 3_000; i++) {
    const e = base(i);
    e.event_id = pick(ids);
    e.user_id = pick(names);
    e.session_id = pick(names);
    e.event_type = pick(types);
    e.amount = pick(amounts);
    e.currency = pick(currencies);
    e.country = pick(countries);
    e.event_time = pick(times);
    e.referrer = random() < 0.5 ? null : "https://example.org/ü";
    e.app_version = random() < 0.5 ? null : "1.2.3";
    out.push(e);
  }
  // Valid purchases and views, which random picks above rarely produce.
  for (let i = 0; i < 200; i++) {
    out.push({ ...base(i), event_type: "PURCHASE", amount: i + 0.99, currency: "USD", country: null });
    out.push(base(i));
  }
  return out;
}

describe("ActivityFrame", () => {
  it("reads the enums in the v2 schema's symbol order", () => {
    const fields = (
      userActivityV2Type as unknown as { fields: { name: string; type: { symbols?: string[] } }[] }
    ).fields;
    expect(fields.find((f) => f.name === "event_type")!.type.symbols).toEqual([...EVENT_TYPES]);
    expect(fields.find((f) => f.name === "device")!.type.symbols).toEqual([...DEVICES]);
  });

  it("locates every field of a v2 frame as avsc decodes it", () => {
    const frame = new ActivityFrame();
    for (const event of cases()) {
      const bytes = frameOf(event);
      expect(frame.read(bytes)).toBe(true);
      const text = (start: number, end: number) => bytes.toString("utf8", start, end);
      expect(text(frame.eventIdStart, frame.eventIdEnd)).toBe(event.event_id);
      expect(text(frame.userIdStart, frame.userIdEnd)).toBe(event.user_id);
      expect(text(frame.sessionIdStart, frame.sessionIdEnd)).toBe(event.session_id);
      expect(frame.event_type).toBe(event.event_type);
      expect(frame.event_time).toBe(event.event_time);
      expect(frame.amount).toBe(event.amount);
      expect(frame.countryStart < 0 ? null : text(frame.countryStart, frame.countryEnd)).toBe(event.country);
      expect(frame.currencyStart < 0 ? null : text(frame.currencyStart, frame.currencyEnd)).toBe(
        event.currency,
      );
    }
  });

  it("passes exactly the events validateActivityRules accepts, except strings bytes cannot judge", () => {
    const frame = new ActivityFrame();
    let accepted = 0;
    let unsure = 0;
    for (const event of cases()) {
      frame.read(frameOf(event));
      const ok = validateActivityRules(event, OPTIONS).ok;
      const passes = frame.rulesPass(OPTIONS);
      // A user or session id of only non-ASCII characters may be all whitespace: the frame says no and
      // the job decodes and validates the event instead.
      const judgeable = [event.user_id, event.session_id].every(
        (s) => /[\x21-\x7e]/.test(s) || s.trim() === "",
      );
      if (judgeable) expect(passes).toBe(ok);
      else {
        expect(passes).toBe(false);
        unsure++;
      }
      if (passes) accepted++;
    }
    expect(accepted).toBeGreaterThan(400);
    expect(unsure).toBeGreaterThan(100);
  });

  it("refuses bytes that are not one whole v2 value, as avsc would", () => {
    const frame = new ActivityFrame();
    const event = {
      ...base(1),
      event_type: "PURCHASE" as const,
      amount: 5,
      currency: "USD",
      app_version: "9",
    };
    const bytes = frameOf(event);
    expect(frame.read(bytes)).toBe(true);
    for (let n = 5; n < bytes.length; n++) expect(frame.read(bytes.subarray(0, n))).toBe(false);
    expect(frame.read(Buffer.concat([bytes, Buffer.from([0])]))).toBe(false);
    // event_type is the 4th field: after three strings. Index 9 is past the enum's symbols.
    const body = userActivityV2Type.toBuffer(event);
    const typeAt = 5 + 1 + 36 + 1 + "user-1".length + 1 + "s-1".length;
    const bad = Buffer.from(bytes);
    expect(bad[typeAt]).toBe(4 << 1);
    bad[typeAt] = 9 << 1;
    expect(frame.read(bad)).toBe(false);
    expect(() => userActivityV2Type.decode(bad, 5)).toThrow();
    expect(body.length).toBe(bytes.length - 5);
    // A negative string length.
    const negative = Buffer.from(bytes);
    negative[5] = 1;
    expect(frame.read(negative)).toBe(false);
  });
});
