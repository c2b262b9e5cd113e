// ActivityFrame.rulesPass held to the activity rules' one source of truth, validateActivityRules on the decoded event.

import { describe, expect, it } from "vitest";
import { ActivityFrame } from "./activity-frame.ts";
import { prng } from "../../test/helpers/stream.ts";
import { userActivityV2Type } from "../contracts/schemas.ts";
import { DEVICES, EVENT_TYPES, type EventType, type UserActivityV2 } from "../contracts/types.ts";
import {
  DEFAULT_MIN_EVENT_TIME_MS,
  type ValidateOptions,
  ValidationCode,
  type ValidationCodeValue,
  validateActivityRules,
} from "../contracts/validate.ts";

const NOW = Date.UTC(2026, 10, 29, 12);
const HOUR_MS = 3_600_000;
/** The job's options (the earliest event time left at its default), and the bounds moved or switched off. */
const OPTION_SETS: ValidateOptions[] = [
  { nowMs: NOW, maxFutureSkewMs: 60_000 },
  { nowMs: NOW, maxFutureSkewMs: 0, minEventTimeMs: null },
  { nowMs: NOW - HOUR_MS, maxFutureSkewMs: 5 * 60_000, minEventTimeMs: NOW - 2 * HOUR_MS },
];
/** Every code the activity rules report. */
const ACTIVITY_RULE_CODES: readonly ValidationCodeValue[] = [
  ValidationCode.emptyUserId,
  ValidationCode.emptySessionId,
  ValidationCode.badEventId,
  ValidationCode.futureEventTime,
  ValidationCode.eventTimeTooOld,
  ValidationCode.badAmount,
  ValidationCode.negativeAmount,
  ValidationCode.purchaseWithoutAmount,
  ValidationCode.amountOnNonPurchase,
  ValidationCode.missingCurrency,
  ValidationCode.badCurrency,
  ValidationCode.badCountry,
];
/** An event time every option set accepts. */
const ON_TIME = NOW - 90 * 60_000;

/** One generated event, the codes validation must report for it, and which part of the generator made it. */
interface Case {
  event: UserActivityV2;
  codes: ValidationCodeValue[];
  what: string;
}

/** One field's value at a rule's edge, and the code it breaks (none when it is just inside the rule). */
interface Edge<T> {
  value: T;
  code?: ValidationCodeValue;
}

const ok = <T>(...values: T[]): Array<Edge<T>> => values.map((value) => ({ value }));
const broken = <T>(code: ValidationCodeValue, ...values: T[]): Array<Edge<T>> =>
  values.map((value) => ({ value, code }));

/**
 * user_id and session_id must not be blank (String.prototype.trim). ASCII whitespace is tab, LF, VT, FF, CR
 * and space; the controls around them are not whitespace. Strings with no ASCII character other than
 * whitespace are the ones bytes cannot judge: non-ASCII whitespace would make them blank.
 */
function idEdges(code: ValidationCodeValue): Array<Edge<string>> {
  return [
    ...ok("u", "user-1", " u ", "\t\nu\r", "\x00", "\x08", "\x0e", "\x1f", "\x7f", "!", "~", "x".repeat(300)),
    ...ok("\u00a0u", "ü-1", "é", "日本", "\u{1f600}", "\u0085"),
    ...broken(code, "", " ", "\t", "\n\v\f\r ", "\u00a0", "\u3000\u2028\ufeff", " \u00a0 ", "\u2029\t"),
  ];
}

const UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";
/** The UUID with character i replaced by c. */
const withChar = (i: number, c: string): string => UUID.slice(0, i) + c + UUID.slice(i + 1);

/** event_id must be a UUID, 8-4-4-4-12 hex digits in either case; only the canonical lowercase form is packed. */
const EVENT_ID_EDGES: Array<Edge<string>> = [
  ...ok(UUID, UUID.toUpperCase(), "0F8fad5B-d9CB-469f-A165-70867728950e", withChar(14, "1")),
  ...ok("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", withChar(0, "F")),
  ...broken(
    ValidationCode.badEventId,
    "",
    UUID.slice(0, 35),
    `${UUID}0`,
    `${UUID} `,
    UUID.replaceAll("-", ""),
  ),
  ...broken(
    ValidationCode.badEventId,
    withChar(8, "0"),
    withChar(7, "-"),
    withChar(23, "_"),
    withChar(13, "a"),
  ),
  ...broken(
    ValidationCode.badEventId,
    withChar(0, "g"),
    withChar(35, "G"),
    withChar(3, "/"),
    withChar(3, ":"),
  ),
  ...broken(
    ValidationCode.badEventId,
    withChar(3, "`"),
    withChar(3, "@"),
    withChar(3, "é"),
    withChar(20, " "),
  ),
];

