// A hand-written Avro writer for UserActivity v2 that writes exactly avsc's bytes, for the producer's hot path.
import { DEVICE_INDEX, EVENT_TYPE_INDEX, isPlainActivityV2 } from "../contracts/activity-shape.ts";
import type { UserActivityV2 } from "../contracts/types.ts";
import { writeAscii } from "../bytes.ts";

/*
 * avsc writes a record through a generic tap: each string's UTF-8 length first (Buffer.byteLength, a
 * native call), then its bytes. Pulse's producer encodes mostly ASCII events of this one schema, and
 * avsc's writer was about a sixth of `pulse produce`. This writer handles the common case only, a plain
 * event (isPlainActivityV2) whose strings are all ASCII, and says FALLBACK for anything
 * else, which the caller then encodes with avsc: so its output is avsc's by construction for whatever it
 * hands back, and a differential test holds its bytes to avsc's.
 */

/** Returned when the value is not one this writer handles: encode it with avsc instead. */
export const FALLBACK = -1;

/** Bytes a value takes besides its strings' characters: 3 + 4 length prefixes, 2 enums, a long, 5 union branches, a double. */
const FIXED_BYTES = 7 * 5 + 2 * 5 + 10 + 5 + 8;
const doubleBytes = new Uint8Array(8);
const doubleView = new DataView(doubleBytes.buffer);

/**
 * Writes `e` as UserActivity v2 from `pos`; returns where it ends. Returns FALLBACK when `e` is not a
 * value this writer handles (not plain, see isPlainActivityV2, or a string not all ASCII), and minus the
 * bytes it needs from `pos` when `buf` is too small.
 */
export function writeActivityV2(e: UserActivityV2, buf: Uint8Array, pos: number): number {
  if (!isPlainActivityV2(e)) return FALLBACK;
  const { event_id: eventId, user_id: userId, session_id: sessionId, page } = e;
  const { referrer, country, currency, app_version: appVersion, amount } = e;
  const needed =
    FIXED_BYTES +
    eventId.length +
    userId.length +
    sessionId.length +
    page.length +
    (referrer?.length ?? 0) +
    (country?.length ?? 0) +
    (currency?.length ?? 0) +
    (appVersion?.length ?? 0);
  if (buf.length - pos < needed) return -needed;

  let at = writeString(buf, pos, eventId);
  if (at >= 0) at = writeString(buf, at, userId);
  if (at >= 0) at = writeString(buf, at, sessionId);
  if (at < 0) return FALLBACK;
  buf[at++] = EVENT_TYPE_INDEX.get(e.event_type)! << 1;
  at = writeLong(buf, at, e.event_time);
  at = writeString(buf, at, page);
  if (at >= 0) at = writeNullableAscii(buf, at, referrer);
  if (at < 0) return FALLBACK;
  buf[at++] = DEVICE_INDEX.get(e.device)! << 1;
  at = writeNullableAscii(buf, at, country);
  if (at < 0) return FALLBACK;
  if (amount === null) {
    buf[at++] = 0;
  } else {
    buf[at++] = 2;
    doubleView.setFloat64(0, amount, true);
    buf.set(doubleBytes, at);
    at += 8;
  }
  at = writeNullableAscii(buf, at, currency);
  if (at >= 0) at = writeNullableAscii(buf, at, appVersion);
  return at < 0 ? FALLBACK : at;
}

/** A union of null (branch 0) and string (branch 1, zigzag 2). */
function writeNullableAscii(buf: Uint8Array, at: number, value: string | null): number {
  if (value === null) {
    buf[at] = 0;
    return at + 1;
  }
  buf[at] = 2;
  return writeString(buf, at + 1, value);
}

/** An Avro string (length, then its bytes) when every character is ASCII; −1 when one is not. */
function writeString(buf: Uint8Array, at: number, value: string): number {
  return writeAscii(buf, writeLong(buf, at, value.length), value);
}

/** An Avro long: zigzag, then 7 bits a byte, low bits first. Exact within ±2^52. */
export function writeLong(buf: Uint8Array, at: number, n: number): number {
  if (n >= -0x40000000 && n < 0x40000000) {
    let z = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (z > 0x7f) {
      buf[at++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[at++] = z;
    return at;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z > 0x7f) {
    buf[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[at++] = z;
  return at;
}
