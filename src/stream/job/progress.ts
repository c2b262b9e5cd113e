// What the stream job reports: each micro-batch's progress (as Spark's StreamingQueryProgress) and a run's summary.

export interface PartitionLagProgress {
  partition: number;
  /** The next offset the job reads (its checkpoint after the last commit). */
  nextOffset: number;
  highWatermark: number;
  lag: number;
  /** The partition's event-time watermark; null before its first event, or once drained (+∞). */
  watermarkMs: number | null;
}

export interface SourceProgress {
  topic: string;
  /** Job watermark of the topic: the min over its active partitions (null: none yet, or drained). */
  watermarkMs: number | null;
  lag: number;
  partitions: PartitionLagProgress[];
}

/** Counters of the whole job, restored from its checkpoints, so they survive restarts. */
export interface StreamTotals {
  /** Records read: valid events plus dead letters (replays are not counted twice). */
  input: number;
  /** Events counted in windows (including partially late ones). */
  accepted: number;
  partiallyLate: number;
  late: number;
  duplicates: number;
  deadLettered: number;
}

/** One micro-batch, in the spirit of Spark's StreamingQueryProgress. */
export interface StreamProgress {
  job: string;
  batchId: number;
  /** Processing time when the batch committed. */
  timestampMs: number;
  /** Records read in this batch. */
  numInputRows: number;
  /** Records read per second of processing time since the previous batch committed. */
  inputRowsPerSecond: number;
  /** Records read per second of this batch's own duration. */
  processedRowsPerSecond: number;
  batchDurationMs: number;
  durationMs: { fetch: number; process: number; deadLetter: number; commit: number };
  /** Event time of this batch's valid records, and the job watermark after it (null: none). */
  eventTime: { minMs: number | null; maxMs: number | null; watermarkMs: number | null };
  batch: {
    accepted: number;
    late: number;
    duplicates: number;
    deadLettered: number;
    rowsWritten: number;
    /** Alerts raised by windows that became final for the job in this batch. */
    alerts: number;
  };
  totals: StreamTotals;
  stateRows: number;
  stateBytes: number;
  sources: SourceProgress[];
}

/** What a run of the job did, for `pulse stream` output. */
export interface StreamRunSummary {
  /** Records read by this run. */
  read: number;
  totals: StreamTotals;
  /** Distinct windows of the configured spec (per topic) finalised by this run. */
  windowsFinal: number;
  /** The job watermark before any end-of-input advance; null before the first event. */
  watermarkMs: number | null;
  drained: boolean;
  /** From the job's construction: start-up (group join, checkpoint loading, recovery) included. */
  elapsedMs: number;
  /**
   * From the start of the first batch that read records to now: the reading alone, as Kafka's
   * consumer-perf-test reports fetch time apart from rebalance time; null before any record.
   */
  readingMs: number | null;
}