/** event_time within [earliest, nowMs + maxFutureSkewMs]; earliest defaults to 2000-01-01, null for none. */
function eventTimeEdges(options: ValidateOptions): Array<Edge<number>> {
  const latest = options.nowMs! + options.maxFutureSkewMs!;
  const earliest = options.minEventTimeMs === undefined ? DEFAULT_MIN_EVENT_TIME_MS : options.minEventTimeMs;
  const edges = [...ok(ON_TIME, latest, latest - 1), ...broken(ValidationCode.futureEventTime, latest + 1)];
  edges.push(...broken(ValidationCode.futureEventTime, latest + HOUR_MS, 2 ** 52));
  if (earliest === null) edges.push(...ok(0, -5, -(2 ** 52)));
  else
    edges.push(...ok(earliest, earliest + 1), ...broken(ValidationCode.eventTimeTooOld, earliest - 1, 0, -5));
  return edges;
}

/** currency: null, or exactly 3 letters A–Z ('@' and '[' sit just outside them). */
const CURRENCY_EDGES: Array<Edge<string | null>> = [
  ...ok<string | null>(null, "EUR", "AAA", "ZZZ"),
  ...broken<string | null>(
    ValidationCode.badCurrency,
    "EU",
    "EURO",
    "eur",
    "EUr",
    "@UR",
    "[UR",
    "ÉUR",
    "",
    "EU ",
  ),
];

/** country: null, or exactly 2 letters A–Z. */
const COUNTRY_EDGES: Array<Edge<string | null>> = [
  ...ok<string | null>(null, "DE", "AA", "ZZ"),
  ...broken<string | null>(ValidationCode.badCountry, "D", "DEU", "de", "dE", "@E", "Z[", "É", "", "D "),
];

/** The money rules, which tie event_type, amount and currency together. */
interface Money {
  type: EventType;
  amount: number | null;
  currency: string | null;
  codes: ValidationCodeValue[];
}

function moneyEdges(): Money[] {
  const out: Money[] = [];
  const purchase = (amount: number | null, currency: string | null, ...codes: ValidationCodeValue[]) =>
    out.push({ type: "PURCHASE", amount, currency, codes });
  // A purchase carries a finite amount ≥ 0 with a currency.
  for (const amount of [0, -0, Number.MIN_VALUE, 0.01, 12.5, 1e308, Number.MAX_VALUE])
    purchase(amount, "EUR");
  for (const amount of [-Number.MIN_VALUE, -0.01, -1e308])
    purchase(amount, "EUR", ValidationCode.negativeAmount);
  for (const amount of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    purchase(amount, "EUR", ValidationCode.badAmount);
  }
  purchase(null, null, ValidationCode.purchaseWithoutAmount);
  purchase(null, "EUR", ValidationCode.purchaseWithoutAmount);
  purchase(5, null, ValidationCode.missingCurrency);
  purchase(-1, null, ValidationCode.negativeAmount, ValidationCode.missingCurrency);
  // Any other event carries no amount; a currency alone is allowed.
  for (const type of EVENT_TYPES) {
    if (type === "PURCHASE") continue;
    out.push({ type, amount: null, currency: null, codes: [] });
    out.push({ type, amount: null, currency: "USD", codes: [] });
    out.push({ type, amount: 0, currency: "USD", codes: [ValidationCode.amountOnNonPurchase] });
    out.push({
      type,
      amount: 3,
      currency: null,
      codes: [ValidationCode.amountOnNonPurchase, ValidationCode.missingCurrency],
    });
  }
  return out;
}

/** A valid event of `type`; `optional` picks which optional fields are set (one bit each). */
function valid(type: EventType, optional: number, i: number): UserActivityV2 {
  const purchase = type === "PURCHASE";
  return {
    event_id: UUID,
    user_id: `user-${i}`,
    session_id: `s-${i}`,
    event_type: type,
    event_time: ON_TIME,
    page: optional & 1 ? "/products/é" : "",
    referrer: optional & 2 ? "https://example.org/ü" : null,
    device: DEVICES[i % DEVICES.length]!,
    country: optional & 4 ? "FR" : null,
    amount: purchase ? 9.99 : null,
    currency: purchase || optional & 8 ? "GBP" : null,
    app_version: optional & 16 ? "1.2.3" : null,
  };
}

type Field = "user_id" | "session_id" | "event_id" | "event_time" | "country" | "currency";

/**
 * The events for one option set: every event type with and without each optional field; each field's
 * edges alone, on every event type they apply to; the money rules alone; and several broken together.
 */
