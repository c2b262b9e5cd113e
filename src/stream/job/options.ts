// The stream job's options, their defaults, and the settings it resolves from them once, checked.

import { TOPICS } from "../../contracts/types.ts";
import { DEFAULT_MAX_FUTURE_SKEW_MS } from "../../contracts/validate.ts";
import { StreamError, StreamErrorCode } from "../../errors.ts";
import type { Log } from "../../log/index.ts";
import type { AvroSerde } from "../../serde/index.ts";
import type { LiveStore, StoreBatch } from "../../store/index.ts";
import type { AnomalyDetectorOptions } from "../anomaly.ts";
import { tumblingWindow, type WindowSpec } from "../windows.ts";
import type { StreamProgress } from "./progress.ts";

export const DEFAULT_JOB_NAME = "pulse-stream";
/** Header naming the job that wrote a dead letter, so recovery only counts its own. */
export const JOB_HEADER = "pulse-job";

/**
 * Records a batch reads at most. Everything a batch holds (its records, raw-lake rows) lives until its
 * commit; at 20,000 much of it outlived a young-generation collection and was copied into the old one,
 * and the drain spent 2.5 times as long in the scavenger as at 5,000.
 */
const DEFAULT_MAX_BATCH_RECORDS = 5_000;
const DEFAULT_POLL_INTERVAL_MS = 20;
const DEFAULT_OUT_OF_ORDERNESS_MS = 10_000;
const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;
const DEFAULT_STORED_ALERTS_POLL_MS = 1_000;

export interface StreamJobOptions {
  log: Log;
  serde: AvroSerde;
  store: LiveStore;
  /** Job name: the checkpoint key in the store and the consumer group on the log. Default "pulse-stream". */
  job?: string;
  /** Topics to read: `user-activity` and/or `wikimedia.recentchange` (default both). */
  topics?: readonly string[];
  /** Event-time window of the live rows (default 1-minute tumbling). */
  window?: WindowSpec;
  /** Watermark = max event time seen in a partition − this (default 10 s). */
  outOfOrdernessMs?: number;
  /** A window stays open this long after the watermark passes its end (default 0). */
  allowedLatenessMs?: number;
  /**
   * Most records read in one micro-batch, over all partitions. Given, it is fixed; by default a batch
   * reads up to 5,000 records, more (up to 80,000) while the store's commits take longer than reading
   * and processing the batch (see ReadBudget, read.ts).
   */
  maxBatchRecords?: number;
  /** Write every cleaned event to the raw lake (default true). */
  rawLake?: boolean;
  /** Pause between polls when every partition is caught up (default 20 ms). */
  pollIntervalMs?: number;
  /** How often a scaled-out alert owner looks in the store for windows final over the topic (default 1 s). */
  storedAlertsPollMs?: number;
  /**
   * How often the operator state is written with the checkpoints (default 10 s; 0: every batch). Every
   * batch still commits its rows with each partition's next offset; between state checkpoints the store
   * keeps the last state, and a restart restores it and replays the log from the offset it covers (as
   * Flink restores its last checkpoint), rewriting the same rows. A longer interval makes commits cheaper
   * (the state is O(events in the watermark horizon)) and a restart replay longer.
   */
  checkpointIntervalMs?: number;
  /** Validation: how far an event time may run ahead of the record's log timestamp (default 5 min). */
  maxFutureSkewMs?: number;
  /** Pages in each Wikimedia window's top list (default 10). */
  topPages?: number;
  /** Processing-time clock (ingested_at, failed_at, rates). */
  nowMs?: () => number;
  /** Called after every committed micro-batch. */
  onProgress?: (progress: StreamProgress) => void;
  /**
   * Called after each successful store commit with exactly what was committed (rows, alerts,
   * checkpoints), e.g. to push live updates. Not called for a batch that had nothing to commit.
   */
  onCommitted?: (batch: StoreBatch) => void;
  /**
   * Anomaly detection over each window once it is final for the whole job (default on, with the
   * detector's defaults); `false` switches it off. Series: `activity.<EVENT_TYPE>.event_count`,
   * `activity.all.event_count`, `wikimedia.<wiki>.edits`, `wikimedia.all.edits`.
   */
  anomaly?: AnomalyDetectorOptions | false;
  /**
   * Join the log's consumer group named after the job and process only the partitions the group
   * assigns, so several processes split the work; partitions move when a member joins or leaves.
   * Default: on when the log has a group coordinator (Kafka), off otherwise (the job owns every partition).
   */
  scaleOut?: boolean;
  /**
   * Called when the live store refused a commit with a retriable error (a server outage): the job holds
   * the batch, reads nothing more, and commits it again after `delayMs` (backpressure; no offset moves).
   */
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  /** Called whenever the job (re)loads its partitions: at start and after each rebalance. */
  onAssignment?: (assignment: Map<string, number[]>) => void;
}

