// The fields the activity aggregate reads, found in a UserActivity v2 frame without decoding it.

import { DEVICES, EVENT_TYPES } from "../contracts/types.ts";
import { eventTimeAccepted, isUuidBytes, type ValidateOptions } from "../contracts/validate.ts";
import { HEADER_BYTES } from "../serde/wire-format.ts";
import { InternKey } from "./interner.ts";

/**
 * One activity event as positions in its record's bytes (a Confluent frame whose writer schema is
 * UserActivity v2, the contract's reader schema): its strings are not made into JS strings, the
 * aggregate interns them from the bytes (InternKey.setBytes). The stream job reads every frame into one
 * reused instance, so nothing may keep it past the call it is passed to.
 *
 * The v2 layout, in field order: event_id, user_id, session_id (strings), event_type (enum), event_time
 * (long), page (string), referrer (null|string), device (enum), country (null|string), amount
 * (null|double), currency (null|string), app_version (null|string).
 */
export class ActivityFrame {
  buf: Uint8Array = new Uint8Array(0);
  eventIdStart = 0;
  eventIdEnd = 0;
  userIdStart = 0;
  userIdEnd = 0;
  sessionIdStart = 0;
  sessionIdEnd = 0;
  event_type: string = EVENT_TYPES[0];
  event_time = 0;
  amount: number | null = null;
  /** −1 for null. */
  countryStart = -1;
  countryEnd = -1;
  currencyStart = -1;
  currencyEnd = -1;
  #pos = 0;
  #scratch = new DataView(new ArrayBuffer(8));
  readonly #eventIdKey = new InternKey();
  #eventIdKeyed = false;

