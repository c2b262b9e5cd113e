// Deterministic user-activity simulator: sessions, funnels, skewed users, and injected stream defects.

import type { Device, EventType, UserActivityV2 } from "../contracts/types.ts";
import { SourceError, SourceErrorCode } from "../errors.ts";
import { formatUuid } from "../bytes.ts";

export interface SimulatorBurst {
  /** Event time (ms since the epoch) at which the burst starts. */
  atMs: number;
  durationMs: number;
  /** Rate multiplier during the burst, e.g. 5. */
  multiplier: number;
}

export interface SimulatorOptions {
  /** Same seed, same options → the same sequence, record for record. */
  seed: number;
  /** Size of the returning-user population (default 10,000). */
  users?: number;
  /** Event time of the first event (default 2024-01-01T00:00:00Z). */
  startTimeMs?: number;
  /** Mean events per second of event time, averaged over a day (default 100). */
  ratePerSec?: number;
  /** Depth of the day/night swing, 0..0.95 (default 0.6: the 04:00 UTC trough is 1/4 of the 16:00 peak). */
  dayNightAmplitude?: number;
  /** Share of all records whose event_time lags by up to maxLatenessSec (default 0.05). */
  outOfOrderShare?: number;
  /** Default 30. */
  maxLatenessSec?: number;
  /** Share of all records that re-emit an earlier event unchanged (default 0.01). */
  duplicateShare?: number;
  /** Share of all records that break the contract (default 0.005). */
  malformedShare?: number;
  burst?: SimulatorBurst;
  /** Sessions in flight at once; their events interleave (default 200). */
  concurrentSessions?: number;
  /** Share of new sessions that are a new user signing up (default 0.02). */
  newUserShare?: number;
  /** Stop after this many records (default: never). */
  count?: number;
}

export const MALFORMED_DEFECTS = [
  "empty_user_id",
  "negative_amount",
  "purchase_without_amount",
  "future_event_time",
  "unknown_event_type",
  "missing_field",
  "wrong_type",
  "junk",
] as const;
export type MalformedDefect = (typeof MALFORMED_DEFECTS)[number];

export type SimulatedEvent =
  | { kind: "valid" | "out_of_order" | "duplicate"; event: UserActivityV2 }
  | { kind: "malformed"; event: unknown; defect: MalformedDefect };

/**
 * mulberry32: a 32-bit state PRNG, fast and good enough for simulation (not for cryptography).
 * Invariant: every random choice in this module goes through one instance, in a fixed order, so the
 * output depends only on the seed and the options.
 */
class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/** The 16 bytes uuid() formats. */
const UUID_BYTES = new Uint8Array(16);

/** A UUID in version-4 layout from 128 PRNG bits. */
function uuid(rng: Prng): string {
  const a = rng.u32();
  const b = rng.u32();
  const c = rng.u32();
  const d = rng.u32();
  const out = UUID_BYTES;
  out[0] = a >>> 24;
  out[1] = a >>> 16;
  out[2] = a >>> 8;
  out[3] = a;
  out[4] = b >>> 24;
  out[5] = b >>> 16;
  out[6] = ((b >>> 8) & 0x0f) | 0x40;
  out[7] = b;
  out[8] = ((c >>> 24) & 0x3f) | 0x80;
  out[9] = c >>> 16;
  out[10] = c >>> 8;
  out[11] = c;
  out[12] = d >>> 24;
  out[13] = d >>> 16;
  out[14] = d >>> 8;
  out[15] = d;
  return formatUuid(out);
}

/** Cumulative weights for a categorical draw. */
function cdf(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (const w of weights) sum += w;
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]! / sum;
    out[i] = acc;
  }
  out[weights.length - 1] = 1;
  return out;
}

