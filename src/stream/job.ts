// The stream job: the micro-batch loop of fetch → decode → validate/dead-letter → aggregate → one atomic store commit.

import { setImmediate as yieldToEventLoop, setTimeout as sleep } from "node:timers/promises";
import type {
  Accumulator,
  ActivityAccumulator,
  ActivityRow,
  TopPagesRow,
  WikiAccumulator,
  WikiRow,
} from "./aggregates.ts";
import { ActivityFrame } from "./activity-frame.ts";
import { MAX_EMPTY_WINDOWS, type SeriesSpec, WindowAlerter } from "./alerting.ts";
import type { AnomalyDetectorOptions } from "./anomaly.ts";
import { ByteReader, ByteWriter } from "./binary.ts";
import {
  type FlushResult,
  ProcessOutcome,
  type WindowedAggregator,
  createActivityAggregator,
  createWikimediaAggregator,
} from "./operator.ts";
import { tumblingWindow, type WindowSpec } from "./windows.ts";
import {
  type AvroType,
  SCHEMA_TEXTS,
  subjectFor,
  userActivityV2Type,
  wikimediaRecentChangeType,
} from "../contracts/schemas.ts";
import {
  type DeadLetter,
  deadLetterTopic,
  TOPICS,
  type UserActivity,
  type WikimediaRecentChange,
} from "../contracts/types.ts";
import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  describeIssues,
  type ValidateOptions,
  type ValidationResult,
  validateActivityRules,
  validateRecentChangeRules,
} from "../contracts/validate.ts";
import {
  PulseError,
  SerdeError,
  StoreError,
  StoreErrorCode,
  StreamError,
  StreamErrorCode,
} from "../errors.ts";
import type { GroupMember, Log, LogRecord, ProduceRecord, RecordPosition } from "../log/index.ts";
import { type AvroSerde, type Encoder, frameSchemaId } from "../serde/index.ts";
import type {
  ActivityWindowRow,
  AlertRow,
  Checkpoint,
  LateEventRow,
  LiveStore,
  StoreBatch,
  WikiWindowRow,
  WindowRange,
  WindowRows,
} from "../store/index.ts";
import { RawRunWriter } from "../lake/batch.ts";
import { asBuffer } from "../bytes.ts";

export const DEFAULT_JOB_NAME = "pulse-stream";
/** Header naming the job that wrote a dead letter, so recovery only counts its own. */
export const JOB_HEADER = "pulse-job";

/**
 * Records a batch reads at most. Everything a batch holds (its records, raw-lake rows) lives until its
 * commit; at 20,000 much of it outlived a young-generation collection and was copied into the old one,
 * and the drain spent 2.5 times as long in the scavenger as at 5,000.
 */
const DEFAULT_MAX_BATCH_RECORDS = 5_000;
/**
 * The most a default batch grows to while commits dominate. A commit to a remote store (MongoDB) has a
 * large part that does not grow with the batch: each window row touched and each partition's checkpoint
 * is written once whatever the count of events behind them. Measured on FerretDB (50k events): 1.4k–1.8k
 * events/s at 5,000-record batches, 2.3k at 20,000, 2.0k adapting from 5,000.
 */
const MAX_ADAPTIVE_BATCH_RECORDS = 80_000;
const DEFAULT_POLL_INTERVAL_MS = 20;
const DEFAULT_OUT_OF_ORDERNESS_MS = 10_000;
const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;
/**
 * How often a running job commits its group offsets to the log and reads the high watermarks, both only
 * for lag display. Per batch they cost a write to the log (contending with producers for the embedded
 * log's write lock) and, on Kafka, three requests.
 */
