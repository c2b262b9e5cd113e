// Report: each committed batch's progress (rates, durations, event time, watermarks, lag) and the job's totals.

import type { Log } from "../../log/index.ts";
import type { AnyPipeline } from "./pipelines.ts";
import type { SourceProgress, StreamProgress, StreamTotals } from "./progress.ts";

/** What one batch measured, for its progress report. */
export interface BatchReport {
  read: number;
  nowMs: number;
  startedAtMs: number;
  fetchMs: number;
  processMs: number;
  deadLetterMs: number;
  commitMs: number;
  endedAtMs: number;
  counts: { accepted: number; late: number; duplicates: number; deadLettered: number };
  rowsWritten: number;
  alerts: number;
  minEventTimeMs: number;
  maxEventTimeMs: number;
}

/** Turns each committed batch into a StreamProgress, numbered, with its rates since the batch before. */
export class ProgressReporter {
  readonly #job: string;
  readonly #onProgress: ((progress: StreamProgress) => void) | undefined;
  #batchId = 0;
  #lastCommitAtMs: number | undefined;
  /** The last committed batch's progress (undefined before the first commit). */
  progress: StreamProgress | undefined;
  /** The job watermark before an end-of-input advance, for the run summary. */
  lastFiniteWatermarkMs = Number.NEGATIVE_INFINITY;

  constructor(job: string, onProgress: ((progress: StreamProgress) => void) | undefined) {
    this.#job = job;
    this.#onProgress = onProgress;
  }

  report(pipelines: readonly AnyPipeline[], batch: BatchReport): void {
    const sources: SourceProgress[] = [];
    let stateRows = 0;
    let stateBytes = 0;
    // The min of the topics' job watermarks; a topic that has seen no event yet does not hold it back.
    let jobWatermark = Number.POSITIVE_INFINITY;
    for (const pipeline of pipelines) {
      const p = pipeline.aggregator.progress();
      stateRows += p.rowsInState;
      stateBytes += p.stateBytes;
      if (p.maxEventTimeMs > Number.NEGATIVE_INFINITY && p.watermarkMs < jobWatermark) {
        jobWatermark = p.watermarkMs;
      }
      const partitions = pipeline.cursors.map((cursor) => ({
        partition: cursor.partition,
        nextOffset: cursor.nextOffset,
        highWatermark: Math.max(cursor.highWatermark, cursor.nextOffset),
        lag: Math.max(0, cursor.highWatermark - cursor.nextOffset),
        watermarkMs: finiteOrNull(pipeline.aggregator.partitionWatermark(cursor.partition)),
      }));
      sources.push({
        topic: pipeline.topic,
        watermarkMs: finiteOrNull(p.watermarkMs),
        lag: partitions.reduce((a, q) => a + q.lag, 0),
        partitions,
      });
    }
    if (Number.isFinite(jobWatermark)) this.lastFiniteWatermarkMs = jobWatermark;
    const durationMs = batch.endedAtMs - batch.startedAtMs;
    const sinceLastMs =
      this.#lastCommitAtMs === undefined ? durationMs : batch.endedAtMs - this.#lastCommitAtMs;
    this.#lastCommitAtMs = batch.endedAtMs;
    const progress: StreamProgress = {
      job: this.#job,
      batchId: this.#batchId++,
      timestampMs: batch.nowMs,
      numInputRows: batch.read,
      inputRowsPerSecond: batch.read / Math.max(0.001, sinceLastMs / 1000),
      processedRowsPerSecond: batch.read / Math.max(0.001, durationMs / 1000),
      batchDurationMs: durationMs,
      durationMs: {
        fetch: batch.fetchMs,
        process: batch.processMs,
        deadLetter: batch.deadLetterMs,
        commit: batch.commitMs,
      },
      eventTime: {
        minMs: finiteOrNull(batch.minEventTimeMs),
        maxMs: finiteOrNull(batch.maxEventTimeMs),
        watermarkMs: finiteOrNull(jobWatermark),
      },
      batch: { ...batch.counts, rowsWritten: batch.rowsWritten, alerts: batch.alerts },
      totals: totalsOf(pipelines),
      stateRows,
      stateBytes,
      sources,
    };
    this.progress = progress;
    this.#onProgress?.(progress);
  }
}

/** The job's counters over its pipelines: restored from the checkpoints, so they survive restarts. */
export function totalsOf(pipelines: readonly AnyPipeline[]): StreamTotals {
  const totals: StreamTotals = {
    input: 0,
    accepted: 0,
    partiallyLate: 0,
    late: 0,
    duplicates: 0,
    deadLettered: 0,
  };
  for (const pipeline of pipelines) {
    const p = pipeline.aggregator.progress();
    let deadLettered = 0;
    for (const cursor of pipeline.cursors) deadLettered += cursor.deadLettered;
    totals.input += p.input + deadLettered;
    totals.accepted += p.accepted + p.partiallyLate;
    totals.partiallyLate += p.partiallyLate;
    totals.late += p.late;
    totals.duplicates += p.duplicates;
    totals.deadLettered += deadLettered;
  }
  return totals;
}

/** Refreshes each partition's high watermark, for the lag in progress reports. */
export async function refreshLag(log: Log, pipelines: readonly AnyPipeline[]): Promise<void> {
  for (const pipeline of pipelines) {
    const info = await log.describeTopic(pipeline.topic);
    for (const cursor of pipeline.cursors) {
      cursor.highWatermark = info.offsets[cursor.partition]?.highWatermark ?? cursor.highWatermark;
    }
  }
}

export function finiteOrNull(ms: number): number | null {
  return Number.isFinite(ms) ? ms : null;
}
