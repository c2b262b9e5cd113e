// Whether a value is a plain UserActivity v2 event: every field of its contract type, checked by hand for the producer's hot path.
import { DEVICES, EVENT_TYPES, type UserActivityV2 } from "./types.ts";

/** Each symbol's index, as Avro writes an enum: EVENT_TYPES and DEVICES are in schema order (tested). */
export const EVENT_TYPE_INDEX: ReadonlyMap<string, number> = new Map(
  EVENT_TYPES.map((symbol, i) => [symbol, i]),
);
export const DEVICE_INDEX: ReadonlyMap<string, number> = new Map(DEVICES.map((symbol, i) => [symbol, i]));
/** event_time bound for "plain": within it, a JS number is an exact Avro long on every path. */
const PLAIN_TIME_BOUND = 2 ** 52;

/**
 * True when every field of `e` has its UserActivity v2 type: ids, page and type strings, the nullable
 * strings null or a string, both enums one of their symbols, event_time a whole number within ±2^52,
 * amount null or finite. Such a value passes avsc's shape check for certain; false means only "ask
 * avsc", which also explains what is wrong. A test holds it to avsc's check.
 */
export function isPlainActivityV2(e: UserActivityV2): boolean {
  const t = e.event_time;
  const amount = e.amount;
  return (
    typeof e.event_id === "string" &&
    typeof e.user_id === "string" &&
    typeof e.session_id === "string" &&
    typeof e.page === "string" &&
    nullableString(e.referrer) &&
    nullableString(e.country) &&
    nullableString(e.currency) &&
    nullableString(e.app_version) &&
    EVENT_TYPE_INDEX.has(e.event_type) &&
    DEVICE_INDEX.has(e.device) &&
    Number.isInteger(t) &&
    t > -PLAIN_TIME_BOUND &&
    t < PLAIN_TIME_BOUND &&
    (amount === null || Number.isFinite(amount))
  );
}

function nullableString(value: unknown): boolean {
  return value === null || typeof value === "string";
}
