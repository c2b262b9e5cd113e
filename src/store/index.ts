// The LiveStore seam: live windows, daily totals, alerts, late events, the raw lake and checkpoints (SQLite embedded, MongoDB at scale).

/**
 * Rows are per source partition. The activity topic is keyed by user_id and the Wikimedia topic by wiki,
 * so distinct counts of different partitions are disjoint and readers merge partitions by summing.
 * Every row is keyed by (window_start, window_end, key, partition): writing it again replaces it, which
 * makes replays after a crash idempotent.
 */
export interface ActivityWindowRow {
  partition: number;
  window_start: number;
  window_end: number;
  event_type: string;
  event_count: number;
  unique_users: number;
  sessions: number;
  revenue_cents: number;
  /** True once the watermark passed window_end + allowed lateness; the row no longer changes. */
  final: boolean;
}

export interface WikiWindowRow {
  partition: number;
  window_start: number;
  window_end: number;
  wiki: string;
  changes: number;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  byte_delta: number;
  unique_editors: number;
  final: boolean;
}

export interface TopPagesRow {
  partition: number;
  window_start: number;
  window_end: number;
  pages: Array<{ wiki: string; title: string; edits: number }>;
  final: boolean;
}

/** A spike or drop flagged by the anomaly detector. Keyed by (series, window_start). */
export interface AlertRow {
  series: string;
  window_start: number;
  window_end: number;
  observed: number;
  expected: number;
  score: number;
  kind: "spike" | "drop";
  created_at: number;
}

/** An event that arrived after every window it belongs to was final. Keyed by (topic, partition, offset). */
export interface LateEventRow {
  topic: string;
  partition: number;
  offset: number;
  event_time: number;
  watermark: number;
  /** The event as JSON text. */
  payload: string;
}

/** One cleaned event in the raw lake, with its ingestion metadata. Keyed by (topic, partition, offset). */
export interface RawEventRow {
  topic: string;
  partition: number;
  offset: number;
  event_time: number;
  ingested_at: number;
  /**
   * The cleaned event as the log held it: a Confluent wire frame (magic byte 0, the writer schema's
   * registry id, the Avro body), read back with the registry (`decodeRawEvent`, src/stream/raw-lake.ts).
   * The stream job's cleaning only accepts or rejects an event, never rewrites it, so the record's value
   * is the cleaned event. Rows stored before the lake kept frames hold the event's JSON text instead
   * (first byte `{`); decodeRawEvent reads both.
   */
  value: Uint8Array;
}

/**
 * Raw-lake rows of one topic and partition, offsets strictly increasing, already encoded as one raw-lake
 * batch (src/store/raw-batch.ts; RawRunWriter writes them): the same rows as RawEventRow objects would
 * hold, without an object per row. The stream job hands its raw lake over this way.
 */
export interface RawRun {
  topic: string;
  partition: number;
  bytes: Uint8Array;
}

/**
 * A stream job's progress on one source partition: the next offset to read and the operator state that
 * covers every offset before it. Stored in the same atomic write as the rows it covers.
 */
export interface Checkpoint {
  job: string;
  topic: string;
  partition: number;
  nextOffset: number;
  /**
   * The operator state. Undefined: the stored state stays as it is and only nextOffset and updatedAt
   * move (the job writes its state every few seconds, not every batch; the state itself says which
   * offset it covers). A partition's first checkpoint must carry one. Read back, it is always set.
   */
  state?: Uint8Array;
  updatedAt: number;
  /**
   * Fencing, for jobs that share partitions over time (a consumer group rebalancing): the nextOffset
   * the writer last saw stored for this partition, null when it saw none. `commit` then applies the
   * batch only if every such checkpoint is still as the writer saw it; otherwise it fails with
   * PULSE_STORE_CONFLICT and changes nothing. Undefined: no check (the last writer wins).
   */
  expectedNextOffset?: number | null;
}

/** A checkpoint as the store holds it: always with its state. */
export type StoredCheckpoint = Checkpoint & { state: Uint8Array };

/** Everything one stream micro-batch produced; `commit` applies it all or nothing. */
export interface StoreBatch {
  activityWindows?: readonly ActivityWindowRow[];
  activityDaily?: readonly ActivityWindowRow[];
  wikiWindows?: readonly WikiWindowRow[];
  wikiDaily?: readonly WikiWindowRow[];
  topPages?: readonly TopPagesRow[];
  alerts?: readonly AlertRow[];
  lateEvents?: readonly LateEventRow[];
  rawEvents?: readonly RawEventRow[];
  /** More raw-lake rows, as encoded runs; stored exactly as the same rows in rawEvents would be. */
  rawRuns?: readonly RawRun[];
  checkpoints: readonly Checkpoint[];
}

/** Activity merged over partitions for one (window, event_type); `final` when every partition's row is. */
export type ActivityWindow = Omit<ActivityWindowRow, "partition" | "revenue_cents"> & { revenue: number };

/** Wikimedia merged over partitions for one (window, wiki); `final` when every partition's row is. */
export type WikiWindow = Omit<WikiWindowRow, "partition">;

export interface WindowQuery {
  /** Window length in ms (each window spec has its own rows). */
  windowMs: number;
  /** The latest N windows (by window_start). */
  last: number;
}

/** Windows `windowMs` long starting in [fromMs, toMs). */
export interface WindowRange {
  windowMs: number;
  fromMs: number;
  toMs: number;
}

/** Which window rows `finalWindowStarts` looks at. */
export type WindowRows = "activity" | "wikimedia";

export interface LiveStore {
  /**
   * Applies a batch atomically with its checkpoints: a crash leaves either all of it or none.
   * Rows replace earlier rows with the same key, so applying a batch twice changes nothing.
   */
  commit(batch: StoreBatch): Promise<void>;
  /** The checkpoints of a job on a topic, one per partition it has committed. */
  checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]>;
  /** partition → nextOffset of the same checkpoints, without reading their state. */
  checkpointOffsets(job: string, topic: string): Promise<Map<number, number>>;
  activityWindows(query: WindowQuery): Promise<ActivityWindow[]>;
  /** Per UTC day and event type; `fromMs`/`toMs` bound day starts (inclusive/exclusive). */
  activityDaily(range?: { fromMs?: number; toMs?: number }): Promise<ActivityWindow[]>;
  wikiWindows(query: WindowQuery): Promise<WikiWindow[]>;
  /**
   * Per partition, the newest start (at or after `fromMs`) of a window `windowMs` long whose row is
   * final, among the activity or Wikimedia window rows; partitions without such a row are absent.
   * Finality follows a partition's watermark, so every window of that partition starting at or before
   * it is final too: a scaled-out job's alert owner reads how far each member has got (src/stream/job.ts).
   */
  finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>>;
  /**
   * The activity window rows in `range` per partition, as committed (final or not), ordered by window
   * start, event type and partition: the rows the job's alerter reads when its own flushes do not hold
   * every partition's (src/stream/job.ts).
   */
  activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]>;
  /** The Wikimedia window rows in `range` per partition, as activityWindowRows. */
  wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]>;
  /** Top pages of the latest window of that length, merged over partitions. */
  topPages(
    windowMs: number,
    limit: number,
  ): Promise<{ window_start: number; window_end: number; pages: TopPagesRow["pages"] }>;
  alerts(limit: number): Promise<AlertRow[]>;
  lateEvents(limit: number): Promise<LateEventRow[]>;
  /** Raw-lake rows after a (partition → offset) position, for incremental batch loads. */
  rawEvents(topic: string, after: ReadonlyMap<number, number>, limit: number): Promise<RawEventRow[]>;
  close(): Promise<void>;
}