/** What the job runs with: its options with the defaults applied and checked, and its name as a header value. */
export interface JobSettings {
  readonly options: StreamJobOptions;
  readonly log: Log;
  readonly serde: AvroSerde;
  readonly store: LiveStore;
  readonly job: string;
  /** The job's name as the `pulse-job` header value its dead letters and alerts carry. */
  readonly jobHeader: Buffer;
  readonly window: WindowSpec;
  readonly aggregatorOptions: { window: WindowSpec; outOfOrdernessMs: number; allowedLatenessMs: number };
  readonly topicNames: string[];
  readonly scaleOut: boolean;
  readonly maxBatchRecords: number;
  /** Whether the batch budget adapts to the commit cost (no maxBatchRecords given). */
  readonly adaptiveBudget: boolean;
  readonly rawLake: boolean;
  readonly pollIntervalMs: number;
  readonly storedAlertsPollMs: number;
  readonly checkpointIntervalMs: number;
  readonly maxFutureSkewMs: number;
  readonly nowMs: () => number;
}

/** Applies the defaults to `options` and checks them; a bad option throws PULSE_STREAM_BAD_OPTION. */
export function resolveSettings(options: StreamJobOptions): JobSettings {
  const log = options.log;
  const job = options.job ?? DEFAULT_JOB_NAME;
  if (job.trim() === "") {
    throw new StreamError(StreamErrorCode.badOption, "the stream job name must not be empty");
  }
  const window = options.window ?? tumblingWindow(60_000);
  const maxBatchRecords = positiveInt(
    "maxBatchRecords",
    options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS,
  );
  const storedAlertsPollMs = options.storedAlertsPollMs ?? DEFAULT_STORED_ALERTS_POLL_MS;
  if (!(storedAlertsPollMs >= 0)) {
    throw new StreamError(
      StreamErrorCode.badOption,
      `storedAlertsPollMs must be a number of ms ≥ 0, got ${storedAlertsPollMs}`,
    );
  }
  const checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  if (!Number.isSafeInteger(checkpointIntervalMs) || checkpointIntervalMs < 0) {
    throw new StreamError(
      StreamErrorCode.badOption,
      `checkpointIntervalMs must be a whole number of ms ≥ 0, got ${checkpointIntervalMs}`,
    );
  }
  const topics = options.topics ?? [TOPICS.activity, TOPICS.wikimedia];
  if (topics.length === 0) {
    throw new StreamError(StreamErrorCode.badOption, "the stream job needs at least one topic");
  }
  for (const topic of topics) {
    if (topic !== TOPICS.activity && topic !== TOPICS.wikimedia) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `the stream job has no aggregate for topic '${topic}'; it reads ${TOPICS.activity} and ${TOPICS.wikimedia}`,
        { details: { topic } },
      );
    }
  }
  const scaleOut = options.scaleOut ?? log.joinGroup !== undefined;
  if (scaleOut && log.joinGroup === undefined) {
    throw new StreamError(
      StreamErrorCode.badOption,
      "scale-out needs a log with consumer groups (Kafka); the embedded log has one reader per job",
    );
  }
  return {
    options,
    log,
    serde: options.serde,
    store: options.store,
    job,
    jobHeader: Buffer.from(job, "utf8"),
    window,
    aggregatorOptions: {
      window,
      outOfOrdernessMs: options.outOfOrdernessMs ?? DEFAULT_OUT_OF_ORDERNESS_MS,
      allowedLatenessMs: options.allowedLatenessMs ?? 0,
    },
    topicNames: [...new Set(topics)],
    scaleOut,
    maxBatchRecords,
    adaptiveBudget: options.maxBatchRecords === undefined,
    rawLake: options.rawLake ?? true,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    storedAlertsPollMs,
    checkpointIntervalMs,
    maxFutureSkewMs: options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
    nowMs: options.nowMs ?? Date.now,
  };
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StreamError(StreamErrorCode.badOption, `${name} must be a whole number ≥ 1, got ${value}`, {
      details: { [name]: value },
    });
  }
  return value;
}
