// The embedded Log: one SQLite file (better-sqlite3, WAL) and its segment files, which producer and consumer processes on one machine share.
import type Database from "better-sqlite3";
import { LogError, LogErrorCode } from "../../errors.ts";
import { type SqlitePartErrors, SqliteFile, segmentBytesOption } from "../../sqlite/lifecycle.ts";
import type { SqliteFileSettings } from "../../sqlite/open-file.ts";
import type {
  FetchOptions,
  GroupTopicLag,
  Log,
  LogRecord,
  PartitionOffsets,
  ProduceRecord,
  RecordPosition,
  RetentionPolicy,
  TopicInfo,
  TopicSpec,
} from "../index.ts";
import { partitionForKey, StickyPartitioner } from "../partitioner.ts";
import {
  checkGroup,
  checkPartition,
  checkRecordBytes,
  MAX_PARTITIONS,
  validateTopicSpec,
} from "../validate.ts";
import { BatchEncoder, type EncodedBatch, readBatch } from "./batch-codec.ts";
import { GroupOffsets } from "./group-offsets.ts";
import { Retention } from "./retention.ts";
import { MAX_OFFSET, MAX_TOPIC_ID, SCHEMA, SCHEMA_VERSION, upgradeSchema } from "./schema.ts";
import { LogSegments } from "./segments.ts";
import { prepareStatements, type Statements, type TopicRow } from "./statements.ts";

/**
 * NORMAL is the default because a process crash is the failure that matters for an embedded
 * single-machine log, and under it produce appends batch bytes to segment files, where FULL keeps them
 * in the rows so that one fsync a produce suffices (schema.ts). Choose FULL when the host itself may
 * lose power.
 */
export interface EmbeddedLogOptions extends SqliteFileSettings {
  /** How large a partition's segment file grows before the next one starts (default SEGMENT_BYTES, 64 MiB). */
  segmentBytes?: number;
}

/** A partition's segment file takes no more appends once they would pass this size (Kafka's segment.bytes). */
export const SEGMENT_BYTES = 64 * 2 ** 20;

/** Kafka's max.poll.records default. */
const DEFAULT_MAX_RECORDS = 500;

/** How the log's SQLite failures read, in its own error class and codes. */
const LOG_ERRORS: SqlitePartErrors = {
  part: "the embedded log",
  className: "EmbeddedLog",
  file: "the log file",
  reopen: "open a new EmbeddedLog",
  codes: {
    badOption: LogErrorCode.badArgument,
    closed: LogErrorCode.closed,
    busy: LogErrorCode.busy,
    storage: LogErrorCode.storage,
    schemaTooNew: LogErrorCode.badArgument,
  },
  isOwn: (error) => error instanceof LogError,
  error: (code, message, options) => new LogError(code, message, options),
};

interface TopicMeta {
  id: number;
  name: string;
  partitions: number;
  /** Null-key placement, per topic and per process, like a Kafka producer's. */
  sticky: StickyPartitioner;
}

export class EmbeddedLog implements Log {
  readonly path: string;
  readonly #file: SqliteFile;
  readonly #sql: Statements;
  readonly #topics = new Map<string, TopicMeta>();
  readonly #appendTx: Database.Transaction<
    (meta: TopicMeta, records: readonly ProduceRecord[]) => RecordPosition[]
  >;
  /** Also rewrites the batch a retention step cuts through; never used by two calls at once (all sync). */
  readonly #encoder = new BatchEncoder();

  // Scratch space reused by every produce call, grown on demand: the hot path allocates only the
  // returned positions and one small descriptor per batch row.
  #recordPartition = new Int32Array(1024);
  #order = new Int32Array(1024);
  #partitionCount = new Int32Array(MAX_PARTITIONS);
  #partitionCursor = new Int32Array(MAX_PARTITIONS + 1);
  readonly #partitionBatches: EncodedBatch[] = [];
  /** Whether produce appends batch bytes to segment files: not under synchronous=FULL (schema.ts). */
  readonly #appendToSegments: boolean;
  readonly #segments: LogSegments;
  readonly #groups: GroupOffsets;
  readonly #retention: Retention;

