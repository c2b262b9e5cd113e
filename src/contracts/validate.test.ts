// Each validation rule triggered on its own, and valid events from every input form passing.

import { describe, expect, it } from "vitest";
import type { UserActivityV2, WikimediaRecentChange } from "./types.ts";
import { simulateActivity } from "../ingest/simulator.ts";
import { isPlainActivityV2 } from "./activity-shape.ts";
import {
  activityRulesPass,
  ValidationCode,
  parseIsoTimeMs,
  validateActivity,
  validateActivityRules,
  validateRecentChange,
  validateRecentChangeRules,
} from "./validate.ts";

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);

function activity(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: "0b9a3c8e-6f1d-4c2a-9b7e-1d2f3a4b5c6d",
    user_id: "u-42",
    session_id: "s-7",
    event_type: "PURCHASE",
    event_time: NOW - 1_000,
    page: "/checkout",
    referrer: null,
    device: "MOBILE",
    country: "DE",
    amount: 19.99,
    currency: "EUR",
    ...overrides,
  };
}

function codesOf(raw: unknown, options = {}): string[] {
  const result = validateActivity(raw, { nowMs: NOW, ...options });
  return result.ok ? [] : result.errors.map((e) => e.code);
}

describe("validateActivity", () => {
  it("accepts a valid purchase and a valid view, filling app_version with null", () => {
    const result = validateActivity(activity(), { nowMs: NOW });
    expect(result).toEqual({ ok: true, value: { ...activity(), app_version: null } });
    const view = activity({
      event_type: "VIEW",
      amount: null,
      currency: null,
      country: null,
      referrer: "/home",
    });
    expect(codesOf(view)).toEqual([]);
  });

  it("the stream's rules accept an event as it is, never a rewritten copy (the raw lake keeps the record's bytes)", () => {
    const event = { ...activity(), app_version: null } as unknown as UserActivityV2;
    const result = validateActivityRules(event, { nowMs: NOW });
    expect(result.ok && result.value).toBe(event);
    const change = {
      wiki: "enwiki",
      server_name: "en.wikipedia.org",
      type: "edit",
      meta: { id: "m-1", dt: NOW - 1_000 },
    } as unknown as WikimediaRecentChange;
    const checked = validateRecentChangeRules(change, { nowMs: NOW });
    expect(checked.ok && checked.value).toBe(change);
  });

  it("accepts a UUID event_id in either case", () => {
    expect(codesOf(activity({ event_id: "0B9A3C8E-6F1D-4C2A-9B7E-1D2F3A4B5C6D" }))).toEqual([]);
    expect(codesOf(activity({ event_id: "0b9a3c8e-6F1D-4c2a-9b7e-1d2f3a4b5c6d" }))).toEqual([]);
  });

  it("accepts a v2 event with app_version", () => {
    const result = validateActivity(activity({ app_version: "3.1.0" }), { nowMs: NOW });
    expect(result.ok && result.value.app_version).toBe("3.1.0");
  });

  it("accepts untrusted JSON: ISO-8601 event time, missing nullable fields, extra fields dropped", () => {
    const raw = activity({ event_time: "2024-06-01T11:59:00.250Z", extra: { big: "x".repeat(100) } });
    delete raw["referrer"];
    delete raw["country"];
    const result = validateActivity(JSON.parse(JSON.stringify(raw)), { nowMs: NOW });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.event_time).toBe(Date.UTC(2024, 5, 1, 11, 59, 0, 250));
    expect(result.value.referrer).toBeNull();
    expect(result.value.country).toBeNull();
    expect(result.value).not.toHaveProperty("extra");
  });

  it("passes an event already in form as it is, and copies one with an undeclared field to drop it", () => {
    const inForm = activity({ app_version: null });
    const passed = validateActivity(inForm, { nowMs: NOW });
    expect(passed.ok && passed.value).toBe(inForm);
    const withExtra = activity({ app_version: null, extra: 1 });
    const copied = validateActivity(withExtra, { nowMs: NOW });
    expect(copied.ok).toBe(true);
    if (!copied.ok) return;
    expect(copied.value).not.toBe(withExtra);
    expect(copied.value).toEqual(inForm);
  });

  it("agrees with its fast check (activityRulesPass) on simulated events, malformed ones included", () => {
    const nowMs = Date.UTC(2024, 0, 2);
    let failed = 0;
    for (const record of simulateActivity({ seed: 5, count: 20_000, malformedShare: 0.3 })) {
      const e = record.event as UserActivityV2;
      if (typeof e !== "object" || e === null || !isPlainActivityV2(e)) continue;
      const result = validateActivityRules(e, { nowMs });
      expect(activityRulesPass(e, { nowMs }), JSON.stringify(e)).toBe(result.ok);
      if (!result.ok) failed++;
    }
    expect(failed).toBeGreaterThan(1_000);
  });

  it.each([
    ["empty user_id", { user_id: "  " }, ValidationCode.emptyUserId, "user_id"],
    ["empty session_id", { session_id: "" }, ValidationCode.emptySessionId, "session_id"],
    ["event_id not a UUID", { event_id: "evt-1" }, ValidationCode.badEventId, "event_id"],
    [
      "event_id with a non-hex digit",
      { event_id: "0b9a3c8e-6f1d-4c2a-9b7e-1d2f3a4b5c6g" },
      ValidationCode.badEventId,
      "event_id",
    ],
    [
      "event_id with a dash moved",
      { event_id: "0b9a3c8e6-f1d-4c2a-9b7e-1d2f3a4b5c6d" },
      ValidationCode.badEventId,
      "event_id",
    ],
    [
      "event_id of 36 hex digits",
      { event_id: "0b9a3c8e06f1d04c2a09b7e01d2f3a4b5c6d" },
      ValidationCode.badEventId,
      "event_id",
    ],
    [
      "event_id with a non-ASCII digit",
      { event_id: "0b9a3c8e-6f1d-4c2a-9b7e-1d2f3a4b5c6\u0661" },
      ValidationCode.badEventId,
      "event_id",
    ],
    [
      "event time 6 minutes ahead",
      { event_time: NOW + 6 * 60_000 },
      ValidationCode.futureEventTime,
      "event_time",
    ],
    [
      "event time in 1999",
      { event_time: Date.UTC(1999, 11, 31) },
      ValidationCode.eventTimeTooOld,
      "event_time",
    ],
    ["negative amount", { amount: -1 }, ValidationCode.negativeAmount, "amount"],
    ["non-finite amount", { amount: Number.NaN }, ValidationCode.badAmount, "amount"],
    [
      "purchase without amount",
      { amount: null, currency: null },
      ValidationCode.purchaseWithoutAmount,
      "amount",
    ],
    [
      "amount on a view",
      { event_type: "VIEW", amount: 5, currency: "USD" },
      ValidationCode.amountOnNonPurchase,
      "amount",
    ],
    ["amount without currency", { currency: null }, ValidationCode.missingCurrency, "currency"],
    ["lowercase currency", { currency: "eur" }, ValidationCode.badCurrency, "currency"],
    ["4-letter currency", { currency: "EURO" }, ValidationCode.badCurrency, "currency"],
    ["3-letter country", { country: "DEU" }, ValidationCode.badCountry, "country"],
  ])("rejects %s", (_name, overrides, code, field) => {
    const result = validateActivity(activity(overrides), { nowMs: NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code, field });
    expect(result.errors[0]!.message.startsWith(`${field}:`)).toBe(true);
  });

  it("allows event time within the skew, and honours a custom skew and a disabled lower bound", () => {
    expect(codesOf(activity({ event_time: NOW + 5 * 60_000 }))).toEqual([]);
    expect(codesOf(activity({ event_time: NOW + 2_000 }), { maxFutureSkewMs: 1_000 })).toEqual([
      ValidationCode.futureEventTime,
    ]);
    expect(codesOf(activity({ event_time: 0 }), { minEventTimeMs: null })).toEqual([]);
  });

  it("reports every broken rule, not only the first", () => {
    expect(codesOf(activity({ user_id: "", amount: -3, currency: "x" }))).toEqual([
      ValidationCode.emptyUserId,
      ValidationCode.negativeAmount,
      ValidationCode.badCurrency,
    ]);
  });

  it.each([
    ["a missing required field", (r: Record<string, unknown>) => delete r["user_id"], "user_id", "missing"],
    ["a wrong type", (r: Record<string, unknown>) => (r["page"] = 17), "page", "a number"],
    [
      "an unknown enum symbol",
      (r: Record<string, unknown>) => (r["event_type"] = "HOVER"),
      "event_type",
      '"HOVER"',
    ],
    [
      "a fractional event time",
      (r: Record<string, unknown>) => (r["event_time"] = 1.5),
      "event_time",
      "non-integer",
    ],
    [
      "a non-ISO time string",
      (r: Record<string, unknown>) => (r["event_time"] = "yesterday"),
      "event_time",
      "string",
    ],
    ["a string amount", (r: Record<string, unknown>) => (r["amount"] = "12.50"), "amount", "a string"],
  ])("reports %s as a schema mismatch with its path", (_name, mutate, field, got) => {
    const raw = activity();
    mutate(raw);
    const result = validateActivity(raw, { nowMs: NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      { code: ValidationCode.schemaMismatch, field, message: expect.stringContaining(got) },
    ]);
  });

  it("reports a non-object as a mismatch of the record itself", () => {
    for (const raw of [null, undefined, 42, "text", [1, 2]]) {
      const result = validateActivity(raw, { nowMs: NOW });
      expect(result.ok ? [] : result.errors.map((e) => [e.code, e.field])).toEqual([
        [ValidationCode.schemaMismatch, "$"],
      ]);
    }
  });

  it("takes only declared enum symbols: no names of Object.prototype, no object that cannot become a key", () => {
    // Found by the fuzz suite: avsc looked symbols up in a plain object, so "constructor" passed, and
    // {"toString": null} threw a TypeError out of validateActivity (a 503 from the collector).
    const unconvertible = JSON.parse('{"toString": null}') as unknown;
    for (const field of ["event_type", "device"]) {
      for (const value of ["constructor", "toString", "__proto__", "hasOwnProperty", unconvertible]) {
        const result = validateActivity(activity({ [field]: value }), { nowMs: NOW });
        expect(result.ok ? [] : result.errors.map((e) => [e.code, e.field])).toEqual([
          [ValidationCode.schemaMismatch, field],
        ]);
      }
    }
  });

  it("never puts the payload in a message", () => {
    const secret = "s3cr3t-token-value";
    const result = validateActivity(activity({ page: { secret }, user_id: "", referrer: secret }), {
      nowMs: NOW,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(JSON.stringify(result.errors)).not.toContain(secret);
  });
});

describe("parseIsoTimeMs", () => {
  it("reads the ISO-8601 forms and assumes UTC without a zone", () => {
    expect(parseIsoTimeMs("2023-07-29T07:51:39Z")).toBe(Date.UTC(2023, 6, 29, 7, 51, 39));
    expect(parseIsoTimeMs("2023-07-29T07:51:39")).toBe(Date.UTC(2023, 6, 29, 7, 51, 39));
    expect(parseIsoTimeMs("2023-07-29T09:51:39+0200")).toBe(Date.UTC(2023, 6, 29, 7, 51, 39));
    expect(parseIsoTimeMs("2023-07-29T09:51:39.5+02:00")).toBe(Date.UTC(2023, 6, 29, 7, 51, 39, 500));
    expect(parseIsoTimeMs("2023-07-29")).toBe(Date.UTC(2023, 6, 29));
    expect(parseIsoTimeMs("2019-10-01 00:00:00 UTC")).toBeUndefined();
    expect(parseIsoTimeMs("July 29")).toBeUndefined();
    expect(parseIsoTimeMs("2023-13-45T00:00:00Z")).toBeUndefined();
    // Found by the fuzz suite: Date.parse rolled these over to March 2 and 1, not rejected them.
    expect(parseIsoTimeMs("2023-02-30T00:00:00Z")).toBeUndefined();
    expect(parseIsoTimeMs("2023-02-29")).toBeUndefined();
    expect(parseIsoTimeMs("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
  });
});

function recentChange(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_uri: "/mediawiki/recentchange/1.0.0",
    meta: {
      id: "0416300b-980c-45bb-b0a2-c9d7a9e2b7eb",
      dt: "2023-07-29T07:51:39Z",
      domain: "en.wikipedia.org",
      stream: "mediawiki.recentchange",
      partition: 0,
      offset: 4820784717,
    },
    id: 1659529639,
    type: "edit",
    namespace: 0,
    title: "EFL Championship",
    timestamp: 1690617099,
    user: "87.12.215.232",
    bot: false,
    minor: false,
    length: { old: 91108, new: 91166 },
    revision: { old: 1166824248, new: 1167689309 },
    server_url: "https://en.wikipedia.org",
    server_name: "en.wikipedia.org",
    wiki: "enwiki",
    ...overrides,
  };
}

describe("validateRecentChange", () => {
  const nowMs = Date.UTC(2023, 6, 29, 8);

  it("accepts a mapped EventStreams event, normalising meta.dt and missing nullable fields", () => {
    const result = validateRecentChange(recentChange(), { nowMs });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.meta.dt).toBe(Date.UTC(2023, 6, 29, 7, 51, 39));
    expect(result.value.meta.uri).toBeNull();
    expect(result.value.comment).toBeNull();
    expect(result.value.log_type).toBeNull();
    expect(result.value.length).toEqual({ old: 91108, new: 91166 });
  });

  it("fills the boolean default of bot", () => {
    const raw = recentChange();
    delete raw["bot"];
    const result = validateRecentChange(raw, { nowMs });
    expect(result.ok && result.value.bot).toBe(false);
  });

  it.each([
    ["empty wiki", { wiki: "" }, ValidationCode.emptyWiki, "wiki"],
    ["empty server_name", { server_name: " " }, ValidationCode.emptyServerName, "server_name"],
    ["empty type", { type: "" }, ValidationCode.emptyChangeType, "type"],
  ])("rejects %s", (_name, overrides, code, field) => {
    const result = validateRecentChange(recentChange(overrides), { nowMs });
    expect(result.ok ? [] : result.errors.map((e) => [e.code, e.field])).toEqual([[code, field]]);
  });

  it("checks meta: empty id, future dt, nested shape errors with their path", () => {
    const meta = recentChange()["meta"] as Record<string, unknown>;
    const emptyId = validateRecentChange(recentChange({ meta: { ...meta, id: "" } }), { nowMs });
    expect(emptyId.ok ? [] : emptyId.errors.map((e) => e.field)).toEqual(["meta.id"]);
    const future = validateRecentChange(recentChange(), { nowMs: nowMs - 3_600_000 });
    expect(future.ok ? [] : future.errors.map((e) => [e.code, e.field])).toEqual([
      [ValidationCode.futureEventTime, "meta.dt"],
    ]);
    const badLength = validateRecentChange(recentChange({ length: { old: "big", new: 1 } }), { nowMs });
    expect(badLength.ok ? [] : badLength.errors.map((e) => [e.code, e.field])).toEqual([
      [ValidationCode.schemaMismatch, "length.old"],
    ]);
    const noWiki = recentChange();
    delete noWiki["wiki"];
    const missing = validateRecentChange(noWiki, { nowMs });
    expect(missing.ok ? [] : missing.errors.map((e) => e.field)).toEqual(["wiki"]);
  });
});
