// Waits until the speed layer has finalized a UTC day: every partition's daily row of it is final, so no on-time event of the day can still come.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { LiveStore } from "../store/index.ts";
import { ACTIVITY_SERIES } from "../store/series.ts";

const DAY_MS = 86_400_000;

export interface WaitFinalOptions {
  /** Between looks (default 15 s). */
  pollMs?: number;
  /** Ends the wait with the signal's reason (a task's timeout). */
  signal?: AbortSignal;
  /** Told at each look that finds the day open: how many of its rows are final. */
  onWait?: (final: number, total: number) => void;
}

/**
 * Resolves once the day's activity rows in the live store are all final (or it has none: nothing of the
 * day was counted). Loading the day after this, an event of it is either counted on time already or will
 * be a late event: the batch and speed layers then agree on what the day holds.
 */
export async function waitForFinalDay(
  store: LiveStore,
  day: string,
  options: WaitFinalOptions = {},
): Promise<void> {
  const fromMs = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !Number.isFinite(fromMs)) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `A day is YYYY-MM-DD (e.g. 2026-12-06), got ${JSON.stringify(day)}.`,
    );
  }
  for (;;) {
    options.signal?.throwIfAborted();
    const rows = (await store.daily(ACTIVITY_SERIES, { fromMs, toMs: fromMs + DAY_MS })).filter(
      (row) => row.window_start === fromMs,
    );
    const final = rows.filter((row) => row.final).length;
    if (final === rows.length) return;
    options.onWait?.(final, rows.length);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, options.pollMs ?? 15_000);
      options.signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(options.signal?.reason);
        },
        { once: true },
      );
    });
  }
}
