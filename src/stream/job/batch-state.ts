// What one micro-batch gathers between its read and its store commit: rows, counts, event-time bounds, dead letters.

import type { ValidateOptions } from "../../contracts/validate.ts";
import type { ProduceRecord } from "../../log/index.ts";
import type { Checkpoint, LateEventRow } from "../../store/index.ts";
import { emptySeriesRows, type SeriesRowLists } from "../../store/series.ts";
import type { TopPagesRow } from "../aggregates.ts";
import type { PartitionCursor } from "./cursor.ts";
import type { AnyPipeline } from "./pipelines.ts";

/** Rows of one micro-batch, gathered over all topics before the one store commit. */
export interface BatchRows {
  /** Window rows per series, by name (StoreBatch.windows). */
  windows: SeriesRowLists;
  /** Per-day rows per series (StoreBatch.daily). */
  daily: SeriesRowLists;
  topPages: TopPagesRow[];
  lateEvents: LateEventRow[];
  checkpoints: Checkpoint[];
}

/**
 * What one micro-batch gathers while it reads records, before its store commit: one object a batch, so
 * the record loop (decode-validate.ts) is a small synchronous function the JIT optimises early.
 */
export class BatchState {
  readonly rows: BatchRows = {
    windows: emptySeriesRows(),
    daily: emptySeriesRows(),
    topPages: [],
    lateEvents: [],
    checkpoints: [],
  };
  /** What the report shows of the batch. */
  readonly counts = { accepted: 0, late: 0, duplicates: 0, deadLettered: 0 };
  minEventTimeMs = Number.POSITIVE_INFINITY;
  maxEventTimeMs = Number.NEGATIVE_INFINITY;
  readonly dlqByPipeline = new Map<AnyPipeline, { records: ProduceRecord[]; cursors: PartitionCursor[] }>();
  /** One options object for the batch's validations (read synchronously), not one per event. */
  readonly validateOptions: ValidateOptions;
  readonly nowMs: number;

  constructor(nowMs: number, maxFutureSkewMs: number) {
    this.nowMs = nowMs;
    this.validateOptions = { nowMs: 0, maxFutureSkewMs };
  }
}