const LAG_REFRESH_MS = 1_000;
/** How often an idle job moves its dead-letter scan marks up to the DLQ's end (bounds the scan after a crash). */
const DLQ_MARK_REFRESH_MS = 10_000;
const DLQ_SCAN_BATCH = 5_000;
/** Every alert goes to this partition of the `alerts` topic: alerts are few, and one partition keeps them in order. */
const ALERTS_PARTITION = 0;
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
   * and processing the batch (see #adaptBudget).
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

// ---------------------------------------------------------------------------------------------------
// Checkpoint envelope

/*
 * Checkpoint.state written by the job, around the aggregator's own snapshot (binary.ts primitives):
 *   u32 magic "PJOB", u8 version, f64 dlqMark, f64 deadLettered, bytes aggregatorSnapshot, bytes alertState,
 *   f64 snapshotOffset (version 3)
 * snapshotOffset is the source offset the state covers: every offset below it is in the snapshot. The
 * checkpoint's nextOffset may be ahead of it (rows committed since, without state; see
 * checkpointIntervalMs); a restore reads from snapshotOffset and skips writing the lake and late rows
 * below nextOffset, which the store already holds. Versions 1 and 2 covered their nextOffset.
 * dlqMark is a position in the partition's dead-letter partition: every dead letter this job wrote for
 * source offsets at or after snapshotOffset lies at or after it (see #recoverDeadLetters).
 * alertState (version 2) is the topic's WindowAlerter state. The alerter is topic-wide, not per
 * partition, so it rides in the checkpoint of the topic's LOWEST partition only; every other checkpoint
 * holds 0 bytes there. Version 1 (no alertState) is still read: the alerter then starts empty.
 */
const ENVELOPE_MAGIC = 0x424f4a50; // "PJOB" little-endian
const ENVELOPE_VERSION = 3;

interface Envelope {
  /** Undefined when read from a version-1/2 envelope: the checkpoint's nextOffset. */
  snapshotOffset?: number;
  dlqMark: number;
  deadLettered: number;
  snapshot: Uint8Array;
  /** Empty unless this checkpoint carries the topic's alert state. */
  alertState: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

function writeEnvelope(envelope: Envelope): Uint8Array {
  const w = new ByteWriter(envelope.snapshot.length + envelope.alertState.length + 48);
  w.u32(ENVELOPE_MAGIC);
  w.u8(ENVELOPE_VERSION);
  w.f64(envelope.dlqMark);
  w.f64(envelope.deadLettered);
  w.bytes(envelope.snapshot, envelope.snapshot.length);
  w.bytes(envelope.alertState, envelope.alertState.length);
  w.f64(envelope.snapshotOffset!);
  return w.finish();
}

function readEnvelope(bytes: Uint8Array, where: string): Envelope {
  const r = new ByteReader(bytes);
  if (r.remaining < 5 || r.u32() !== ENVELOPE_MAGIC) {
    throw new StreamError(
      StreamErrorCode.snapshotCorrupt,
      `checkpoint of ${where} is not a Pulse stream-job checkpoint (bad magic)`,
    );
  }
  const version = r.u8();
  if (version !== 1 && version !== 2 && version !== ENVELOPE_VERSION) {
    throw new StreamError(
      StreamErrorCode.snapshotMismatch,
      `checkpoint of ${where} has job-envelope version ${version}; this Pulse reads versions 1 to ${ENVELOPE_VERSION}`,
    );
  }
  const dlqMark = r.f64();
  const deadLettered = r.f64();
  const snapshot = r.bytes();
  const alertState = version >= 2 ? r.bytes() : NO_BYTES;
  const snapshotOffset = version >= 3 ? r.f64() : undefined;
  if (r.remaining !== 0) {
    throw new StreamError(StreamErrorCode.snapshotCorrupt, `checkpoint of ${where} has trailing bytes`);
  }
  return { snapshotOffset, dlqMark, deadLettered, snapshot, alertState };
}

/** Alerts are JSON (UTF-8) on the log, keyed by series; the store row is the same object. */
function encodeAlert(alert: AlertRow): Buffer {
  return Buffer.from(JSON.stringify(alert), "utf8");
}

// ---------------------------------------------------------------------------------------------------
// Per-topic pipelines

/** Rows of one micro-batch, gathered over all topics before the one store commit. */
interface BatchRows {
  activityWindows: ActivityWindowRow[];
  activityDaily: ActivityWindowRow[];
  wikiWindows: WikiWindowRow[];
  wikiDaily: WikiWindowRow[];
  topPages: TopPagesRow[];
  lateEvents: LateEventRow[];
  checkpoints: Checkpoint[];
}

/**
 * What one micro-batch gathers while it reads records, before its store commit: one object a batch, so
 * the record loop (StreamJob.#applyRecords) is a small synchronous function the JIT optimises early.
 */
class BatchState {
  readonly rows: BatchRows = {
    activityWindows: [],
    activityDaily: [],
    wikiWindows: [],
    wikiDaily: [],
    topPages: [],
    lateEvents: [],
    checkpoints: [],
  };
  /** What #report shows of the batch. */
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

class PartitionCursor {
  readonly partition: number;
  readonly dlqPartition: number;
  nextOffset = 0;
  highWatermark = 0;
  dlqMark = 0;
  /** The mark to keep persisting until the job has read past every recovered dead letter. */
  recoveryMark = 0;
  /** Source offsets this job had dead-lettered beyond its checkpoint (a crash between produce and commit). */
  recovered = new Set<number>();
  recoveredMax = -1;
  deadLettered = 0;
  /** Read or changed since the last commit: needs a new checkpoint. */
  dirty = false;
  /** The offset last committed to the log's consumer group (for lag display), −1 before any. */
  groupOffset = -1;
  /** The nextOffset of this partition's checkpoint in the store as this job last saw it (null: none). */
  storedOffset: number | null = null;
  /** Offsets below this are committed already (a replay from an older state): no lake or late rows. */
  replayUntil = 0;
  /** The offset the stored state covers (−1: none stored). */
  snapshotOffset = -1;

  /** Moves the read position to `offset` (raising the high watermark seen); the next commit records it. */
  advanceTo(offset: number): void {
    this.nextOffset = offset;
    if (offset > this.highWatermark) this.highWatermark = offset;
    this.dirty = true;
  }

  /** The next offset a checkpoint records: a replay below replayUntil does not move it back. */
  get committedOffset(): number {
    return Math.max(this.nextOffset, this.replayUntil);
  }
  /** The alert state this partition's checkpoint held, kept as is while the alerter is paused. */
  restoredAlertState: Uint8Array = NO_BYTES;

  constructor(partition: number, dlqPartition: number) {
    this.partition = partition;
    this.dlqPartition = dlqPartition;
  }

  /**
   * The mark safe to persist with a checkpoint at nextOffset (see the envelope comment); once
   * nextOffset has passed every recovered dead letter, forgets them and moves to the current mark.
   */
  persistedMark(): number {
    if (this.recoveredMax >= 0 && this.nextOffset > this.recoveredMax) {
      this.recovered.clear();
      this.recoveredMax = -1;
    }
    return this.recoveredMax >= 0 ? this.recoveryMark : this.dlqMark;
  }
}

interface PipelineSpec<E> {
  topic: string;
  readerType: AvroType;
  /** Semantic rules only: a record decoded with the reader schema already has the contract's shape. */
  validate(event: E, options: ValidateOptions): ValidationResult<E>;
  eventTimeMs(event: E): number;
}

abstract class Pipeline<E, A extends Accumulator, R, S> {
  readonly topic: string;
  readonly dlqTopic: string;
  readonly spec: PipelineSpec<E>;
  readonly aggregator: WindowedAggregator<E, A, R, S>;
  cursors: PartitionCursor[] = [];
  /** Rotates which partition a batch reads first, so one busy partition cannot starve the others. */
  firstCursor = 0;
  deadLetterEncoder: Encoder<DeadLetter> | undefined;
  dlqCheckedAtMs = 0;
  /** Undefined when anomaly detection is off, or paused while another member scores the topic. */
  alerter: WindowAlerter<R & WindowRowFields> | undefined;
  /** Whether the alerter is fed every member's rows from the store (a scaled-out alert owner). */
  alertsFromStore = false;
  /** performance.now() of the alert owner's last look in the store. */
  alertsPolledAtMs = Number.NEGATIVE_INFINITY;
  /** `series\0window_start` of alerts this job produced beyond its checkpoint (crash before commit). */
  alertsRecovered = new Set<string>();
  alertsRecoveredMaxStart = Number.NEGATIVE_INFINITY;
  /** The alerts mark to keep persisting until the alerter has re-scored every recovered alert's window. */
  alertsRecoveryMark = 0;
  /** performance.now() of the last batch that wrote this pipeline's state. */
  snapshotAtMs = Number.NEGATIVE_INFINITY;

  constructor(spec: PipelineSpec<E>, aggregator: WindowedAggregator<E, A, R, S>) {
    this.topic = spec.topic;
    this.dlqTopic = deadLetterTopic(spec.topic);
    this.spec = spec;
    this.aggregator = aggregator;
  }

  /** The mark safe to persist (see StreamJob: alerts, exactly once); forgets recovered alerts once passed. */
  persistedAlertsMark(): number {
    const alerter = this.alerter!;
    if (this.alertsRecovered.size > 0 && alerter.observedThroughMs >= this.alertsRecoveredMaxStart) {
      this.alertsRecovered.clear();
      this.alertsRecoveredMaxStart = Number.NEGATIVE_INFINITY;
    }
    return this.alertsRecovered.size > 0 ? this.alertsRecoveryMark : alerter.alertsMark;
  }

  /** Moves a flush's rows into the batch. */
  abstract sink(flush: FlushResult<R, S>, rows: BatchRows): void;

  /** The window rows finalWindowStarts reads for this topic. */
  abstract readonly windowRows: WindowRows;

  /** The store's window rows in `range`, per partition, as the alerter reads them. */
  abstract storedWindows(store: LiveStore, range: WindowRange): Promise<Array<R & WindowRowFields>>;

  /** The record's value located as a frame the aggregate reads without decoding it; undefined for none. */
  frameOf(_value: Uint8Array | null, _serde: AvroSerde): ActivityFrame | undefined {
    return undefined;
  }
}

class ActivityPipeline extends Pipeline<UserActivity, ActivityAccumulator, ActivityRow, never> {
  readonly #frame = new ActivityFrame();
  /** Whether each writer schema id seen is UserActivity v2, the layout ActivityFrame reads. */
  readonly #v2Ids = new Map<number, boolean>();

  /**
   * The value as an ActivityFrame when it was written with UserActivity v2 (what Pulse's producers
   * write), so decoding, validation, dedup and interning read its bytes and make no strings. Any other
   * writer schema, a schema not cached yet, or bytes that are not one v2 value take the decoding path.
   */
  override frameOf(value: Uint8Array | null, serde: AvroSerde): ActivityFrame | undefined {
    const id = frameSchemaId(value);
    if (value === null || id < 0) return undefined;
    let v2 = this.#v2Ids.get(id);
    if (v2 === undefined) {
      const writer = serde.cachedWriterType(id);
      if (writer === undefined) return undefined;
      v2 = writer.equals(userActivityV2Type);
      this.#v2Ids.set(id, v2);
    }
    return v2 && this.#frame.read(value) ? this.#frame : undefined;
  }

  readonly windowRows = "activity";

  async storedWindows(store: LiveStore, range: WindowRange): Promise<ActivityRow[]> {
    return (await store.activityWindowRows(range)).map((row) => ({
      ...row,
      revenue: row.revenue_cents / 100,
    }));
  }

  sink(flush: FlushResult<ActivityRow, never>, rows: BatchRows): void {
    for (const row of flush.windows) rows.activityWindows.push(row);
    for (const row of flush.days) rows.activityDaily.push(row);
  }
}

class WikimediaPipeline extends Pipeline<WikimediaRecentChange, WikiAccumulator, WikiRow, TopPagesRow> {
  readonly windowRows = "wikimedia";

  storedWindows(store: LiveStore, range: WindowRange): Promise<WikiRow[]> {
    return store.wikiWindowRows(range);
  }

  sink(flush: FlushResult<WikiRow, TopPagesRow>, rows: BatchRows): void {
    for (const row of flush.windows) rows.wikiWindows.push(row);
    for (const row of flush.days) rows.wikiDaily.push(row);
    for (const row of flush.summaries) rows.topPages.push(row);
  }
}

interface WindowRowFields {
  partition: number;
  window_start: number;
}

const ACTIVITY_SERIES: SeriesSpec<ActivityRow> = {
  prefix: "activity",
  metric: "event_count",
  key: (row) => row.event_type,
  value: (row) => row.event_count,
};

const WIKIMEDIA_SERIES: SeriesSpec<WikiRow> = {
  prefix: "wikimedia",
  metric: "edits",
  key: (row) => row.wiki,
  value: (row) => row.edits,
};

// biome-ignore lint/suspicious/noExplicitAny: a job holds pipelines of different event types side by side.
type AnyPipeline = Pipeline<any, any, any, any>;

function alertKey(alert: AlertRow): string {
  return `${alert.series}\u0000${alert.window_start}`;
}

function finiteOrNull(ms: number): number | null {
  return Number.isFinite(ms) ? ms : null;
}

// ---------------------------------------------------------------------------------------------------
// The job

/**
 * Reads its topics in micro-batches and applies each batch to the live store exactly once.
 *
 * One batch: fetch from each partition's checkpointed offset → decode (Avro via the registry) →
 * validate → aggregate, collecting late and raw events → produce the batch's dead letters → flush →
 * ONE store.commit holding the rows, the late and raw events and a checkpoint per changed partition
 * (next offset + operator snapshot) → commit the group offsets to the log (only for lag display).
 *
 * Dead letters go to a different system (the log) than the checkpoint (the store), so they cannot
 * share its transaction. They are produced before the store commit and made idempotent on replay:
 * each goes to the dead-letter partition `partition mod dlqPartitions`, tagged with this job's name,
 * and the checkpoint records a mark in that partition below every dead letter not yet covered by the
 * checkpoint. After a crash, start() scans the dead-letter partition from the mark and collects the
 * source offsets this job already dead-lettered; the replayed batch skips producing those again.
 * Produce is durable before the commit starts, so no dead letter is lost either: exactly once.
 *
 * Alerts (WindowAlerter, one per topic) follow the same protocol on the `alerts` topic: produced before
 * the commit, a mark in the checkpoint, recovered on start. The alerter's state rides in the checkpoint
 * of each topic's lowest partition (see the envelope comment and docs/speed-layer.md).
 */
export class StreamJob {
  readonly job: string;
  readonly window: WindowSpec;
  readonly #options: StreamJobOptions;
  readonly #log: Log;
  readonly #serde: AvroSerde;
  readonly #store: LiveStore;
  #pipelines: AnyPipeline[] = [];
  readonly #topicNames: string[];
  readonly #aggregatorOptions: { window: WindowSpec; outOfOrdernessMs: number; allowedLatenessMs: number };
  readonly #scaleOut: boolean;
  #member: GroupMember | undefined;
  /** The group generation the pipelines were loaded for. */
  #appliedGeneration = -1;
  readonly #maxBatchRecords: number;
  /** Whether the batch budget adapts to the commit cost (no maxBatchRecords given). */
  readonly #adaptiveBudget: boolean;
  /** Records the next batch may read. */
  #budget: number;
  readonly #rawLake: boolean;
  /** The raw lake's rows of the batch being built, as encoded runs (reset at each batch). */
  readonly #rawRuns = new RawRunWriter();
  readonly #pollIntervalMs: number;
  readonly #storedAlertsPollMs: number;
  readonly #checkpointIntervalMs: number;
  /** performance.now() of the last group-offset commit and high-watermark read. */
  #lagRefreshedAtMs = Number.NEGATIVE_INFINITY;
  readonly #maxFutureSkewMs: number;
  readonly #nowMs: () => number;
  readonly #jobHeader: Buffer;
  #started: Promise<void> | undefined;
  #batchId = 0;
  #lastCommitAtMs: number | undefined;
  #progress: StreamProgress | undefined;
  #read = 0;
  readonly #finalWindows = new Set<string>();
  /** The job watermark before an end-of-input advance, for the run summary. */
  #lastFiniteWatermarkMs = Number.NEGATIVE_INFINITY;
  #drained = false;
  /** The signal of the running run() or drain(): ends a commit retry loop. */
  #signal: AbortSignal | undefined;
  readonly #startedAtMs = performance.now();
  /** performance.now() at the start of the first batch that read a record. */
  #firstReadAtMs: number | undefined;

  constructor(options: StreamJobOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#serde = options.serde;
    this.#store = options.store;
    this.job = options.job ?? DEFAULT_JOB_NAME;
    if (this.job.trim() === "") {
      throw new StreamError(StreamErrorCode.badOption, "the stream job name must not be empty");
    }
    this.#jobHeader = Buffer.from(this.job, "utf8");
    this.window = options.window ?? tumblingWindow(60_000);
    this.#maxBatchRecords = positiveInt(
      "maxBatchRecords",
      options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS,
    );
    this.#adaptiveBudget = options.maxBatchRecords === undefined;
    this.#budget = this.#maxBatchRecords;
    this.#rawLake = options.rawLake ?? true;
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#storedAlertsPollMs = options.storedAlertsPollMs ?? DEFAULT_STORED_ALERTS_POLL_MS;
    if (!(this.#storedAlertsPollMs >= 0)) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `storedAlertsPollMs must be a number of ms ≥ 0, got ${this.#storedAlertsPollMs}`,
      );
    }
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    if (!Number.isSafeInteger(this.#checkpointIntervalMs) || this.#checkpointIntervalMs < 0) {
      throw new StreamError(
        StreamErrorCode.badOption,
        `checkpointIntervalMs must be a whole number of ms ≥ 0, got ${this.#checkpointIntervalMs}`,
      );
    }
    this.#maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
    this.#nowMs = options.nowMs ?? Date.now;
    const aggregatorOptions = {
      window: this.window,
      outOfOrdernessMs: options.outOfOrdernessMs ?? DEFAULT_OUT_OF_ORDERNESS_MS,
      allowedLatenessMs: options.allowedLatenessMs ?? 0,
    };
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
    this.#topicNames = [...new Set(topics)];
    this.#aggregatorOptions = aggregatorOptions;
    this.#scaleOut = options.scaleOut ?? this.#log.joinGroup !== undefined;
    if (this.#scaleOut && this.#log.joinGroup === undefined) {
      throw new StreamError(
        StreamErrorCode.badOption,
        "scale-out needs a log with consumer groups (Kafka); the embedded log has one reader per job",
      );
    }
    this.#pipelines = this.#buildPipelines();
  }

  /** Fresh pipelines (empty state) for every topic; #load fills them from the checkpoints. */
  #buildPipelines(): AnyPipeline[] {
    const options = this.#options;
    const aggregatorOptions = this.#aggregatorOptions;
    const pipelines: AnyPipeline[] = [];
    for (const topic of this.#topicNames) {
      if (topic === TOPICS.activity) {
        pipelines.push(
          new ActivityPipeline(
            {
              topic,
              readerType: userActivityV2Type,
              validate: validateActivityRules,
              eventTimeMs: (e) => e.event_time,
            },
            createActivityAggregator(aggregatorOptions),
          ),
        );
      } else {
        pipelines.push(
          new WikimediaPipeline(
            {
              topic,
              readerType: wikimediaRecentChangeType,
              validate: validateRecentChangeRules,
              eventTimeMs: (e) => e.meta.dt,
            },
            createWikimediaAggregator({ ...aggregatorOptions, topN: options.topPages }),
          ),
        );
      }
    }
    if (options.anomaly !== false) {
      const alerterOptions = {
        window: this.window,
        allowedLatenessMs: aggregatorOptions.allowedLatenessMs,
        detector: { nowMs: this.#nowMs, ...options.anomaly },
      };
      for (const pipeline of pipelines) {
        pipeline.alerter =
          pipeline instanceof ActivityPipeline
            ? new WindowAlerter(ACTIVITY_SERIES, alerterOptions)
            : new WindowAlerter(WIKIMEDIA_SERIES, alerterOptions);
      }
    }
    return pipelines;
  }

  get topics(): string[] {
    return [...this.#topicNames];
  }

  /** The partitions of each topic this job processes now (all of them unless it scales out). */
  assignment(): Map<string, number[]> {
    return new Map(this.#pipelines.map((p) => [p.topic, p.cursors.map((c) => c.partition)]));
  }

  /** Records read by this run so far. */
  get recordsRead(): number {
    return this.#read;
  }

  /** The last committed batch's progress (undefined before the first commit). */
  progress(): StreamProgress | undefined {
    return this.#progress;
  }

  /** True when the job is a member of the log's consumer group (it may own only some partitions). */
  get scalesOut(): boolean {
    return this.#scaleOut;
  }

  /** True when a restored checkpoint says the job was drained before: new records of it will be late. */
  wasDrained(): boolean {
    return this.#pipelines.some((p) =>
      p.aggregator.progress().partitions.some((q) => q.watermarkMs === Number.POSITIVE_INFINITY),
    );
  }

  /** Loads checkpoints, restores state and recovers dead-letter positions; idempotent. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#scaleOut) {
      this.#member = await this.#log.joinGroup!(this.job, this.#topicNames);
      await this.#member.ready();
      this.#appliedGeneration = this.#member.generation;
    }
    await this.#load();
  }

  /**
   * Between batches: when the group moved partitions, drops every pipeline's state and loads the
   * new assignment from the store's checkpoints (each covers its partition's last committed batch, and
   * nothing is in flight now). Returns true when it reloaded.
   */
  async #syncAssignment(signal?: AbortSignal): Promise<boolean> {
    const member = this.#member;
    if (member === undefined || member.generation === this.#appliedGeneration) return false;
    // Revoked while the group rebalances: own nothing until the new assignment arrives.
    const aborted = new Promise<void>((resolve) =>
      signal?.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.race([member.ready(), aborted]);
    this.#appliedGeneration = member.generation;
    await this.#reload();
    return true;
  }

  /** Drops all state and loads the owned partitions again, retrying while the store or the log is down. */
  async #reload(): Promise<void> {
    await this.#retrying(async () => {
      this.#pipelines = this.#buildPipelines();
      await this.#load();
    });
  }

  /** Loads the owned partitions' checkpoints into fresh pipelines and recovers dead letters and alerts. */
  async #load(): Promise<void> {
    await this.#loadPartitions();
    this.#options.onAssignment?.(this.assignment());
  }

  async #loadPartitions(): Promise<void> {
    const alertsInfo = this.#pipelines.some((p) => p.alerter !== undefined)
      ? await this.#log.ensureTopic({ name: TOPICS.alerts, partitions: 1 })
      : undefined;
    for (const pipeline of this.#pipelines) {
      const info = await this.#log.describeTopic(pipeline.topic);
      const dlqInfo = await this.#log.ensureTopic({ name: pipeline.dlqTopic, partitions: info.partitions });
      pipeline.deadLetterEncoder = await this.#serde.encoder<DeadLetter>(
        subjectFor(pipeline.dlqTopic),
        SCHEMA_TEXTS.deadLetter,
      );
      const checkpoints = new Map(
        (await this.#store.checkpoints(this.job, pipeline.topic)).map((c) => [c.partition, c]),
      );
      const owned =
        this.#member === undefined
          ? info.offsets
          : info.offsets.filter((o) => this.#member!.assigned(pipeline.topic).includes(o.partition));
      // The alerter scores windows final over the whole topic. A job owning every partition feeds it its
      // own rows. In a scaled-out group the owner of partition 0, whose checkpoint carries the alert
      // state, feeds it every member's committed rows from the store; the others leave it alone
      // (docs/at-scale.md).
      const ownsAll = owned.length === info.offsets.length;
      if (!ownsAll && !owned.some((o) => o.partition === 0)) pipeline.alerter = undefined;
      pipeline.alertsFromStore = !ownsAll && pipeline.alerter !== undefined;
      pipeline.alertsPolledAtMs = Number.NEGATIVE_INFINITY;
      pipeline.aggregator.assign(owned.map((o) => o.partition));
      let alertStateFound = false;
      for (const offsets of [...owned].sort((a, b) => a.partition - b.partition)) {
        const p = offsets.partition;
        const cursor = new PartitionCursor(p, p % dlqInfo.partitions);
        const dlqOffsets = dlqInfo.offsets[cursor.dlqPartition]!;
        const checkpoint = checkpoints.get(p);
        let scanFrom = dlqOffsets.lowWatermark;
        if (checkpoint !== undefined) {
          const envelope = readEnvelope(checkpoint.state, `${pipeline.topic}[${p}] of job ${this.job}`);
          pipeline.aggregator.restore(p, envelope.snapshot);
          cursor.snapshotOffset = envelope.snapshotOffset ?? checkpoint.nextOffset;
          cursor.nextOffset = cursor.snapshotOffset;
          cursor.replayUntil = checkpoint.nextOffset;
          cursor.storedOffset = checkpoint.nextOffset;
          cursor.deadLettered = envelope.deadLettered;
          scanFrom = envelope.dlqMark;
          cursor.restoredAlertState = envelope.alertState;
          // The lowest partition's checkpoint carries it; if partitions were added, any one that has it.
          if (pipeline.alerter !== undefined && envelope.alertState.length > 0 && !alertStateFound) {
            pipeline.alerter.restore(envelope.alertState, `${pipeline.topic}[${p}] of job ${this.job}`);
            alertStateFound = true;
          }
        } else {
          cursor.nextOffset = offsets.lowWatermark;
        }
        cursor.highWatermark = offsets.highWatermark;
        await this.#recoverDeadLetters(pipeline, cursor, scanFrom, dlqOffsets.highWatermark);
        pipeline.cursors.push(cursor);
      }
      const alerter = pipeline.alerter;
      if (alerter !== undefined && !pipeline.alertsFromStore && Number.isFinite(alerter.observedThroughMs)) {
        // Owning every partition, the alerter reads this job's flushes. A partition that finished a window
        // while another member owned it, or before this job's restored state, will not flush it again:
        // its final rows come from the store (the flushes replace any a replay emits anew).
        const from = this.#unscoredFrom(alerter);
        const finals = await this.#store.finalWindowStarts(pipeline.windowRows, this.window.sizeMs, from);
        const newest = Math.max(Number.NEGATIVE_INFINITY, ...finals.values());
        if (Number.isFinite(newest)) {
          const rows = await this.#storedRows(pipeline, from, newest);
          alerter.addRows(rows.filter((row) => row.final));
        }
      }
      if (pipeline.alerter !== undefined && alertsInfo !== undefined) {
        const alertsOffsets = alertsInfo.offsets[ALERTS_PARTITION]!;
        const scanFrom = alertStateFound ? pipeline.alerter.alertsMark : alertsOffsets.lowWatermark;
        await this.#recoverAlerts(pipeline, scanFrom, alertsOffsets.highWatermark);
      }
    }
  }

  /**
   * Finds the alerts this job produced for the pipeline's series at or after `scanFrom` for windows the
   * restored alerter has not scored yet: their batch did not commit, so the replay scores those windows
   * again and must not produce them twice.
   */
  async #recoverAlerts(pipeline: AnyPipeline, scanFrom: number, highWatermark: number): Promise<void> {
    const alerter = pipeline.alerter!;
    pipeline.alertsRecoveryMark = scanFrom;
    alerter.alertsMark = highWatermark;
    const prefix = `${alerter.spec.prefix}.`;
    let next = scanFrom;
    while (next < highWatermark) {
      const records = await this.#log.fetch(TOPICS.alerts, ALERTS_PARTITION, next, {
        maxRecords: Math.min(DLQ_SCAN_BATCH, highWatermark - next),
      });
      if (records.length === 0) break;
      for (const record of records) {
        const tag = record.headers[JOB_HEADER];
        if (tag === undefined || !tag.equals(this.#jobHeader) || record.value === null) continue;
        const alert = JSON.parse(asBuffer(record.value).toString("utf8")) as AlertRow;
        if (!alert.series.startsWith(prefix) || alert.window_start <= alerter.observedThroughMs) continue;
        pipeline.alertsRecovered.add(alertKey(alert));
        if (alert.window_start > pipeline.alertsRecoveredMaxStart) {
          pipeline.alertsRecoveredMaxStart = alert.window_start;
        }
      }
      next = records[records.length - 1]!.offset + 1;
    }
  }

  /**
   * Finds the dead letters this job wrote for the cursor's partition at or after `scanFrom`: they belong
   * to a batch whose store commit did not happen, so their source offsets are re-read; the replay must
   * not produce them again.
   */
  async #recoverDeadLetters(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    scanFrom: number,
    dlqHighWatermark: number,
  ): Promise<void> {
    cursor.recoveryMark = scanFrom;
    cursor.dlqMark = dlqHighWatermark;
    let next = scanFrom;
    while (next < dlqHighWatermark) {
      const records = await this.#log.fetch(pipeline.dlqTopic, cursor.dlqPartition, next, {
        maxRecords: Math.min(DLQ_SCAN_BATCH, dlqHighWatermark - next),
      });
      if (records.length === 0) break;
      for (const record of records) {
        const tag = record.headers[JOB_HEADER];
        if (tag === undefined || !tag.equals(this.#jobHeader)) continue;
        const letter = await this.#serde.decode<DeadLetter>(record.value);
        if (
          letter.source_topic !== pipeline.topic ||
          letter.source_partition !== cursor.partition ||
          letter.source_offset === null ||
          letter.source_offset < cursor.nextOffset
        ) {
          continue;
        }
        cursor.recovered.add(letter.source_offset);
        if (letter.source_offset > cursor.recoveredMax) cursor.recoveredMax = letter.source_offset;
      }
      next = records[records.length - 1]!.offset + 1;
    }
  }

  /** Runs micro-batches until `signal` aborts; the batch in flight finishes and commits first. */
  async run(signal: AbortSignal): Promise<StreamRunSummary> {
    this.#signal = signal;
    await this.start();
    while (!signal.aborted) {
      await this.#syncAssignment(signal);
      const read = await this.#fenced(() => this.#batch(undefined, false));
      // The embedded log and store answer synchronously, so without this the loop would never let
      // timers and signal handlers (Ctrl-C, the status line) run.
      await yieldToEventLoop();
      if (read > 0) continue;
      await this.#refreshDeadLetterMarks();
      try {
        await sleep(this.#pollIntervalMs, undefined, { signal });
      } catch {
        // Aborted while idle: nothing in flight.
      }
    }
    await this.#checkpointState();
    await this.#member?.leave();
    return this.summary();
  }

  /**
   * Bounded input: processes every record below the high watermarks seen now, then advances every
   * watermark to the end (as Flink does at the end of a bounded source), so the last flush makes
   * every window final, and commits. An abort stops after the batch in flight, without the advance.
   */
  async drain(signal?: AbortSignal): Promise<StreamRunSummary> {
    this.#signal = signal;
    await this.start();
    let targets = await this.#drainTargets();
    while (signal?.aborted !== true) {
      if (await this.#syncAssignment(signal)) targets = await this.#drainTargets();
      const read = await this.#fenced(() => this.#batch(targets, false));
      if (read < 0) targets = await this.#drainTargets();
      await yieldToEventLoop();
      if (read === 0) break;
    }
    if (signal?.aborted === true) {
      await this.#checkpointState();
      await this.#member?.leave();
      return this.summary();
    }
    for (const pipeline of this.#pipelines) {
      pipeline.aggregator.advanceToEnd();
      for (const cursor of pipeline.cursors) cursor.dirty = true;
    }
    await this.#batch(targets, true);
    this.#drained = true;
    await this.#member?.leave();
    return this.summary();
  }

  /**
   * On a stop: commits every partition's state where it is, reading nothing more, so a restart needs
   * no replay. Best effort: a store that is down now leaves the last state checkpoint, which is enough.
   */
  async #checkpointState(): Promise<void> {
    if (this.#started === undefined) return;
    try {
      await this.#batch(undefined, true, false);
    } catch {
      // The rows and offsets are committed; only the replay on restart gets longer.
    }
  }

  /** Each owned partition's high watermark now: where a drain stops. */
  async #drainTargets(): Promise<Map<PartitionCursor, number>> {
    const targets = new Map<PartitionCursor, number>();
    for (const pipeline of this.#pipelines) {
      const info = await this.#log.describeTopic(pipeline.topic);
      for (const cursor of pipeline.cursors) {
        targets.set(cursor, info.offsets[cursor.partition]?.highWatermark ?? cursor.nextOffset);
      }
    }
    return targets;
  }

  summary(): StreamRunSummary {
    return {
      read: this.#read,
      totals: this.#totals(),
      windowsFinal: this.#finalWindows.size,
      watermarkMs: finiteOrNull(this.#lastFiniteWatermarkMs),
      drained: this.#drained,
      elapsedMs: performance.now() - this.#startedAtMs,
      readingMs: this.#firstReadAtMs === undefined ? null : performance.now() - this.#firstReadAtMs,
    };
  }

  #totals(): StreamTotals {
    const totals: StreamTotals = {
      input: 0,
      accepted: 0,
      partiallyLate: 0,
      late: 0,
      duplicates: 0,
      deadLettered: 0,
    };
    for (const pipeline of this.#pipelines) {
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

  /**
   * One micro-batch. `limits` caps each partition's reads (drain); `final` commits even with nothing
   * read (the end-of-input flush, a stop) and writes every partition's state; `readRecords` false reads
   * nothing (a stop). Returns the number of records read.
   */
  async #batch(
    limits: Map<PartitionCursor, number> | undefined,
    final: boolean,
    readRecords = true,
  ): Promise<number> {
    const startedAtMs = performance.now();
    const nowMs = this.#nowMs();
    // The raw lake's rows go straight into encoded runs (no object per row); the last batch's runs
    // are committed by now, so their bytes can be written over.
    const raw = this.#rawRuns;
    raw.reset();
    const state = new BatchState(nowMs, this.#maxFutureSkewMs);
    const { rows } = state;
    let read = 0;
    /** Whether a partition's position moved past records no reader sees, with nothing read. */
    let moved = false;
    let fetchMs = 0;
    const fullBudget = readRecords ? this.#budget : 0;
    let budget = fullBudget;

    for (const pipeline of this.#pipelines) {
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
        const records = await this.#log.fetch(pipeline.topic, cursor.partition, cursor.nextOffset, {
          maxRecords: want,
        });
        fetchMs += performance.now() - fetchStartedMs;
        // Past records no reader sees (Kafka's transaction markers): a partition that ends with one is
        // read to its high watermark, so it counts as caught up and shows no lag.
        const position = this.#log.position?.(pipeline.topic, cursor.partition);
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
        let at = this.#applyRecords(pipeline, cursor, records, 0, state);
        while (at < records.length) {
          const record = records[at]!;
          this.#applyDecoded(pipeline, cursor, record, await this.#decodeFetching(pipeline, record), state);
          at = this.#applyRecords(pipeline, cursor, records, at + 1, state);
        }
        cursor.advanceTo(Math.max(records[records.length - 1]!.offset + 1, position ?? 0));
      }
    }
    // A position moved past unseen records is committed too: the checkpoint shows the partition caught up.
    if (read === 0 && !moved && !final && !this.#pipelines.some((p) => this.#storedAlertsDue(p))) return 0;
    if (read > 0) this.#firstReadAtMs ??= startedAtMs;
    const processedAtMs = performance.now();

    // Dead letters are durable on the log before the store commit that moves past their offsets.
    for (const [pipeline, { records, cursors }] of state.dlqByPipeline) {
      const positions = await this.#log.produce(pipeline.dlqTopic, records);
      for (let i = 0; i < positions.length; i++) {
        const cursor = cursors[i]!;
        cursor.dlqMark = Math.max(cursor.dlqMark, positions[i]!.offset + 1);
      }
    }
    const deadLetteredAtMs = performance.now();

    let rowsWritten = 0;
    const alerts: AlertRow[] = [];
    const alertsByPipeline = new Map<AnyPipeline, AlertRow[]>();
    for (const pipeline of this.#pipelines) {
      const flush = pipeline.aggregator.flush();
      const before = rowCount(rows);
      pipeline.sink(flush, rows);
      rowsWritten += rowCount(rows) - before;
      for (const row of flush.windows as Array<{ window_start: number; final: boolean }>) {
        if (row.final) this.#finalWindows.add(`${pipeline.topic}\u0000${row.window_start}`);
      }
      const alerter = pipeline.alerter;
      if (alerter !== undefined) {
        let raised: AlertRow[] = [];
        if (!pipeline.alertsFromStore) {
          alerter.addRows(flush.windows);
          raised = alerter.observeFinal(pipeline.aggregator.watermark());
        } else if (final || this.#storedAlertsDue(pipeline)) {
          raised = await this.#scoreStoredWindows(pipeline);
        }
        if (raised.length > 0) {
          for (const alert of raised) alerts.push(alert);
          alertsByPipeline.set(pipeline, raised);
        }
      }
    }
    // Like dead letters: durable on the log before the store commit that covers their windows.
    for (const [pipeline, raised] of alertsByPipeline) {
      const fresh = raised.filter((a) => !pipeline.alertsRecovered.has(alertKey(a)));
      if (fresh.length === 0) continue;
      const positions = await this.#log.produce(
        TOPICS.alerts,
        fresh.map((alert) => ({
          key: Buffer.from(alert.series, "utf8"),
          value: encodeAlert(alert),
          headers: { [JOB_HEADER]: this.#jobHeader },
          partition: ALERTS_PARTITION,
        })),
      );
      const alerter = pipeline.alerter!;
      alerter.alertsMark = Math.max(alerter.alertsMark, positions[positions.length - 1]!.offset + 1);
    }
    for (const pipeline of this.#pipelines) {
      const alerter = pipeline.alerter;
      // A pipeline writes the state of all its partitions and its alerter in one batch, so a restore
      // starts every partition and the alerter (whose windows span partitions) from one moment.
      const snapshot =
        final ||
        startedAtMs - pipeline.snapshotAtMs >= this.#checkpointIntervalMs ||
        pipeline.cursors.some((c) => c.dirty && c.storedOffset === null);
      if (snapshot) pipeline.snapshotAtMs = startedAtMs;
      // The alert state rides in the lowest partition's checkpoint (cursors are sorted by partition).
      const carrier = snapshot && alerter?.changed ? pipeline.cursors[0] : undefined;
      if (carrier !== undefined) carrier.dirty = true;
      for (const cursor of pipeline.cursors) {
        const stale = snapshot && cursor.snapshotOffset !== cursor.nextOffset;
        if (!cursor.dirty && !stale) continue;
        cursor.dirty = true;
        const carries = alerter !== undefined && cursor === pipeline.cursors[0];
        rows.checkpoints.push({
          job: this.job,
          topic: pipeline.topic,
          partition: cursor.partition,
          nextOffset: cursor.committedOffset,
          state: snapshot
            ? writeEnvelope({
                snapshotOffset: cursor.nextOffset,
                dlqMark: cursor.persistedMark(),
                deadLettered: cursor.deadLettered,
                snapshot: pipeline.aggregator.snapshot(cursor.partition),
                alertState: carries
                  ? alerterState(pipeline)
                  : alerter === undefined && this.#member !== undefined
                    ? cursor.restoredAlertState
                    : NO_BYTES,
              })
            : undefined,
          updatedAt: nowMs,
          expectedNextOffset: cursor.storedOffset,
        });
        if (snapshot) cursor.snapshotOffset = cursor.nextOffset;
      }
      if (snapshot && alerter !== undefined) alerter.changed = false;
    }
    const batch: StoreBatch = {
      activityWindows: rows.activityWindows,
      activityDaily: rows.activityDaily,
      wikiWindows: rows.wikiWindows,
      wikiDaily: rows.wikiDaily,
      topPages: rows.topPages,
      lateEvents: rows.lateEvents,
      rawRuns: raw.runs(),
      alerts,
      checkpoints: rows.checkpoints,
    };
    if (rows.checkpoints.length > 0 || rowsWritten > 0 || alerts.length > 0) {
      await this.#retrying(() => this.#store.commit(batch));
      this.#options.onCommitted?.(batch);
    }
    for (const pipeline of this.#pipelines) {
      for (const cursor of pipeline.cursors) {
        if (!cursor.dirty) continue;
        cursor.dirty = false;
        cursor.storedOffset = cursor.committedOffset;
      }
    }
    const refreshLag = final || performance.now() - this.#lagRefreshedAtMs >= LAG_REFRESH_MS;
    if (refreshLag) await this.#commitGroupOffsets();
    const committedAtMs = performance.now();
    this.#read += read;
    if (refreshLag) {
      await this.refreshLag();
      this.#lagRefreshedAtMs = performance.now();
    }
    await this.#refreshDeadLetterMarks();
    if (read >= fullBudget && fullBudget > 0) {
      this.#adaptBudget(committedAtMs - deadLetteredAtMs, processedAtMs - startedAtMs);
    }
    this.#report({
      read,
      nowMs: this.#nowMs(),
      startedAtMs,
      fetchMs,
      processMs: processedAtMs - startedAtMs - fetchMs,
      deadLetterMs: deadLetteredAtMs - processedAtMs,
      commitMs: committedAtMs - deadLetteredAtMs,
      endedAtMs: committedAtMs,
      counts: state.counts,
      rowsWritten,
      alerts: alerts.length,
      minEventTimeMs: state.minEventTimeMs,
      maxEventTimeMs: state.maxEventTimeMs,
    });
    return read;
  }

  /** Whether the pipeline's alerter is fed from the store and due to look there, read or no read. */
  #storedAlertsDue(pipeline: AnyPipeline): boolean {
    return (
      pipeline.alertsFromStore && performance.now() - pipeline.alertsPolledAtMs >= this.#storedAlertsPollMs
    );
  }

  /** The first window start the alerter has not scored; the smallest safe integer before it scored any. */
  #unscoredFrom(alerter: WindowAlerter<WindowRowFields>): number {
    return Number.isFinite(alerter.observedThroughMs)
      ? alerter.observedThroughMs + this.window.slideMs
      : Number.MIN_SAFE_INTEGER;
  }

  /**
   * The committed rows, per partition, of windows starting from `from` through `through`: at most the
   * newest MAX_EMPTY_WINDOWS windows, as many as the alerter looks back over a gap.
   */
  #storedRows(
    pipeline: AnyPipeline,
    from: number,
    through: number,
  ): Promise<Array<WindowRowFields & { final: boolean }>> {
    const { sizeMs, slideMs } = this.window;
    const fromMs = Math.max(from, through - (MAX_EMPTY_WINDOWS - 1) * slideMs);
    return pipeline.storedWindows(this.#store, { windowMs: sizeMs, fromMs, toMs: through + 1 });
  }

  /**
   * A scaled-out alert owner's scoring, from every member's committed rows. Partition p has passed
   * window W when its newest final row starts at or after W (finality follows p's watermark), or when it
   * is caught up: its checkpoint has reached the log's high watermark (Flink's idleness, as the job
   * applies it to its own partitions), which a partition holding nothing always is. W is final over the
   * topic once every partition that is not caught up has passed it. When all are caught up, the windows
   * every partition holding records has passed are. Rows of this job's batch in flight are not in the
   * store yet; their windows are scored on a later look.
   */
  async #scoreStoredWindows(pipeline: AnyPipeline): Promise<AlertRow[]> {
    pipeline.alertsPolledAtMs = performance.now();
    const alerter = pipeline.alerter!;
    const { sizeMs } = this.window;
    // High watermarks first: checkpoints read after them are at least as new.
    const { offsets } = await this.#log.describeTopic(pipeline.topic);
    const committed = await this.#store.checkpointOffsets(this.job, pipeline.topic);
    const from = this.#unscoredFrom(alerter);
    const finals = await this.#store.finalWindowStarts(pipeline.windowRows, sizeMs, from);
    let active = Number.POSITIVE_INFINITY;
    let all = Number.POSITIVE_INFINITY;
    for (const { partition, lowWatermark, highWatermark } of offsets) {
      const passed = finals.get(partition) ?? Number.NEGATIVE_INFINITY;
      const caughtUp = (committed.get(partition) ?? lowWatermark) >= highWatermark;
      if (!caughtUp) active = Math.min(active, passed);
      if (highWatermark > lowWatermark || committed.has(partition)) all = Math.min(all, passed);
    }
    const through = Number.isFinite(active) ? active : all;
    if (!Number.isFinite(through) || through < from) return [];
    // Rows per partition, the newest of each: a caught-up partition's rows of a window it has not
    // finished count as they are, as the job counts its own idle partitions' rows.
    alerter.addRows(await this.#storedRows(pipeline, from, through));
    return alerter.observeFinal(through + sizeMs + this.#aggregatorOptions.allowedLatenessMs);
  }

  /**
   * After a full batch (the job is catching up): doubles the budget while the commit took longer than
   * reading and processing the batch, and halves it back towards the default while the commit took less
   * than a quarter of that. A local store stays at the default, whose smaller batches keep more of a
   * batch's garbage young; a remote store's commits are amortised over more records.
   */
  #adaptBudget(commitMs: number, workMs: number): void {
    if (!this.#adaptiveBudget) return;
    if (commitMs > workMs) this.#budget = Math.min(this.#budget * 2, MAX_ADAPTIVE_BATCH_RECORDS);
    else if (commitMs * 4 < workMs) this.#budget = Math.max(this.#budget / 2, this.#maxBatchRecords);
  }

  /**
   * Runs a batch; when the store refuses it because another member committed one of its partitions
   * meanwhile (a rebalance overlapped this batch), drops the batch and all state and reloads the owned
   * partitions from the store's checkpoints. Returns -1 after such a reload.
   */
  async #fenced(batch: () => Promise<number>): Promise<number> {
    try {
      return await batch();
    } catch (error) {
      if (!(error instanceof StoreError && error.code === StoreErrorCode.conflict)) throw error;
      this.#options.onRetry?.(error, 0, 0);
      await this.#reload();
      return -1;
    }
  }

  /**
   * Runs `operation` again while it fails with a retriable error (the store's server is down), backing
   * off from 250 ms to 5 s, until the job is stopped. For a commit this is exact: the batch is complete in
   * memory and commit is idempotent; nothing else is read meanwhile. An abort during the wait gives up
   * with the error: the checkpoint did not move, so the next run replays the batch.
   */
  async #retrying<T>(operation: () => Promise<T>): Promise<T> {
    let delayMs = 250;
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        const retriable = error instanceof PulseError && error.retriable;
        if (!retriable || this.#signal?.aborted === true) throw error;
        this.#options.onRetry?.(error, attempt, delayMs);
        try {
          await sleep(delayMs, undefined, { signal: this.#signal });
        } catch {
          throw error;
        }
        delayMs = Math.min(delayMs * 2, 5_000);
      }
    }
  }

  /**
   * Applies records[from…] to the pipeline, synchronously; returns the index of the first record whose
   * writer schema is not cached (the caller asks the registry for it), or records.length.
   */
  #applyRecords(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    records: readonly LogRecord[],
    from: number,
    state: BatchState,
  ): number {
    const validateOptions = state.validateOptions;
    const serde = this.#serde;
    for (let i = from; i < records.length; i++) {
      const record = records[i]!;
      // Future skew is judged against the record's log timestamp, not the wall clock, so a replay
      // after a crash makes the same decision as the first attempt.
      validateOptions.nowMs = record.timestampMs;
      const frame = pipeline.frameOf(record.value, serde);
      if (frame?.rulesPass(validateOptions)) {
        this.#applyEvent(pipeline, cursor, record, frame, state);
        continue;
      }
      const decoded = this.#decodeCached(pipeline, record);
      if (decoded === undefined) return i;
      this.#applyDecoded(pipeline, cursor, record, decoded, state);
    }
    return records.length;
  }

  /** Validates a decoded record and applies it, or dead-letters it with the reason. */
  #applyDecoded(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    decoded: Decoded,
    state: BatchState,
  ): void {
    let failure: { code: string; message: string };
    if (decoded.ok) {
      state.validateOptions.nowMs = record.timestampMs;
      const result = pipeline.spec.validate(decoded.value, state.validateOptions);
      if (result.ok) {
        this.#applyEvent(pipeline, cursor, record, result.value, state);
        return;
      }
      failure = { code: result.errors[0]!.code, message: describeIssues(result.errors) };
    } else {
      failure = decoded;
    }
    cursor.deadLettered++;
    state.counts.deadLettered++;
    if (cursor.recovered.has(record.offset)) return;
    let entry = state.dlqByPipeline.get(pipeline);
    if (entry === undefined) {
      entry = { records: [], cursors: [] };
      state.dlqByPipeline.set(pipeline, entry);
    }
    entry.records.push(this.#deadLetter(pipeline, cursor, record, failure, state.nowMs));
    entry.cursors.push(cursor);
  }

  /** Runs a valid event through the aggregator and routes it: counted, late output, raw lake. */
  #applyEvent(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    event: unknown,
    state: BatchState,
  ): void {
    const { aggregator, spec } = pipeline;
    const p = cursor.partition;
    const eventTimeMs = spec.eventTimeMs(event);
    if (eventTimeMs < state.minEventTimeMs) state.minEventTimeMs = eventTimeMs;
    if (eventTimeMs > state.maxEventTimeMs) state.maxEventTimeMs = eventTimeMs;
    const outcome = aggregator.process(event, p, record.offset);
    if (outcome === ProcessOutcome.duplicate) {
      state.counts.duplicates++;
      return;
    }
    if (outcome === ProcessOutcome.replayed) return;
    const stored = record.offset < cursor.replayUntil;
    if (outcome === ProcessOutcome.late) {
      state.counts.late++;
      if (stored) return;
      state.rows.lateEvents.push({
        topic: pipeline.topic,
        partition: p,
        offset: record.offset,
        event_time: eventTimeMs,
        watermark: aggregator.partitionWatermark(p),
        payload: JSON.stringify(
          event instanceof ActivityFrame ? this.#serde.decodeSync(record.value, spec.readerType) : event,
        ),
      });
    } else {
      state.counts.accepted++;
    }
    // Late events are valid events too: the batch layer needs them for exact daily totals. The lake
    // keeps the record's value as it is: validation never rewrites an event, so it is the cleaned
    // one, and copying bytes costs far less than writing the event out again.
    if (this.#rawLake && !stored) {
      this.#rawRuns.append(pipeline.topic, p, record.offset, eventTimeMs, state.nowMs, record.value!);
    }
  }

  /**
   * The hot path: decodes a frame whose writer schema is cached, without a promise per record.
   * Returns undefined when the schema id is not cached yet (#decodeFetching asks the registry).
   */
  #decodeCached(pipeline: AnyPipeline, record: LogRecord): Decoded | undefined {
    // Not a frame at all (−1): decodeSync says why.
    const id = frameSchemaId(record.value);
    if (id >= 0 && !this.#serde.hasSchema(id)) return undefined;
    try {
      return { ok: true, value: this.#serde.decodeSync(record.value, pipeline.spec.readerType) };
    } catch (error) {
      return decodeFailure(error);
    }
  }

  async #decodeFetching(pipeline: AnyPipeline, record: LogRecord): Promise<Decoded> {
    try {
      return { ok: true, value: await this.#serde.decode(record.value, pipeline.spec.readerType) };
    } catch (error) {
      return decodeFailure(error);
    }
  }

  #deadLetter(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    failure: { code: string; message: string },
    nowMs: number,
  ): ProduceRecord {
    const letter: DeadLetter = {
      source_topic: pipeline.topic,
      source_partition: cursor.partition,
      source_offset: record.offset,
      error_code: failure.code,
      error_message: failure.message,
      raw: record.value === null ? Buffer.alloc(0) : asBuffer(record.value),
      failed_at: nowMs,
    };
    return {
      key: record.key === null ? null : asBuffer(record.key),
      value: pipeline.deadLetterEncoder!(letter),
      headers: { [JOB_HEADER]: this.#jobHeader },
      partition: cursor.dlqPartition,
    };
  }

  /**
   * Only for lag display: recovery reads the store's checkpoints, never these. A group member commits as
   * itself; a commit refused mid-rebalance is retried by the next refresh.
   */
  async #commitGroupOffsets(): Promise<void> {
    for (const pipeline of this.#pipelines) {
      const offsets: RecordPosition[] = [];
      const cursors: PartitionCursor[] = [];
      for (const cursor of pipeline.cursors) {
        if (cursor.storedOffset === null || cursor.storedOffset === cursor.groupOffset) continue;
        offsets.push({ partition: cursor.partition, offset: cursor.storedOffset });
        cursors.push(cursor);
      }
      if (offsets.length === 0) continue;
      if (this.#member === undefined) {
        await this.#log.commit(this.job, pipeline.topic, offsets);
      } else {
        try {
          await this.#member.commit(pipeline.topic, offsets);
        } catch {
          continue;
        }
      }
      for (let i = 0; i < cursors.length; i++) cursors[i]!.groupOffset = offsets[i]!.offset;
    }
  }

  /**
   * Moves each partition's dead-letter mark up to the end of its DLQ partition, so the scan after a
   * crash stays short. Safe between batches: nothing of this job is in flight, and later dead letters
   * land above the current end.
   */
  async #refreshDeadLetterMarks(): Promise<void> {
    const nowMs = performance.now();
    for (const pipeline of this.#pipelines) {
      if (nowMs - pipeline.dlqCheckedAtMs < DLQ_MARK_REFRESH_MS) continue;
      pipeline.dlqCheckedAtMs = nowMs;
      const info = await this.#log.describeTopic(pipeline.dlqTopic);
      for (const cursor of pipeline.cursors) {
        const high = info.offsets[cursor.dlqPartition]?.highWatermark ?? 0;
        if (high > cursor.dlqMark) cursor.dlqMark = high;
      }
    }
  }

  #report(batch: {
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
  }): void {
    const sources: SourceProgress[] = [];
    let stateRows = 0;
    let stateBytes = 0;
    // The min of the topics' job watermarks; a topic that has seen no event yet does not hold it back.
    let jobWatermark = Number.POSITIVE_INFINITY;
    for (const pipeline of this.#pipelines) {
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
    if (Number.isFinite(jobWatermark)) this.#lastFiniteWatermarkMs = jobWatermark;
    const durationMs = batch.endedAtMs - batch.startedAtMs;
    const sinceLastMs =
      this.#lastCommitAtMs === undefined ? durationMs : batch.endedAtMs - this.#lastCommitAtMs;
    this.#lastCommitAtMs = batch.endedAtMs;
    const progress: StreamProgress = {
      job: this.job,
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
      totals: this.#totals(),
      stateRows,
      stateBytes,
      sources,
    };
    this.#progress = progress;
    this.#options.onProgress?.(progress);
  }

  /** Refreshes each partition's high watermark, for the lag in progress reports; runs after each batch. */
  async refreshLag(): Promise<void> {
    for (const pipeline of this.#pipelines) {
      const info = await this.#log.describeTopic(pipeline.topic);
      for (const cursor of pipeline.cursors) {
        cursor.highWatermark = info.offsets[cursor.partition]?.highWatermark ?? cursor.highWatermark;
      }
    }
  }
}

type Decoded = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** Bytes that are not a valid frame are dead-lettered; a retriable failure (registry unreachable) stops the job. */
function decodeFailure(error: unknown): Decoded {
  if (error instanceof SerdeError && !error.retriable)
    return { ok: false, code: error.code, message: error.message };
  throw error;
}

/** The alerter's state with the alerts mark that is safe to persist now. */
function alerterState(pipeline: AnyPipeline): Uint8Array {
  const alerter = pipeline.alerter!;
  const current = alerter.alertsMark;
  alerter.alertsMark = pipeline.persistedAlertsMark();
  try {
    return alerter.snapshot();
  } finally {
    alerter.alertsMark = current;
  }
}

function rowCount(rows: BatchRows): number {
  return (
    rows.activityWindows.length +
    rows.activityDaily.length +
    rows.wikiWindows.length +
    rows.wikiDaily.length +
    rows.topPages.length
  );
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StreamError(StreamErrorCode.badOption, `${name} must be a whole number ≥ 1, got ${value}`, {
      details: { [name]: value },
    });
  }
  return value;
}