  /**
   * Locates the fields of `buf`, a frame written with UserActivity v2. False when its bytes are not one
   * whole value of that schema (cut short, trailing bytes, an index out of range, a long beyond 2^53):
   * the caller then decodes it with avsc, which says why.
   */
  read(buf: Uint8Array): boolean {
    this.buf = buf;
    this.#pos = HEADER_BYTES;
    this.#eventIdKeyed = false;
    if (!this.#string()) return false;
    this.eventIdStart = this.#start;
    this.eventIdEnd = this.#pos;
    if (!this.#string()) return false;
    this.userIdStart = this.#start;
    this.userIdEnd = this.#pos;
    if (!this.#string()) return false;
    this.sessionIdStart = this.#start;
    this.sessionIdEnd = this.#pos;
    // An Avro enum is written as its symbol's index: EVENT_TYPES and DEVICES are in schema order (tested).
    const type = this.#long();
    if (!(type >= 0 && type < EVENT_TYPES.length)) return false;
    this.event_type = EVENT_TYPES[type]!;
    this.event_time = this.#long();
    if (!Number.isSafeInteger(this.event_time)) return false;
    if (!this.#string()) return false; // page
    if (!this.#optionalString()) return false; // referrer
    const device = this.#long();
    if (!(device >= 0 && device < DEVICES.length)) return false;
    if (!this.#optionalString()) return false;
    this.countryStart = this.#start;
    this.countryEnd = this.#pos;
    const amountBranch = this.#long();
    if (amountBranch === 0) {
      this.amount = null;
    } else if (amountBranch === 1) {
      if (this.#pos + 8 > buf.length) return false;
      const view = this.#scratch;
      for (let i = 0; i < 8; i++) view.setUint8(i, buf[this.#pos + i]!);
      this.amount = view.getFloat64(0, true);
      this.#pos += 8;
    } else {
      return false;
    }
    if (!this.#optionalString()) return false;
    this.currencyStart = this.#start;
    this.currencyEnd = this.#pos;
    if (!this.#optionalString()) return false; // app_version
    return this.#pos === buf.length;
  }

  /**
   * The event id as the key dedup probes with, read from the bytes once a frame: the validation and
   * the dedup of an event share it.
   */
  eventIdKey(): InternKey {
    if (!this.#eventIdKeyed) {
      this.#eventIdKey.setBytes(this.buf, this.eventIdStart, this.eventIdEnd);
      this.#eventIdKeyed = true;
    }
    return this.#eventIdKey;
  }

  /** Where the last string read starts (−1 after a null branch). */
  #start = 0;

  #string(): boolean {
    const n = this.#long();
    const start = this.#pos;
    if (!(n >= 0) || start + n > this.buf.length) return false;
    this.#start = start;
    this.#pos = start + n;
    return true;
  }

  #optionalString(): boolean {
    const branch = this.#long();
    if (branch === 0) {
      this.#start = -1;
      return true;
    }
    return branch === 1 && this.#string();
  }

  /** A zigzag varint as avsc reads it; NaN when it runs past the end of the buffer. */
  #long(): number {
    const buf = this.buf;
    let pos = this.#pos;
    let n = 0;
    let k = 0;
    let b: number;
    do {
      if (pos >= buf.length) return Number.NaN;
      b = buf[pos++]!;
      n |= (b & 0x7f) << k;
      k += 7;
    } while (b & 0x80 && k < 28);
    if (b & 0x80) {
      let f = n;
      let fk = 268435456;
      do {
        if (pos >= buf.length) return Number.NaN;
        b = buf[pos++]!;
        f += (b & 0x7f) * fk;
        fk *= 128;
      } while (b & 0x80);
      this.#pos = pos;
      return (f % 2 ? -(f + 1) : f) / 2;
    }
    this.#pos = pos;
    return (n >> 1) ^ -(n & 1);
  }

  /**
   * True when validateActivityRules accepts the event these bytes hold, judged from the bytes. False
   * when it rejects it, or when the bytes alone cannot tell (a string of non-ASCII characters that may
   * all be whitespace): the caller then decodes and validates the event, which gives the reasons.
   *
   * The rules' one source of truth is applyActivityRules (contracts/validate.ts); this is the same rules
   * read over the bytes, sharing its UUID and event-time checks (deriving it from them would make the
   * strings this path exists to avoid). activity-frame-rules.test.ts proves the two equal: on generated
   * events at every rule's edge, alone and together, on every event type, with and without each optional
   * field, it agrees with validateActivityRules on the decoded event, and defers exactly where the bytes
   * cannot judge. A rule changed there must change here; that test fails until it does.
   */
  rulesPass(options: ValidateOptions): boolean {
    const buf = this.buf;
    if (!nonBlankAscii(buf, this.userIdStart, this.userIdEnd)) return false;
    if (!nonBlankAscii(buf, this.sessionIdStart, this.sessionIdEnd)) return false;
    // A canonical lowercase UUID (what the key packs) is a UUID; any other spelling is checked as text.
    if (!this.eventIdKey().uuid && !isUuidBytes(buf, this.eventIdStart, this.eventIdEnd)) return false;
    if (!eventTimeAccepted(this.event_time, options)) return false;
    const purchase = this.event_type === "PURCHASE";
    const amount = this.amount;
    if (amount !== null) {
      if (!Number.isFinite(amount) || amount < 0 || !purchase || this.currencyStart < 0) return false;
    } else if (purchase) {
      return false;
    }
    if (this.currencyStart >= 0 && !upperLetters(buf, this.currencyStart, this.currencyEnd, 3)) return false;
    if (this.countryStart >= 0 && !upperLetters(buf, this.countryStart, this.countryEnd, 2)) return false;
    return true;
  }
}

/** True when the bytes hold an ASCII character that is not whitespace, so String.trim() leaves some. */
function nonBlankAscii(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 128 && c !== 32 && (c < 9 || c > 13)) return true;
  }
  return false;
}

/** Exactly n bytes, each A–Z. */
function upperLetters(buf: Uint8Array, start: number, end: number, n: number): boolean {
  if (end - start !== n) return false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 65 || c > 90) return false;
  }
  return true;
}