function cases(options: ValidateOptions): Case[] {
  const out: Case[] = [];
  let i = 0;
  for (const type of EVENT_TYPES) {
    for (let optional = 0; optional < 32; optional++) {
      out.push({ event: valid(type, optional, i++), codes: [], what: `valid ${type} ${optional}` });
    }
  }
  const edges: Array<[Field, Array<Edge<string | number | null>>]> = [
    ["user_id", idEdges(ValidationCode.emptyUserId)],
    ["session_id", idEdges(ValidationCode.emptySessionId)],
    ["event_id", EVENT_ID_EDGES],
    ["event_time", eventTimeEdges(options)],
    ["country", COUNTRY_EDGES],
    ["currency", CURRENCY_EDGES],
  ];
  for (const [field, fieldEdges] of edges) {
    for (const edge of fieldEdges) {
      for (const type of EVENT_TYPES) {
        // A purchase needs its currency: the currency's own edges run on the other types.
        if (field === "currency" && (type === "PURCHASE" || edge.value === null)) continue;
        const event = { ...valid(type, i % 32, i++), [field]: edge.value } as UserActivityV2;
        out.push({ event, codes: edge.code === undefined ? [] : [edge.code], what: `${field} alone` });
      }
    }
  }
  const money = moneyEdges();
  for (const m of money) {
    const event = {
      ...valid(m.type, i % 32, i++),
      event_type: m.type,
      amount: m.amount,
      currency: m.currency,
    };
    out.push({ event, codes: m.codes, what: "money alone" });
  }
  // Several rules broken together (and some held), each field's edge picked at random.
  const random = prng(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  for (let n = 0; n < 3_000; n++) {
    const m = pick(money);
    const event: UserActivityV2 = {
      ...valid(m.type, n % 32, i++),
      amount: m.amount,
      currency: m.currency,
    };
    const codes = new Set(m.codes);
    for (const [field, fieldEdges] of edges) {
      if (field === "currency" || random() < 0.4) continue;
      const edge = pick(fieldEdges);
      Object.assign(event, { [field]: edge.value });
      if (edge.code !== undefined) codes.add(edge.code);
    }
    out.push({ event, codes: [...codes], what: "together" });
  }
  return out;
}

function frameBytes(event: UserActivityV2): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), userActivityV2Type.toBuffer(event)]);
}

/** An id with no ASCII character but whitespace, yet not blank: only a decoded string can say (é, 日本). */
function bytesCannotJudge(id: string): boolean {
  return !/[\x00-\x08\x0e-\x1f\x21-\x7f]/.test(id) && id.trim() !== "";
}

describe("ActivityFrame.rulesPass", () => {
  it("agrees with validateActivityRules on the decoded event, at every rule's edge, alone and together", () => {
    const frame = new ActivityFrame();
    const disagreements: unknown[] = [];
    const codesSeen = new Set<string>();
    const typesPassed = new Set<string>();
    let judged = 0;
    let deferred = 0;
    let deferredValid = 0;
    for (const options of OPTION_SETS) {
      for (const { event, codes, what } of cases(options)) {
        const bytes = frameBytes(event);
        expect(frame.read(bytes)).toBe(true);
        // The source of truth, on the event as the decoding path reads it from the same bytes.
        const decoded = userActivityV2Type.fromBuffer(bytes.subarray(5)) as UserActivityV2;
        const truth = validateActivityRules(decoded, options);
        const found = truth.ok ? [] : truth.errors.map((e) => e.code);
        // The generator says which rules each event breaks: validation must find exactly those.
        if ([...found].sort().join() !== [...codes].sort().join()) {
          disagreements.push({ what, event, expected: codes, found });
        }
        if (what !== "together" && codes.length === 1) codesSeen.add(codes[0]!);
        const passes = frame.rulesPass(options);
        if (passes) typesPassed.add(event.event_type);
        if ([event.user_id, event.session_id].some(bytesCannotJudge)) {
          // The frame defers (false), and the job decodes and validates: the outcome is the truth's.
          deferred++;
          if (truth.ok) deferredValid++;
          if (passes) disagreements.push({ what, event, passes, truth: found, note: "bytes cannot judge" });
        } else {
          judged++;
          if (passes !== truth.ok) disagreements.push({ what, event, passes, truth: found });
        }
      }
    }
    expect(disagreements).toEqual([]);
    // Every activity rule was broken alone, every event type passed, and the frame deferred on both
    // valid and invalid events.
    expect([...codesSeen].sort()).toEqual([...ACTIVITY_RULE_CODES].sort());
    expect([...typesPassed].sort()).toEqual([...EVENT_TYPES].sort());
    expect(judged).toBeGreaterThan(10_000);
    expect(deferredValid).toBeGreaterThan(300);
    expect(deferred - deferredValid).toBeGreaterThan(1_000);
  });
});
