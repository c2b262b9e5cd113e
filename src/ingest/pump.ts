// Moves events from a source into a sink in batches, paced at a target rate in processing time.

import { setTimeout as sleep } from "node:timers/promises";

export interface PumpOptions {
  /** Target events per second; 0 means as fast as the sink accepts them. */
  ratePerSec: number;
  /** Largest batch handed to the sink at once. */
  maxBatch?: number;
  /** Hand a partial batch to the sink once its first event has waited this long (default 100 ms). */
  lingerMs?: number;
  /** Stop after this many events. */
  limit?: number;
  signal?: AbortSignal;
}

/**
 * Pulls from `source` and calls `send` with batches, waiting for each to be acknowledged before the next,
 * so memory stays bounded by one batch whatever the source's speed. At a finite rate, batches are sized to
 * about 50 ms of events so the pace stays smooth; event i is due at start + i / rate.
 */
const LINGER_EXPIRED = Symbol("linger expired");

export async function pump<T>(
  source: Iterable<T> | AsyncIterable<T>,
  send: (batch: T[]) => Promise<void>,
  options: PumpOptions,
): Promise<number> {
  const maxBatch = options.maxBatch ?? 1000;
  const batchSize =
    options.ratePerSec > 0 ? Math.max(1, Math.min(maxBatch, Math.floor(options.ratePerSec / 20))) : maxBatch;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const startMs = performance.now();
  let sent = 0;
  let batch: T[] = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const current = batch;
    batch = [];
    await send(current);
    sent += current.length;
    if (options.ratePerSec > 0) {
      const dueMs = startMs + (sent / options.ratePerSec) * 1000;
      const waitMs = dueMs - performance.now();
      if (waitMs > 1) await sleep(waitMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  };

  // A sync source never blocks, so it needs no timer. An async one (a live feed) is pulled by hand and raced
  // against one linger timer per batch, so a slow source cannot hold a partial batch back past lingerMs.
  if (!(Symbol.asyncIterator in source)) {
    for (const item of source) {
      if (options.signal?.aborted) break;
      batch.push(item);
      if (batch.length >= batchSize) await flush();
      if (sent + batch.length >= limit) break;
    }
    if (!options.signal?.aborted) await flush();
    return sent;
  }
  const lingerMs = options.lingerMs ?? 100;
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  let linger: Promise<typeof LINGER_EXPIRED> | undefined;
  try {
    while (!options.signal?.aborted && sent + batch.length < limit) {
      const next = pending ?? iterator.next();
      pending = undefined;
      const result = linger === undefined ? await next : await Promise.race([next, linger]);
      if (result === LINGER_EXPIRED) {
        pending = next;
        linger = undefined;
        await flush();
        continue;
      }
      if (result.done) break;
      if (batch.length === 0) linger = sleep(lingerMs, LINGER_EXPIRED);
      batch.push(result.value);
      if (batch.length >= batchSize) {
        linger = undefined;
        await flush();
      }
    }
    if (!options.signal?.aborted) await flush();
  } finally {
    // Tell a generator source we are done (closes files and connections); a pending pull is abandoned.
    if (pending === undefined) await iterator.return?.();
  }
  return sent;
}