  private constructor(file: SqliteFile, segmentBytes: number) {
    const db = file.use();
    this.path = file.path;
    this.#file = file;
    // synchronous 2 is FULL.
    this.#appendToSegments = db.pragma("synchronous", { simple: true }) !== 2;
    this.#sql = prepareStatements(db);
    this.#segments = new LogSegments(file.path, this.#sql, segmentBytes);
    this.#groups = new GroupOffsets(db, this.#sql);
    this.#retention = new Retention(db, this.#sql, this.#segments, this.#encoder);
    this.#appendTx = db.transaction((meta: TopicMeta, records: readonly ProduceRecord[]) =>
      this.#append(meta, records),
    );
  }

  /** Opens (creating if needed) the log file; safe to call from several processes on one file. */
  static open(options: EmbeddedLogOptions): EmbeddedLog {
    const segmentBytes = segmentBytesOption(LOG_ERRORS, "segmentBytes", options.segmentBytes, SEGMENT_BYTES);
    const file = SqliteFile.open(
      {
        ...options,
        schema: SCHEMA,
        schemaVersion: SCHEMA_VERSION,
        upgrade: (db, fromVersion) => upgradeSchema(db, fromVersion, options.path),
      },
      LOG_ERRORS,
    );
    return new EmbeddedLog(file, segmentBytes);
  }

  async ensureTopic(spec: TopicSpec): Promise<TopicInfo> {
    const db = this.#file.use();
    validateTopicSpec(spec);
    const retention = spec.retention ?? {};
    try {
      db.transaction(() => {
        const existing = this.#sql.topicByName.get(spec.name);
        if (existing) {
          if (existing.partitions !== spec.partitions) {
            throw new LogError(
              LogErrorCode.topicExists,
              `Topic "${spec.name}" already exists with ${existing.partitions} partitions, not ${spec.partitions}; ` +
                "partition counts cannot change (keys would move), so use the existing count or a new topic name.",
              { details: { topic: spec.name, partitions: existing.partitions, requested: spec.partitions } },
            );
          }
          if (spec.retention !== undefined) {
            this.#sql.updateRetention.run(
              retention.maxAgeMs ?? null,
              retention.maxSizeBytes ?? null,
              existing.topic_id,
            );
          }
          return;
        }
        const id = this.#sql.maxTopicId.get()! + 1;
        if (id > MAX_TOPIC_ID) {
          throw new LogError(
            LogErrorCode.badArgument,
            `The embedded log ${this.path} already holds ${MAX_TOPIC_ID} topics, its limit; use a new log file or Kafka.`,
          );
        }
        this.#sql.insertTopic.run(
          id,
          spec.name,
          spec.partitions,
          retention.maxAgeMs ?? null,
          retention.maxSizeBytes ?? null,
          Date.now(),
        );
        for (let p = 0; p < spec.partitions; p++) this.#sql.insertPartition.run(id, p);
      }).immediate();
    } catch (error) {
      throw this.#file.error(error, `creating topic "${spec.name}"`);
    }
    return this.#describe(spec.name);
  }

  async listTopics(): Promise<TopicInfo[]> {
    this.#file.use();
    return this.#sql.allTopics.all().map((row) => this.#info(row));
  }

  async describeTopic(topic: string): Promise<TopicInfo> {
    this.#file.use();
    return this.#describe(topic);
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    this.#file.use();
    const meta = this.#meta(topic);
    if (records.length === 0) return [];
    try {
      const positions = this.#appendTx.immediate(meta, records);
      this.#file.wrote();
      return positions;
    } catch (error) {
      throw this.#file.error(error, `producing ${records.length} records to topic "${topic}"`);
    } finally {
      this.#partitionBatches.length = 0;
    }
  }

  async fetch(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions = {},
  ): Promise<LogRecord[]> {
    this.#file.use();
    const meta = this.#meta(topic);
    checkPartition(meta.name, meta.partitions, partition);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new LogError(
        LogErrorCode.badArgument,
        `fetch offset must be a non-negative integer, got ${offset} (topic "${topic}" partition ${partition}).`,
      );
    }
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new LogError(
        LogErrorCode.badArgument,
        `fetch maxRecords must be a positive integer, got ${maxRecords}.`,
      );
    }
    if (offset > MAX_OFFSET) return [];
    const out: LogRecord[] = [];
    try {
      // A second attempt only when retention in another process removed a segment file between this
      // fetch's SELECT and its read: the rows naming it are gone by then.
      for (let attempt = 0; ; attempt++) {
        const query = { topic: meta.id, partition, offset, limit: maxRecords };
        let rows = this.#sql.fetch.all(query);
        // Nothing holds `offset`: it is past the high watermark, or retention deleted it, in which case
        // the fetch starts at the low watermark instead (the first batch's base, if one came back).
        if (rows.length === 0 || rows[0][0] > offset) {
          const low = rows.length > 0 ? rows[0][0] : (this.#sql.lowWatermark.get(meta.id, partition) ?? 0);
          if (low > offset) {
            query.offset = low;
            rows = this.#sql.fetch.all(query);
          }
        }
        let removed = false;
        for (let i = 0; i < rows.length && out.length < maxRecords; i++) {
          const [baseOffset, ...stored] = rows[i];
          const blob = this.#segments.bytes(meta.id, meta.name, partition, stored, attempt > 0);
          if (blob === undefined) {
            removed = true;
            break;
          }
          readBatch(blob, { topic, partition, baseOffset }, query.offset, maxRecords, out);
        }
        if (!removed) break;
        out.length = 0;
      }
    } catch (error) {
      throw this.#file.error(error, `fetching topic "${topic}" partition ${partition}`);
    }
    return out;
  }

  async commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    this.#file.use();
    checkGroup(group);
    const meta = this.#meta(topic);
    for (const position of offsets) {
      checkPartition(meta.name, meta.partitions, position.partition);
      if (!Number.isSafeInteger(position.offset) || position.offset < 0) {
        throw new LogError(
          LogErrorCode.badArgument,
          `Committed offset must be a non-negative integer, got ${position.offset} (group "${group}", topic "${topic}" partition ${position.partition}).`,
        );
      }
    }
    try {
      this.#groups.commit(group, meta.id, offsets, Date.now());
    } catch (error) {
      throw this.#file.error(error, `committing offsets for group "${group}" on topic "${topic}"`);
    }
  }

  async committed(group: string, topic: string): Promise<Map<number, number>> {
    this.#file.use();
    checkGroup(group);
    const meta = this.#meta(topic);
    return this.#groups.committed(group, meta.id);
  }

  async lag(group?: string): Promise<GroupTopicLag[]> {
    this.#file.use();
    return this.#groups.lag(group);
  }

  async enforceRetention(nowMs: number = Date.now(), topics?: readonly string[]): Promise<number> {
    this.#file.use();
    const only = topics === undefined ? undefined : new Set(topics);
    return this.#file.run("enforcing retention", () => this.#retention.enforce(nowMs, only));
  }

  async close(): Promise<void> {
    await this.#file.close(() => this.#segments.close());
  }

  /*
   * Append, inside BEGIN IMMEDIATE. Pass 1 checks and places each record; a counting sort then groups
   * the batch by partition (stable, so batch order is offset order within a partition). Per touched
   * partition, the encoder writes its records into batch BLOBs (one, unless it passes ~1 MiB), one
   * UPDATE … RETURNING reserves the offsets, and one INSERT per BLOB stores it.
   */
  #append(meta: TopicMeta, records: readonly ProduceRecord[]): RecordPosition[] {
    const n = records.length;
    const numPartitions = meta.partitions;
    if (this.#recordPartition.length < n) {
      this.#recordPartition = new Int32Array(n * 2);
      this.#order = new Int32Array(n * 2);
    }
    const recordPartition = this.#recordPartition;
    const order = this.#order;
    const count = this.#partitionCount;
    const cursor = this.#partitionCursor;
    count.fill(0, 0, numPartitions);
    const batchTimestampMs = Date.now();

    let stickyPartition = -1;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      if (record.key !== null) checkRecordBytes(record.key, "key", meta.name);
      if (record.value !== null) checkRecordBytes(record.value, "value", meta.name);
      let partition = record.partition;
      if (partition !== undefined) {
        checkPartition(meta.name, meta.partitions, partition);
      } else if (record.key !== null) {
        partition = partitionForKey(record.key, numPartitions);
      } else {
        if (stickyPartition < 0) stickyPartition = meta.sticky.nextBatchPartition(numPartitions);
        partition = stickyPartition;
      }
      const timestampMs = record.timestampMs;
      if (timestampMs !== undefined && !Number.isSafeInteger(timestampMs)) {
        throw new LogError(
          LogErrorCode.badArgument,
          `Record timestampMs must be an integer number of ms since the epoch, got ${timestampMs} (topic "${meta.name}").`,
        );
      }
      recordPartition[i] = partition;
      count[partition]++;
    }

    let start = 0;
    for (let p = 0; p < numPartitions; p++) {
      cursor[p] = start;
      start += count[p];
    }
    for (let i = 0; i < n; i++) order[cursor[recordPartition[i]]++] = i;

    const positions = new Array<RecordPosition>(n);
    const encoder = this.#encoder;
    const batches = this.#partitionBatches;
    encoder.reset();
    let groupStart = 0;
    for (let p = 0; p < numPartitions; p++) {
      const groupEnd = groupStart + count[p];
      if (groupEnd === groupStart) continue;
      batches.length = 0;
      let sizeBytes = 0;
      for (let slot = groupStart; slot < groupEnd; ) {
        const batch = encoder.encode(records, order, slot, groupEnd, batchTimestampMs);
        batches.push(batch);
        sizeBytes += batch.sizeBytes;
        slot += batch.count;
      }
      const high = this.#sql.reserveOffsets.get(count[p], sizeBytes, meta.id, p)!;
      if (high > MAX_OFFSET) {
        throw new LogError(
          LogErrorCode.badArgument,
          `Topic "${meta.name}" partition ${p} reached the embedded log's offset limit (${MAX_OFFSET}); move to a new topic.`,
        );
      }
      const base = high - count[p];
      let offset = base;
      const files = this.#appendToSegments ? this.#segments.filesOf(meta.id, meta.name, p) : undefined;
      files?.begin();
      for (const batch of batches) {
        this.#segments.insert(meta.id, p, offset, batch, files);
        offset += batch.count;
      }
      files?.finish();
      for (let slot = groupStart; slot < groupEnd; slot++) {
        positions[order[slot]] = { partition: p, offset: base + (slot - groupStart) };
      }
      groupStart = groupEnd;
    }
    return positions;
  }

  #meta(topic: string): TopicMeta {
    const cached = this.#topics.get(topic);
    if (cached !== undefined) return cached;
    // Not cached: another process may have created it since we last looked.
    const row = this.#sql.topicByName.get(topic);
    if (row === undefined) throw unknownTopic(topic, this.path);
    const meta: TopicMeta = {
      id: row.topic_id,
      name: row.name,
      partitions: row.partitions,
      sticky: new StickyPartitioner(),
    };
    this.#topics.set(topic, meta);
    return meta;
  }

  #describe(topic: string): TopicInfo {
    const row = this.#sql.topicByName.get(topic);
    if (row === undefined) throw unknownTopic(topic, this.path);
    return this.#info(row);
  }

  #info(row: TopicRow): TopicInfo {
    const retention: RetentionPolicy = {};
    if (row.retention_max_age_ms !== null) retention.maxAgeMs = row.retention_max_age_ms;
    if (row.retention_max_size_bytes !== null) retention.maxSizeBytes = row.retention_max_size_bytes;
    const offsets: PartitionOffsets[] = this.#sql.partitionsOf.all(row.topic_id).map((p) => ({
      partition: p.partition,
      lowWatermark: p.low_watermark,
      highWatermark: p.high_watermark,
    }));
    return { name: row.name, partitions: row.partitions, retention, offsets };
  }
}

function unknownTopic(topic: string, path: string): LogError {
  return new LogError(
    LogErrorCode.unknownTopic,
    `Topic "${topic}" does not exist in the embedded log ${path}; create it first with ensureTopic({ name: "${topic}", partitions: N }).`,
    { details: { topic } },
  );
}
