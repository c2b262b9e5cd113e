// Read: which partitions a batch reads and how much, fetching each one's next records for the record loop.

import type { Log } from "../../log/index.ts";
import type { BatchState } from "./batch-state.ts";
import type { PartitionCursor } from "./cursor.ts";
import type { RecordApplier } from "./decode-validate.ts";
import type { AnyPipeline } from "./pipelines.ts";

/**
 * The most a default batch grows to while commits dominate. A commit to a remote store (MongoDB) has a
 * large part that does not grow with the batch: each window row touched and each partition's checkpoint
 * is written once whatever the count of events behind them. Measured on FerretDB (50k events): 1.4k–1.8k
 * events/s at 5,000-record batches, 2.3k at 20,000, 2.0k adapting from 5,000.
 */
const MAX_ADAPTIVE_BATCH_RECORDS = 80_000;

/** How many records the next batch may read. */
export class ReadBudget {
  readonly #maxBatchRecords: number;
  /** Whether the budget adapts to the commit cost (no maxBatchRecords given). */
  readonly #adaptiveBudget: boolean;
  /** Records the next batch may read. */
  records: number;

  constructor(maxBatchRecords: number, adaptive: boolean) {
    this.#maxBatchRecords = maxBatchRecords;
    this.#adaptiveBudget = adaptive;
    this.records = maxBatchRecords;
  }

  /**
   * After a full batch (the job is catching up): doubles the budget while the commit took longer than
   * reading and processing the batch, and halves it back towards the default while the commit took less
   * than a quarter of that. A local store stays at the default, whose smaller batches keep more of a
   * batch's garbage young; a remote store's commits are amortised over more records.
   */
  adapt(commitMs: number, workMs: number): void {
    if (!this.#adaptiveBudget) return;
    if (commitMs > workMs) this.records = Math.min(this.records * 2, MAX_ADAPTIVE_BATCH_RECORDS);
    else if (commitMs * 4 < workMs) this.records = Math.max(this.records / 2, this.#maxBatchRecords);
  }
}

/** What a batch's read did. */
export interface ReadResult {
  /** Records read. */
  read: number;
  /** Whether a partition's position moved past records no reader sees, with nothing read. */
  moved: boolean;
  /** Time spent waiting for fetches. */
  fetchMs: number;
}

/**
 * Reads up to `fullBudget` records over the pipelines' partitions, starting at a different partition each
 * time so that one busy partition cannot starve the others, and applies each partition's records as they
 * come (RecordApplier). `limits` caps each partition's reads (a drain stops at the high watermarks).
 */
export async function readBatch(
  log: Log,
  pipelines: readonly AnyPipeline[],
  applier: RecordApplier,
  state: BatchState,
  fullBudget: number,
  limits: Map<PartitionCursor, number> | undefined,
): Promise<ReadResult> {
  let read = 0;
  let moved = false;
  let fetchMs = 0;
  let budget = fullBudget;

  for (const pipeline of pipelines) {
    const { aggregator } = pipeline;
    const n = pipeline.cursors.length;
    const first = pipeline.firstCursor;
    pipeline.firstCursor = n === 0 ? 0 : (first + 1) % n;
    for (let i = 0; i < n && budget > 0; i++) {
      const cursor = pipeline.cursors[(first + i) % n]!;
      const limit = limits?.get(cursor);
      const want = Math.min(budget, limit === undefined ? budget : limit - cursor.nextOffset);
      // A caught-up partition must not hold the job watermark back (Flink's idleness); its next
      // event makes it active again. Lateness is per partition, so this changes no count.
      if (want <= 0) {
        if (limit !== undefined) aggregator.markIdle(cursor.partition);
        continue;
      }
      const fetchStartedMs = performance.now();
      const records = await log.fetch(pipeline.topic, cursor.partition, cursor.nextOffset, {
        maxRecords: want,
      });
      fetchMs += performance.now() - fetchStartedMs;
      // Past records no reader sees (Kafka's transaction markers): a partition that ends with one is
      // read to its high watermark, so it counts as caught up and shows no lag.
      const position = log.position?.(pipeline.topic, cursor.partition);
      if (records.length === 0) {
        if (position !== undefined && position > cursor.nextOffset) {
          cursor.advanceTo(position);
          moved = true;
        }
        aggregator.markIdle(cursor.partition);
        continue;
      }
      budget -= records.length;
      read += records.length;
      // Synchronously up to a record whose writer schema is not cached; that one waits for the registry.
      const at = applier.applyRecords(pipeline, cursor, records, 0, state);
      if (at < records.length) await applier.applyFetching(pipeline, cursor, records, at, state);
      cursor.advanceTo(Math.max(records[records.length - 1]!.offset + 1, position ?? 0));
    }
  }
  return { read, moved, fetchMs };
}
