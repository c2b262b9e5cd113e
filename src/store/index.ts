// The LiveStore seam: live windows, daily totals, alerts, late events, the raw lake and checkpoints (SQLite embedded, MongoDB at scale).
import type { LakeAppend, RawLake } from "../lake/index.ts";
import type { RowOf, Series, SeriesRows, WindowOf } from "./series.ts";

export {
  ACTIVITY_SERIES,
  type MergedRow,
  type MetricMerge,
  type RowOf,
  SERIES,
  type Series,
  type SeriesRows,
  type SeriesSpec,
  WIKIMEDIA_SERIES,
  type WindowOf,
} from "./series.ts";

/**
 * Rows are per source partition. The activity topic is keyed by user_id and the Wikimedia topic by wiki,
 * so distinct counts of different partitions are disjoint and readers merge partitions by summing.
 * Every row is keyed by (window_start, window_end, key, partition): writing it again replaces it, which
 * makes replays after a crash idempotent.
 */
export interface WindowRowKey {
  partition: number;
  window_start: number;
  window_end: number;
  /** True once the watermark passed window_end + allowed lateness; the row no longer changes. */
  final: boolean;
}

export interface ActivityWindowRow extends WindowRowKey {
  event_type: string;
  event_count: number;
  unique_users: number;
  sessions: number;
  revenue_cents: number;
}

export interface WikiWindowRow extends WindowRowKey {
  wiki: string;
  changes: number;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  byte_delta: number;
  unique_editors: number;
}

export interface TopPagesRow extends WindowRowKey {
  pages: Array<{ wiki: string; title: string; edits: number }>;
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

/**
 * Everything one stream micro-batch produced; `commit` applies it all or nothing. Its raw-lake rows
 * (rawEvents, rawRuns) go to the store's lake in the same commit.
 */
export interface StoreBatch extends LakeAppend {
  /** Window rows per series, by its name (src/store/series.ts): windows.activity, windows.wikimedia. */
  windows?: SeriesRows;
  /** Per-day rows per series, as windows. */
  daily?: SeriesRows;
  topPages?: readonly TopPagesRow[];
  alerts?: readonly AlertRow[];
  lateEvents?: readonly LateEventRow[];
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

/** The top pages of one window merged over partitions; window_start = window_end = 0 when there is none. */
export interface LatestTopPages {
  window_start: number;
  window_end: number;
  pages: TopPagesRow["pages"];
}

/** Per-day rows by day start: `fromMs` inclusive, `toMs` exclusive; either may be left out. */
export interface DayRange {
  fromMs?: number;
  toMs?: number;
}

export interface LiveStore {
  /**
   * The raw lake this store holds: its rows are appended by `commit` (StoreBatch.rawEvents, rawRuns),
   * atomically with the checkpoints, and read through the lake's scans.
   */
  readonly lake: RawLake;
  /**
   * Applies a batch atomically with its checkpoints: a crash leaves either all of it or none.
   * Rows replace earlier rows with the same key, so applying a batch twice changes nothing.
   */
  commit(batch: StoreBatch): Promise<void>;
  /** The checkpoints of a job on a topic, one per partition it has committed. */
  checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]>;
  /** partition → nextOffset of the same checkpoints, without reading their state. */
  checkpointOffsets(job: string, topic: string): Promise<Map<number, number>>;
  /**
   * The latest `query.last` windows of a series (SERIES) `query.windowMs` long, merged over partitions
   * as the series says and presented as it says (windows(ACTIVITY_SERIES, …): ActivityWindow[]), ordered
   * by window start, then key.
   */
  windows<S extends Series>(series: S, query: WindowQuery): Promise<WindowOf<S>[]>;
  /** A series' per-UTC-day rows merged over partitions, as windows, ordered by day start, length, key. */
  daily<S extends Series>(series: S, range?: DayRange): Promise<WindowOf<S>[]>;
  /**
   * A series' window rows in `range` per partition, as committed (final or not), ordered by window
   * start, key and partition: the rows the job's alerter reads when its own flushes do not hold every
   * partition's (src/stream/job/aggregate.ts).
   */
  windowRows<S extends Series>(series: S, range: WindowRange): Promise<RowOf<S>[]>;
  /**
   * Per partition, the newest start (at or after `fromMs`) of a window `windowMs` long whose row is
   * final, among a series' window rows; partitions without such a row are absent. Finality follows a
   * partition's watermark, so every window of that partition starting at or before it is final too: a
   * scaled-out job's alert owner reads how far each member has got (src/stream/job/aggregate.ts).
   */
  finalWindowStarts(series: Series, windowMs: number, fromMs: number): Promise<Map<number, number>>;
  /**
   * Top pages of the latest window of that length, merged over partitions: a page's edits summed over
   * partitions (the Wikimedia topic is keyed by wiki, so a page is in one partition and each partition's
   * top list is exact for its pages), then ranked by edits, wiki, title.
   */
  topPages(windowMs: number, limit: number): Promise<LatestTopPages>;
  /** Newest first by event time: window_start descending, then series. */
  alerts(limit: number): Promise<AlertRow[]>;
  /**
   * Newest first: by the watermark when the event arrived (the job's event-time progress, which only
   * grows per partition), then topic and partition, then offset descending.
   */
  lateEvents(limit: number): Promise<LateEventRow[]>;
  /**
   * Every late event of `topic` whose event time is in [fromMs, toMs), by partition and offset: what the
   * speed layer set aside for a period (reconciliation reads a day's).
   */
  lateEventsBetween(topic: string, range: Required<DayRange>): Promise<LateEventRow[]>;
  /**
   * Deletes what lies wholly before `retention.beforeMs` in event time (see StoreRetention); returns what
   * it deleted and what it kept back. Safe beside a running commit: it never touches a checkpoint.
   */
  enforceRetention(retention: StoreRetention): Promise<StoreRetentionResult>;
  close(): Promise<void>;
}

/**
 * What `enforceRetention` deletes, all by event time: window and top-page rows whose window ended at or
 * before `beforeMs`, alerts whose window did, late events whose event time is before it, and, per
 * partition, the longest prefix of raw-lake batches whose every event is before it and whose last offset
 * the warehouse has loaded (`loaded`). Per-day rows (the daily tables) are kept: a few rows a day, the
 * speed layer's history that reconciliation reads. A raw-lake batch past the cutoff but not loaded is
 * kept (its partition counted as held), so retention never loses a row the batch layer has not got.
 */
export interface StoreRetention {
  /** The event-time cutoff, ms since the epoch. */
  beforeMs: number;
  /**
   * topic → partition → the last raw-lake offset the warehouse load has committed (its load state).
   * Undefined: the raw lake is left alone (the load state could not be read). A topic or partition
   * absent from it has loaded nothing, and keeps every batch.
   */
  loaded?: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

export interface StoreRetentionResult {
  /** Window and top-page rows deleted. */
  windows: number;
  alerts: number;
  lateEvents: number;
  /** Raw-lake batches deleted, and the events they held. */
  rawBatches: number;
  rawEvents: number;
  /**
   * Partitions whose raw-lake retention stopped at a batch past the cutoff that the warehouse has not
   * loaded yet (kept until it is); 0 when `loaded` was not given.
   */
  rawPartitionsHeld: number;
}