/** Index of the first cumulative weight above u (binary search; tables reach 10^5 entries). */
function pick(table: Float64Array, u: number): number {
  let lo = 0;
  let hi = table.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (table[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Zipf weights 1/rank^s: a few ranks take most of the mass, as real user and product activity does. */
function zipf(n: number, s: number): Float64Array {
  const weights: number[] = new Array(n);
  for (let i = 0; i < n; i++) weights[i] = 1 / (i + 1) ** s;
  return cdf(weights);
}

const DEVICES: readonly Device[] = ["MOBILE", "DESKTOP", "TABLET"];
const DEVICE_CDF = cdf([0.56, 0.36, 0.08]);

const COUNTRIES: readonly (string | null)[] = [
  "US",
  "GB",
  "DE",
  "FR",
  "IN",
  "BR",
  "CA",
  "JP",
  "ES",
  "NL",
  "IT",
  "AU",
  "PL",
  "MX",
  null,
];
const COUNTRY_CDF = cdf([30, 9, 9, 7, 8, 6, 5, 5, 4, 3, 4, 3, 2, 2, 3]);
const EURO = new Set(["DE", "FR", "ES", "NL", "IT"]);

/** Prices are kept in one scale; EUR and GBP amounts are converted at a fixed rate. */
function currencyOf(country: string | null): { currency: string; rate: number } {
  if (country === "GB") return { currency: "GBP", rate: 0.79 };
  if (country !== null && EURO.has(country)) return { currency: "EUR", rate: 0.92 };
  return { currency: "USD", rate: 1 };
}

const REFERRERS: readonly (string | null)[] = [
  null,
  "https://www.google.com/",
  "https://www.bing.com/",
  "https://www.facebook.com/",
  "https://t.co/",
  "https://www.instagram.com/",
  "https://newsletter.example.com/",
];
const REFERRER_CDF = cdf([40, 35, 5, 8, 4, 5, 3]);

const SEARCH_TERMS = [
  "shoes",
  "phone",
  "laptop",
  "headphones",
  "jacket",
  "coffee",
  "watch",
  "backpack",
  "lamp",
  "tent",
  "camera",
  "sofa",
  "blender",
  "monitor",
  "keyboard",
  "dress",
  "jeans",
  "sunglasses",
  "perfume",
  "toys",
];
const CLICK_PAGES = [
  "/",
  "/deals",
  "/new",
  "/category/electronics",
  "/category/fashion",
  "/category/home",
  "/category/sports",
  "/category/beauty",
  "/help",
  "/account",
];

const PRODUCTS = 5000;
const CART_CAPACITY = 8;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const DUPLICATE_RING = 512;

const S_EMPTY = 0;
const S_ACTIVE = 1;

interface Tables {
  userIds: string[];
  userCdf: Float64Array;
  userDevice: Uint8Array;
  userCountry: Int8Array;
  productCdf: Float64Array;
  productPrice: Float64Array;
  productPage: string[];
  addPage: string[];
  removePage: string[];
  searchPages: string[];
}

/** Everything per user and per product is drawn once up front, so the hot loop only indexes arrays. */
function buildTables(rng: Prng, users: number): Tables {
  const userIds = new Array<string>(users);
  const userDevice = new Uint8Array(users);
  const userCountry = new Int8Array(users);
  for (let i = 0; i < users; i++) {
    userIds[i] = `user-${i + 1}`;
    userDevice[i] = pick(DEVICE_CDF, rng.float());
    userCountry[i] = pick(COUNTRY_CDF, rng.float());
  }
  const productPrice = new Float64Array(PRODUCTS);
  const productPage = new Array<string>(PRODUCTS);
  const addPage = new Array<string>(PRODUCTS);
  const removePage = new Array<string>(PRODUCTS);
  for (let i = 0; i < PRODUCTS; i++) {
    // Log-uniform prices from 2 to 1,500, in cents: many cheap items, a long tail of expensive ones.
    productPrice[i] = Math.round(2 * 750 ** rng.float() * 100) / 100;
    const id = 1000 + i * 7;
    productPage[i] = `/product/${id}`;
    addPage[i] = `/cart?add=${id}`;
    removePage[i] = `/cart?remove=${id}`;
  }
  return {
    userIds,
    userCdf: zipf(users, 1.0),
    userDevice,
    userCountry,
    productCdf: zipf(PRODUCTS, 0.9),
    productPrice,
    productPage,
    addPage,
    removePage,
    searchPages: SEARCH_TERMS.map((term) => `/search?q=${term}`),
  };
}

function badOption(message: string): never {
  throw new SourceError(SourceErrorCode.badOption, message);
}

function shareOption(value: number | undefined, fallback: number, name: string): number {
  const share = value ?? fallback;
  if (!(share >= 0 && share <= 1)) badOption(`simulator option ${name} must be within 0..1, got ${share}`);
  return share;
}

/**
 * A start time for `count` events at `ratePerSec` whose event times all lie before `nowMs`: the output
 * spans at most DAY_NIGHT_SPAN_FACTOR times count/rate of event time (the day/night trough), so this is
 * that far back. Events in the future would be dead-lettered by the contract's clock-skew rule.
 */
export function startBefore(nowMs: number, count: number, ratePerSec: number): number {
  return nowMs - (DAY_NIGHT_SPAN_FACTOR * count * 1000) / ratePerSec;
}

/** Event-time span of the simulator's output is at most this many times count/rate (the day/night trough). */
const DAY_NIGHT_SPAN_FACTOR = 3;

/**
 * Yields `count` records (or forever). Event time advances as a Poisson process whose rate follows a
 * sinusoid over the UTC hour of day (peak 16:00, trough 04:00) and the optional burst. Each record is
 * one step of a session chosen at random from those in flight.
 *
 * Kinds, as shares of all records: malformed, duplicate (an exact copy of one of the last 512 emitted
 * events), out_of_order (event_time set back 1 ms .. maxLatenessSec), and the rest valid. Within a
 * session, emission order follows the funnel: VIEW → ADD_TO_CART → PURCHASE, so a PURCHASE always comes
 * after an ADD_TO_CART of the same session; out-of-order event times may reorder them in event time.
 * Records are not copied on emit (a duplicate is a copy of the remembered original): treat them as read-only.
 */
export function* simulateActivity(options: SimulatorOptions): Generator<SimulatedEvent> {
  const rng = new Prng(options.seed);
  const users = Math.max(1, Math.floor(options.users ?? 10_000));
  const ratePerSec = options.ratePerSec ?? 100;
  if (!(ratePerSec > 0)) badOption("simulator option ratePerSec must be > 0");
  const amplitude = Math.min(0.95, Math.max(0, options.dayNightAmplitude ?? 0.6));
  const malformed = shareOption(options.malformedShare, 0.005, "malformedShare");
  const duplicate = shareOption(options.duplicateShare, 0.01, "duplicateShare");
  const outOfOrder = shareOption(options.outOfOrderShare, 0.05, "outOfOrderShare");
  if (malformed + duplicate + outOfOrder > 1)
    badOption(
      "simulator shares (malformed + duplicate + out-of-order) add up to more than 1; lower them to sum to at most 1",
    );
  const maxLatenessMs = Math.max(1, Math.round((options.maxLatenessSec ?? 30) * 1000));
  const newUserShare = shareOption(options.newUserShare, 0.02, "newUserShare");
  const slots = Math.max(1, Math.floor(options.concurrentSessions ?? 200));
  const count = options.count ?? Number.POSITIVE_INFINITY;
  const burst = options.burst;
  const t = buildTables(rng, users);

  const slotState = new Uint8Array(slots);
  const slotUserId = new Array<string>(slots).fill("");
  const slotDevice = new Uint8Array(slots);
  const slotCountry = new Int8Array(slots);
  const slotSession = new Array<string>(slots).fill("");
  const slotLoggedIn = new Uint8Array(slots);
  const slotLastProduct = new Int32Array(slots).fill(-1);
  const slotLastPage = new Array<string | null>(slots).fill(null);
  const slotCartSize = new Uint8Array(slots);
  const slotCart = new Int32Array(slots * CART_CAPACITY);
  const ring: UserActivityV2[] = [];
  let ringNext = 0;
  let newUsers = 0;
  let clockMs = options.startTimeMs ?? Date.UTC(2024, 0, 1);

  const advanceClock = (): void => {
    const hour = (((clockMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
    let rate = ratePerSec * (1 + amplitude * Math.sin((2 * Math.PI * (hour - 10)) / 24));
    if (burst !== undefined && clockMs >= burst.atMs && clockMs < burst.atMs + burst.durationMs) {
      rate *= burst.multiplier;
    }
    clockMs += (-Math.log(1 - rng.float()) * 1000) / rate;
  };

  const makeEvent = (slot: number, type: EventType, page: string, amount: number | null): UserActivityV2 => {
    const country = slotCountry[slot]!;
    const event: UserActivityV2 = {
      event_id: uuid(rng),
      user_id: slotUserId[slot]!,
      session_id: slotSession[slot]!,
      event_type: type,
      event_time: Math.floor(clockMs),
      page,
      referrer: slotLastPage[slot]!,
      device: DEVICES[slotDevice[slot]!]!,
      country: COUNTRIES[country]!,
      amount,
      currency: amount === null ? null : currencyOf(COUNTRIES[country]!).currency,
      // Every field of the v2 contract set, as Pulse's producers write it: the producer's validation
      // then passes the event as it is instead of copying it to add the default.
      app_version: null,
    };
    slotLastPage[slot] = page;
    return event;
  };

  const startSession = (slot: number): UserActivityV2 => {
    slotState[slot] = S_ACTIVE;
    slotSession[slot] = uuid(rng);
    slotCartSize[slot] = 0;
    slotLastProduct[slot] = -1;
    slotLastPage[slot] = REFERRERS[pick(REFERRER_CDF, rng.float())]!;
    if (rng.float() < newUserShare) {
      newUsers++;
      slotUserId[slot] = `user-${users + newUsers}`;
      slotDevice[slot] = pick(DEVICE_CDF, rng.float());
      slotCountry[slot] = pick(COUNTRY_CDF, rng.float());
      slotLoggedIn[slot] = 1;
      return makeEvent(slot, "SIGNUP", "/signup", null);
    }
    const user = pick(t.userCdf, rng.float());
    slotUserId[slot] = t.userIds[user]!;
    slotDevice[slot] = t.userDevice[user]!;
    slotCountry[slot] = t.userCountry[user]!;
    if (rng.float() < 0.3) {
      slotLoggedIn[slot] = 1;
      return makeEvent(slot, "LOGIN", "/login", null);
    }
    slotLoggedIn[slot] = 0;
    const product = pick(t.productCdf, rng.float());
    slotLastProduct[slot] = product;
    return makeEvent(slot, "VIEW", t.productPage[product]!, null);
  };

  const browse = (slot: number): UserActivityV2 => {
    const kind = rng.float();
    if (kind < 0.6) {
      const product = pick(t.productCdf, rng.float());
      slotLastProduct[slot] = product;
      return makeEvent(slot, "VIEW", t.productPage[product]!, null);
    }
    if (kind < 0.8) return makeEvent(slot, "SEARCH", t.searchPages[rng.int(t.searchPages.length)]!, null);
    return makeEvent(slot, "CLICK", CLICK_PAGES[rng.int(CLICK_PAGES.length)]!, null);
  };

  /**
   * One session step. Fixed per-step odds (end 10%, purchase 6% and remove 4% with a non-empty cart, add 7%
   * right after a view) give a funnel of about 10% view→cart and a third of carts bought.
   */
  const step = (slot: number): UserActivityV2 => {
    if (slotState[slot] === S_EMPTY) return startSession(slot);
    const cartSize = slotCartSize[slot]!;
    const lastProduct = slotLastProduct[slot]!;
    slotLastProduct[slot] = -1;
    const r = rng.float();
    if (r < 0.1) {
      slotState[slot] = S_EMPTY;
      if (slotLoggedIn[slot] === 1 && rng.float() < 0.6) return makeEvent(slot, "LOGOUT", "/logout", null);
      return startSession(slot);
    }
    if (r < 0.16) {
      if (cartSize === 0) return browse(slot);
      const base = slot * CART_CAPACITY;
      let total = 0;
      for (let i = 0; i < cartSize; i++) total += t.productPrice[slotCart[base + i]!]!;
      slotCartSize[slot] = 0;
      const rate = currencyOf(COUNTRIES[slotCountry[slot]!]!).rate;
      return makeEvent(slot, "PURCHASE", "/checkout", Math.round(total * rate * 100) / 100);
    }
    if (r < 0.2) {
      if (cartSize === 0) return browse(slot);
      const base = slot * CART_CAPACITY;
      const removed = slotCart[base + cartSize - 1]!;
      slotCartSize[slot] = cartSize - 1;
      return makeEvent(slot, "REMOVE_FROM_CART", t.removePage[removed]!, null);
    }
    if (r < 0.27 && lastProduct >= 0 && cartSize < CART_CAPACITY) {
      slotCart[slot * CART_CAPACITY + cartSize] = lastProduct;
      slotCartSize[slot] = cartSize + 1;
      return makeEvent(slot, "ADD_TO_CART", t.addPage[lastProduct]!, null);
    }
    return browse(slot);
  };

  const remember = (event: UserActivityV2): void => {
    if (ring.length < DUPLICATE_RING) ring.push(event);
    else ring[ringNext] = event;
    ringNext = (ringNext + 1) % DUPLICATE_RING;
  };

  const malformedRecord = (defect: MalformedDefect): unknown => {
    const slot = rng.int(slots);
    if (slotState[slot] === S_EMPTY) startSession(slot);
    const product = pick(t.productCdf, rng.float());
    const base: Record<string, unknown> = { ...makeEvent(slot, "VIEW", t.productPage[product]!, null) };
    const price = t.productPrice[product]!;
    switch (defect) {
      case "empty_user_id":
        base.user_id = "";
        return base;
      case "negative_amount":
        return { ...base, event_type: "PURCHASE", page: "/checkout", amount: -price, currency: "USD" };
      case "purchase_without_amount":
        return { ...base, event_type: "PURCHASE", page: "/checkout", amount: null, currency: null };
      case "future_event_time":
        // Centuries ahead, not days: a run whose event time starts in the past (--start) must still
        // produce events that are in the future of the wall clock when they are validated.
        base.event_time = Math.floor(clockMs) + (200 * 365 + rng.int(335)) * DAY_MS;
        return base;
      case "unknown_event_type":
        base.event_type = ["TELEPORT", "view", "ADD-TO-CART", ""][rng.int(4)];
        return base;
      case "missing_field": {
        const field = ["event_id", "user_id", "session_id", "event_type", "event_time", "page", "device"][
          rng.int(7)
        ]!;
        delete base[field];
        return base;
      }
      case "wrong_type":
        // Not an ISO string: the contract accepts those for event_time, so they would not be malformed.
        if (rng.float() < 0.5) Object.assign(base, { event_time: { epochMs: Math.floor(clockMs) } });
        else
          Object.assign(base, {
            event_type: "PURCHASE",
            page: "/checkout",
            amount: price.toFixed(2),
            currency: "USD",
          });
        return base;
      case "junk":
        return ["garbage", 42, null, [1, 2, 3], true, "{not json"][rng.int(6)];
    }
  };

  for (let emitted = 0; emitted < count; emitted++) {
    const r = rng.float();
    if (r < malformed) {
      const defect = MALFORMED_DEFECTS[rng.int(MALFORMED_DEFECTS.length)]!;
      yield { kind: "malformed", event: malformedRecord(defect), defect };
      continue;
    }
    if (r < malformed + duplicate && ring.length > 0) {
      yield { kind: "duplicate", event: { ...ring[rng.int(ring.length)]! } };
      continue;
    }
    advanceClock();
    const event = step(rng.int(slots));
    if (r >= malformed + duplicate && r < malformed + duplicate + outOfOrder) {
      event.event_time = Math.floor(clockMs) - 1 - rng.int(maxLatenessMs);
      remember(event);
      yield { kind: "out_of_order", event };
      continue;
    }
    remember(event);
    yield { kind: "valid", event };
  }
}
