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
 * Reads up to `fullBudget` records over the pipelines' partitions and applies each partition's records as
 * they come (RecordApplier). `limits` caps each partition's reads (a drain stops at the high watermarks).
 *
 * Fairness, as Kafka's fetch sessions share a fetch among partitions: within a topic, each batch starts at
 * the next partition, so one busy partition cannot starve the others; across topics, a first pass gives
 * each topic (starting at the next topic each batch) an equal share of what is left of the budget, and a
 * second pass gives what the quieter topics left to the busier ones. So a backlog on one topic never
 * holds back the other's windows and watermark. With one topic the first pass is the whole budget.
 */
export async function readBatch(
  log: Log,
  pipelines: readonly AnyPipeline[],
  applier: RecordApplier,
  state: BatchState,
  fullBudget: number,
  limits: Map<PartitionCursor, number> | undefined,
  /** The pipeline the first pass starts at; the caller moves it on every batch. */
  firstPipeline = 0,
): Promise<ReadResult> {
  const result: ReadResult = { read: 0, moved: false, fetchMs: 0 };
  let budget = fullBudget;
  const n = pipelines.length;
  const full = new Set<AnyPipeline>();
  for (let i = 0; i < n && budget > 0; i++) {
    const pipeline = pipelines[(firstPipeline + i) % n]!;
    const share = Math.ceil(budget / (n - i));
    const read = await readPipeline(log, pipeline, applier, state, share, limits, result, true);
    budget -= read;
    if (read >= share) full.add(pipeline);
  }
  // What quieter topics left, for the topics that used their whole share.
  for (let i = 0; i < n && budget > 0; i++) {
    const pipeline = pipelines[(firstPipeline + i) % n]!;
    if (!full.has(pipeline)) continue;
    budget -= await readPipeline(log, pipeline, applier, state, budget, limits, result, false);
  }
  return result;
}

/**
 * Reads up to `budget` records from one topic's partitions, starting at its next partition on the
 * batch's first pass (`rotate`), adds the fetch time and moves to `result`; returns the records read.
 */
async function readPipeline(
  log: Log,
  pipeline: AnyPipeline,
  applier: RecordApplier,
  state: BatchState,
  budget: number,
  limits: Map<PartitionCursor, number> | undefined,
  result: ReadResult,
  rotate: boolean,
): Promise<number> {
  const { aggregator } = pipeline;
  const n = pipeline.cursors.length;
  const first = pipeline.firstCursor;
  if (rotate) pipeline.firstCursor = n === 0 ? 0 : (first + 1) % n;
  let read = 0;
  for (let i = 0; i < n && read < budget; i++) {
    const cursor = pipeline.cursors[(first + i) % n]!;
    const limit = limits?.get(cursor);
    const left = budget - read;
    const want = Math.min(left, limit === undefined ? left : limit - cursor.nextOffset);
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
    result.fetchMs += performance.now() - fetchStartedMs;
    // Past records no reader sees (Kafka's transaction markers): a partition that ends with one is
    // read to its high watermark, so it counts as caught up and shows no lag.
    const position = log.position?.(pipeline.topic, cursor.partition);
    if (records.length === 0) {
      if (position !== undefined && position > cursor.nextOffset) {
        cursor.advanceTo(position);
        result.moved = true;
      }
      aggregator.markIdle(cursor.partition);
      continue;
    }
    read += records.length;
    result.read += records.length;
    // Synchronously up to a record whose writer schema is not cached; that one waits for the registry.
    const at = applier.applyRecords(pipeline, cursor, records, 0, state);
    if (at < records.length) await applier.applyFetching(pipeline, cursor, records, at, state);
    cursor.advanceTo(Math.max(records[records.length - 1]!.offset + 1, position ?? 0));
  }
  return read;
}
