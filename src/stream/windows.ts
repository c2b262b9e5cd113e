// Event-time window assignment: tumbling, hopping (sliding) and UTC-day windows, allocation-free on the hot path.

import { StreamError, StreamErrorCode } from "../errors.ts";

/**
 * Windows are half-open event-time intervals [start, start + sizeMs), with starts at every multiple of
 * slideMs counted from the epoch. Tumbling: slideMs === sizeMs. Hopping: slideMs < sizeMs, so each
 * event falls in ceil(sizeMs / slideMs) or floor(sizeMs / slideMs) windows.
 */
export interface WindowSpec {
  sizeMs: number;
  slideMs: number;
}

export const DAY_MS = 86_400_000;

/** Epoch-aligned day windows are UTC calendar days (JavaScript time has no leap seconds). */
export const DAY_WINDOW: Readonly<WindowSpec> = Object.freeze({ sizeMs: DAY_MS, slideMs: DAY_MS });

/** Above this many windows per event a spec is almost certainly a unit mistake (1 day sliding by 1 ms). */
export const MAX_WINDOWS_PER_EVENT = 4096;

export function tumblingWindow(sizeMs: number): WindowSpec {
  return validateWindowSpec({ sizeMs, slideMs: sizeMs });
}

export function hoppingWindow(sizeMs: number, slideMs: number): WindowSpec {
  return validateWindowSpec({ sizeMs, slideMs });
}

/** Returns the spec unchanged, or throws StreamError(badWindowSpec) saying which value is wrong. */
export function validateWindowSpec(spec: WindowSpec): WindowSpec {
  const { sizeMs, slideMs } = spec;
  const bad = (message: string): never => {
    throw new StreamError(StreamErrorCode.badWindowSpec, `window ${message}`, {
      details: { sizeMs, slideMs },
    });
  };
  if (!Number.isSafeInteger(sizeMs) || sizeMs <= 0)
    bad(`sizeMs must be a positive whole number of ms, got ${sizeMs}`);
  if (!Number.isSafeInteger(slideMs) || slideMs <= 0)
    bad(`slideMs must be a positive whole number of ms, got ${slideMs}`);
  if (slideMs > sizeMs)
    bad(`slideMs (${slideMs}) must not exceed sizeMs (${sizeMs}): events would fall in gaps`);
  if (windowsPerEvent(spec) > MAX_WINDOWS_PER_EVENT)
    bad(
      `of ${sizeMs} ms sliding by ${slideMs} ms puts each event in more than ${MAX_WINDOWS_PER_EVENT} windows`,
    );
  return spec;
}

/** The most windows one event can fall in: the length of the output array assignWindows needs. */
export function windowsPerEvent(spec: WindowSpec): number {
  return Math.ceil(spec.sizeMs / spec.slideMs);
}

/** Below this magnitude t − floor(t / m)·m is exact for every m ≥ 1 used here (|t| + m < 2^53). */
const EXACT_DIVISION_LIMIT = 2 ** 52;

/**
 * t mod m with the sign of m, so times before the epoch still floor towards −∞. By a division and a
 * floor where that is exact (every epoch ms is): `%` on numbers beyond 2^31 is a call into C's fmod,
 * three of them an event on the stream's hot path.
 */
function floorMod(t: number, m: number): number {
  if (t < EXACT_DIVISION_LIMIT && t > -EXACT_DIVISION_LIMIT && m < EXACT_DIVISION_LIMIT) {
    return t - Math.floor(t / m) * m;
  }
  const r = t % m;
  return r < 0 ? r + m : r;
}

/** Start of the latest window containing eventTimeMs: the slide boundary at or below it. */
export function latestWindowStart(eventTimeMs: number, spec: WindowSpec): number {
  return eventTimeMs - floorMod(eventTimeMs, spec.slideMs);
}

/** End of the latest window containing eventTimeMs; once that window is final, so are all the others. */
export function latestWindowEnd(eventTimeMs: number, spec: WindowSpec): number {
  return eventTimeMs - floorMod(eventTimeMs, spec.slideMs) + spec.sizeMs;
}

/** Start of the UTC event-time day containing eventTimeMs. */
export function utcDayStart(eventTimeMs: number): number {
  return eventTimeMs - floorMod(eventTimeMs, DAY_MS);
}

/**
 * Writes the starts of every window containing eventTimeMs into `out`, ascending, and returns how many.
 * `out` must hold windowsPerEvent(spec) numbers; it is reused across calls so the hot path allocates
 * nothing. Invariant: every written start s satisfies s ≤ eventTimeMs < s + sizeMs, and no other
 * multiple of slideMs does.
 */
export function assignWindows(eventTimeMs: number, spec: WindowSpec, out: Float64Array): number {
  const { sizeMs, slideMs } = spec;
  const last = eventTimeMs - floorMod(eventTimeMs, slideMs);
  // The earliest start still > eventTimeMs − sizeMs; computed by division, not a loop, then fixed at the edge.
  let first = last - Math.floor((sizeMs - 1) / slideMs) * slideMs;
  if (first + sizeMs <= eventTimeMs) first += slideMs;
  let n = 0;
  for (let s = first; s <= last; s += slideMs) out[n++] = s;
  return n;
}
