// The RawLake seam: every cleaned event as the log held it, appended in the stream job's commit and scanned by offset or event time.

/*
 * Contract, for every implementation (embedded: src/lake/embedded/, in the live store's SQLite file;
 * MongoDB: src/lake/mongo/, the raw_batches collection of the live store's database, a document per run of
 * a partition's rows):
 *   - rows are appended only by the commit of the live store that holds the lake (StoreBatch.rawEvents and
 *     rawRuns), with the checkpoints that cover them: in the same SQLite transaction, or on MongoDB in the
 *     first step of the commit protocol, before its commit points. A commit refused for its input (a bad
 *     row or run, a fenced checkpoint another writer moved) appends nothing. The embedded lake appends
 *     nothing on any failure; on MongoDB a commit that fails after its first step leaves its rows, which
 *     is harmless: keyed by position, they are the rows its retry or replay writes again;
 *   - one row per (topic, partition, offset): a row written again replaces the stored one, the newest
 *     write winning, so a replay of the same offsets changes nothing;
 *   - every scan returns rows in (partition, offset) order, each at most once, at most `limit` of them;
 *     a topic without rows scans as empty;
 *   - rows stored before the lake kept frames hold the event's JSON text as their value (first byte `{`),
 *     and read back so; decodeRawEvent reads both.
 *
 * Neither store keeps an index on event time (their on-disk formats predate it): scanEventTime reads
 * every row of the topic from its position on and keeps those in range. The embedded lake looks only at
 * each record's fixed-width header, where the event time sits at a fixed place, and copies the values of
 * the rows it returns; MongoDB skips the batch documents whose event-time bounds miss the range, and
 * reads the others' record headers alike.
 */

/** One cleaned event in the raw lake, with its ingestion metadata. Keyed by (topic, partition, offset). */
export interface RawEventRow {
  topic: string;
  partition: number;
  offset: number;
  event_time: number;
  ingested_at: number;
  /**
   * The cleaned event as the log held it: a Confluent wire frame (magic byte 0, the writer schema's
   * registry id, the Avro body), read back with the registry (`decodeRawEvent`, src/lake/decode.ts).
   * The stream job's cleaning only accepts or rejects an event, never rewrites it, so the record's value
   * is the cleaned event. Rows stored before the lake kept frames hold the event's JSON text instead
   * (first byte `{`); decodeRawEvent reads both.
   */
  value: Uint8Array;
}

/**
 * Raw-lake rows of one topic and partition, offsets strictly increasing, already encoded as one raw-lake
 * batch (src/lake/batch.ts; RawRunWriter writes them): the same rows as RawEventRow objects would hold,
 * without an object per row. The stream job hands its raw lake over this way.
 */
export interface RawRun {
  topic: string;
  partition: number;
  bytes: Uint8Array;
}

/** The raw-lake rows a live store's commit appends (StoreBatch extends this). */
export interface LakeAppend {
  rawEvents?: readonly RawEventRow[];
  /** More raw-lake rows, as encoded runs; stored exactly as the same rows in rawEvents would be. */
  rawRuns?: readonly RawRun[];
}

/** A row's place in its topic. */
export interface LakePosition {
  partition: number;
  offset: number;
}

/** Offsets in [fromOffset, toOffset). */
export interface OffsetRange {
  fromOffset: number;
  toOffset: number;
}

/** Event times in [fromMs, toMs). */
export interface EventTimeRange {
  fromMs: number;
  toMs: number;
}

/**
 * The raw lake's reads. Get one as a live store's `lake`, or open one on its own on a store's file or
 * database (openEmbeddedRawLake, src/store/embedded/; openMongoRawLake, src/store/mongo/).
 */
export interface RawLake {
  /** Rows of one topic partition with offsets in `range`, in offset order. */
  scanOffsets(topic: string, partition: number, range: OffsetRange, limit: number): Promise<RawEventRow[]>;
  /**
   * Rows after a (partition → offset) position, in (partition, offset) order: each partition from the
   * offset after its position, a partition absent from `after` from its start. For incremental loads:
   * the next page continues from the positions of the rows read so far.
   */
  scanAfter(topic: string, after: ReadonlyMap<number, number>, limit: number): Promise<RawEventRow[]>;
  /**
   * Rows whose event_time lies in `range`, in (partition, offset) order, from the row after `after` (from
   * the start without it): for rebuilding a day, page by page, each page after the last row of the one
   * before, until a page comes back empty. Reads the whole topic from `after` on (see above).
   */
  scanEventTime(
    topic: string,
    range: EventTimeRange,
    limit: number,
    after?: LakePosition,
  ): Promise<RawEventRow[]>;
  /**
   * The greatest offset stored in each partition of the topic that holds rows (an empty map for a topic
   * without rows): how far a reader that continues with scanAfter has to go. A few index seeks.
   */
  lastOffsets(topic: string): Promise<Map<number, number>>;
}

/**
 * What a lake's owner deletes when its retention runs (LiveStore.enforceRetention): per partition, the
 * longest prefix of batches whose every event is before `beforeMs` and that the warehouse has loaded.
 */
export interface LakeRetention {
  /** The event-time cutoff, ms since the epoch. */
  beforeMs: number;
  /** topic → partition → the last offset the warehouse load has committed; absent: nothing loaded. */
  loaded: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

/**
 * Retention's rule for a partition's batches, taken in offset order: `delete` the batch; else stop there,
 * `keep` when it holds an event at or after the cutoff, `held` when it ends past what the warehouse
 * has loaded. So each partition loses a prefix, as the log's retention does.
 */
export function batchRetention(
  retention: LakeRetention,
  topic: string,
  partition: number,
  batch: { maxEventTimeMs: number; lastOffset: number },
): "delete" | "keep" | "held" {
  if (batch.maxEventTimeMs >= retention.beforeMs) return "keep";
  if (batch.lastOffset > (retention.loaded.get(topic)?.get(partition) ?? -1)) return "held";
  return "delete";
}

export interface LakeRetentionResult {
  batches: number;
  events: number;
  /** Partitions whose retention stopped at a batch past the cutoff that the warehouse has not loaded. */
  partitionsHeld: number;
}

/** A lake opened on its own: close it when done. */
export interface OpenedRawLake extends RawLake {
  close(): Promise<void>;
}

/** `lake` with a close that runs `close` (which owns what the lake lives in). */
export function openedRawLake(lake: RawLake, close: () => Promise<void>): OpenedRawLake {
  return {
    scanOffsets: (topic, partition, range, limit) => lake.scanOffsets(topic, partition, range, limit),
    scanAfter: (topic, after, limit) => lake.scanAfter(topic, after, limit),
    scanEventTime: (topic, range, limit, after) => lake.scanEventTime(topic, range, limit, after),
    lastOffsets: (topic) => lake.lastOffsets(topic),
    close,
  };
}
