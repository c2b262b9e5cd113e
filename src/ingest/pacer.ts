// Paces a replay in processing time by the recorded event time (speed 1 = recorded pace, 0 = no waiting).

import { setTimeout as sleep } from "node:timers/promises";

/**
 * Invariant: the k-th event is released no earlier than
 *   wallStart + (eventTime_k - eventTime_first) / speed
 * so drift never accumulates. An event whose time is earlier than the newest one seen (out of order)
 * or unknown is released at once.
 */
export class EventTimePacer {
  readonly #speed: number;
  readonly #signal: AbortSignal | undefined;
  #firstEventTimeMs: number | undefined;
  #wallStartMs = 0;

  constructor(speed: number, signal?: AbortSignal) {
    this.#speed = Number.isFinite(speed) && speed > 0 ? speed : 0;
    this.#signal = signal;
  }

  /** Whether wait() ever waits (a speed above 0); a caller may skip it otherwise. */
  get paces(): boolean {
    return this.#speed > 0;
  }

  /** Forget the origin, e.g. when a looped replay starts over. */
  reset(): void {
    this.#firstEventTimeMs = undefined;
  }

  /** Resolves when the event may be released; false when aborted meanwhile. */
  async wait(eventTimeMs: number | undefined): Promise<boolean> {
    if (this.#signal?.aborted) return false;
    if (this.#speed === 0 || eventTimeMs === undefined || !Number.isFinite(eventTimeMs)) return true;
    if (this.#firstEventTimeMs === undefined) {
      this.#firstEventTimeMs = eventTimeMs;
      this.#wallStartMs = performance.now();
      return true;
    }
    const dueMs = this.#wallStartMs + (eventTimeMs - this.#firstEventTimeMs) / this.#speed;
    const delayMs = dueMs - performance.now();
    if (delayMs < 1) return true;
    try {
      await sleep(delayMs, undefined, { signal: this.#signal });
      return true;
    } catch {
      return false;
    }
  }
}
