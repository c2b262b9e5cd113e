// The embedded Log: one SQLite file (better-sqlite3, WAL) and its segment files, which producer and consumer processes on one machine share.
import { join } from "node:path";
import type Database from "better-sqlite3";
import { LogError, LogErrorCode } from "../errors.ts";
import { errorMessage, isBusy, openSqliteFile, type SqliteFileSettings } from "../sqlite/open-file.ts";
import { SegmentFiles, type SegmentSpan, segmentBytesOption } from "../sqlite/segment-files.ts";
import type { WalCheckpointer } from "../sqlite/wal-checkpointer.ts";
import {
  type BatchEntry,
  BatchEncoder,
  decodeBatch,
  type EncodedBatch,
  readBatch,
  summarizeBatch,
} from "./batch-codec.ts";
import { decodeHeaders } from "./header-codec.ts";
import type {
  FetchOptions,
  GroupTopicLag,
  Log,
  LogRecord,
  PartitionLag,
  PartitionOffsets,
  ProduceRecord,
  RecordPosition,
  RetentionPolicy,
  TopicInfo,
  TopicSpec,
} from "./index.ts";
import { partitionForKey, StickyPartitioner } from "./partitioner.ts";
import {
  checkGroup,
  checkPartition,
  checkRecordBytes,
  MAX_PARTITIONS,
  validateTopicSpec,
} from "./validate.ts";

/**
 * NORMAL is the default because a process crash is the failure that matters for an embedded
 * single-machine log, and it appends about twice as fast (segment files, below; bench/log.ts). Choose
 * FULL when the host itself may lose power.
 */
export interface EmbeddedLogOptions extends SqliteFileSettings {
  /** How large a partition's segment file grows before the next one starts (default SEGMENT_BYTES, 64 MiB). */
  segmentBytes?: number;
}

/** A partition's segment file takes no more appends once they would pass this size (Kafka's segment.bytes). */
export const SEGMENT_BYTES = 64 * 2 ** 20;

/*
 * Storage layout (schema version 3).
 *
 *   topics(topic_id INTEGER PRIMARY KEY, name UNIQUE, partitions, retention_max_age_ms, retention_max_size_bytes)
 *   partitions(topic_id, partition, high_watermark, low_watermark, size_bytes)  PK (topic_id, partition), WITHOUT ROWID
 *   batches(id INTEGER PRIMARY KEY, last_offset, record_count, max_timestamp_ms, size_bytes, records BLOB,
 *           segment, pos, length, crc)
 *   segments(topic_id, partition, segment, end_pos)  PK (topic_id, partition), WITHOUT ROWID
 *   group_offsets(group_name, topic_id, partition, next_offset, committed_ms)  PK (group_name, topic_id, partition)
 *
 * One row of `batches` indexes every record one produce call appended to one partition (split at about
 * 1 MiB), encoded by src/log/batch-codec.ts, as a Kafka record batch does: one B-tree insert per
 * partition per produce instead of one per record, which is what lifts the append and read rates past a
 * row-per-record table's ceiling (bench/README.md).
 *
 * Since schema 3 the batch's bytes are appended to the partition's newest segment file, as Kafka keeps a
 * partition's log: `<log file>-segments/<topic>-<partition>/<n>.seg` (src/sqlite/segment-files.ts), and
 * the row holds where they are (segment, pos, length) and their CRC-32; `segments` holds each
 * partition's newest segment and its committed end. SQLite then writes a small row per batch instead of
 * its bytes twice (WAL, then checkpoint). Rows with segment NULL keep their bytes in `records`: those of
 * an in-memory log, those a schema-2 file already held, the batch retention rewrites, and every batch a
 * log opened with synchronous=FULL writes: there a produce must reach the disk before it resolves, which
 * one fsync of SQLite's WAL does for bytes in rows, where segment files would need one more per
 * partition written (a 6-partition produce: 7 against 1; appends ran at 330k against 670k records/s).
 * Both kinds of rows read alike, so one file may be opened either way. A segment file
 * is removed once retention has deleted every row naming it; rows in segments are in segment order (each
 * append goes to the newest), so the first such row of a partition names the oldest segment still needed.
 *
 * A batch's rowid IS the position of its first record: id = topic_id << 51 | partition << 41 | base_offset
 * (12 bits of topic, 10 of partition, 41 of offset: 4095 topics, 1024 partitions, 2.2e12 offsets each).
 * A fetch seeks the last batch whose id is <= the wanted position, then scans forward while batches can
 * still hold wanted offsets (base < offset + maxRecords), all in one statement and one rowid range.
 * The id is never read back whole (it exceeds 2^53); SQL returns `id - partition start` instead.
 *
 * Invariants, each kept by doing the change inside one BEGIN IMMEDIATE transaction, so several
 * processes may produce, consume and enforce retention on one file at once:
 *   - a partition holds exactly the offsets [low_watermark, high_watermark), no gaps: its batches tile
 *     that range, each starting where the one before ended (base + record_count), the first at
 *     low_watermark;
 *   - produce assigns offsets from high_watermark and raises it in the same transaction;
 *   - retention deletes only a prefix of records and raises low_watermark to match: whole batches, and
 *     when the prefix ends inside a batch, that batch is rewritten without its deleted records;
 *   - size_bytes is the sum of key + value + encoded-headers bytes of the records still present, and
 *     each batch's size_bytes is that sum over its own records.
 *
 * Schema 1 stored one row per record in a `records` table; opening such a file converts it in place
 * (upgradeFromRecordRows), inside the same transaction that bumps the version.
 */
const SCHEMA_VERSION = 3;
const TOPIC_SHIFT = 51;
const PARTITION_SHIFT = 41;
const MAX_TOPIC_ID = 4095;
const MAX_OFFSET = 2 ** 41 - 1;
const OFFSET_MASK = "0x1FFFFFFFFFF";
const PARTITION_START = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}))`;
// "+", not "|": for the last partition, (partition + 1) << shift carries into the topic bits.
// better-sqlite3 binds JS numbers as REAL, and an INTEGER plus a REAL is a REAL, which cannot hold an id
// above 2^53 exactly: every offset added to a partition start is CAST to INTEGER first.
const PARTITION_END = `((@topic << ${TOPIC_SHIFT}) + ((@partition + 1) << ${PARTITION_SHIFT}))`;

/** Batch rows retention inspects and deletes per transaction, so it never holds the write lock for long. */
const RETENTION_BATCHES = 32;
/** Records per batch row when converting a schema-1 file. */
const UPGRADE_BATCH_RECORDS = 1000;
/** Schema-1 rows read per statement while converting. */
const UPGRADE_PAGE_ROWS = 10_000;
/** Kafka's max.poll.records default. */
const DEFAULT_MAX_RECORDS = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS topics (
  topic_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL,
  retention_max_age_ms INTEGER,
  retention_max_size_bytes INTEGER,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  high_watermark INTEGER NOT NULL,
  low_watermark INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY,
  last_offset INTEGER NOT NULL,
  record_count INTEGER NOT NULL,
  max_timestamp_ms INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  records BLOB NOT NULL,
  segment INTEGER,
  pos INTEGER,
  length INTEGER,
  crc INTEGER
);
CREATE TABLE IF NOT EXISTS segments (
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  segment INTEGER NOT NULL,
  end_pos INTEGER NOT NULL,
  PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
  group_name TEXT NOT NULL,
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  committed_ms INTEGER NOT NULL,
  PRIMARY KEY (group_name, topic_id, partition)
) WITHOUT ROWID;
`;

const INSERT_BATCH = `INSERT INTO batches (id, last_offset, record_count, max_timestamp_ms, size_bytes, records, segment, pos, length, crc)
  VALUES ((? << ${TOPIC_SHIFT}) | (? << ${PARTITION_SHIFT}) | ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** A batch row's stored bytes: `records` itself when `segment` is null, else the span of a segment file. */
const BATCH_BYTES = "records, segment, pos, length, crc";
type StoredBytes = [
  records: Buffer,
  segment: number | null,
  pos: number | null,
  length: number | null,
  crc: number | null,
];
const EMPTY = Buffer.alloc(0);

interface TopicMeta {
  id: number;
  name: string;
  partitions: number;
  /** Null-key placement, per topic and per process, like a Kafka producer's. */
  sticky: StickyPartitioner;
}

type TopicRow = {
  topic_id: number;
  name: string;
  partitions: number;
  retention_max_age_ms: number | null;
  retention_max_size_bytes: number | null;
};

type PartitionRow = { partition: number; high_watermark: number; low_watermark: number };

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(db: Database.Database) {
  return {
    topicByName: db.prepare<[string], TopicRow>("SELECT * FROM topics WHERE name = ?"),
    allTopics: db.prepare<[], TopicRow>("SELECT * FROM topics ORDER BY name"),
    maxTopicId: db.prepare<[], number>("SELECT ifnull(max(topic_id), 0) FROM topics").pluck(),
    insertTopic: db.prepare(
      "INSERT INTO topics (topic_id, name, partitions, retention_max_age_ms, retention_max_size_bytes, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    updateRetention: db.prepare(
      "UPDATE topics SET retention_max_age_ms = ?, retention_max_size_bytes = ? WHERE topic_id = ?",
    ),
    insertPartition: db.prepare(
      "INSERT INTO partitions (topic_id, partition, high_watermark, low_watermark, size_bytes) VALUES (?, ?, 0, 0, 0)",
    ),
    partitionsOf: db.prepare<[number], PartitionRow>(
      "SELECT partition, high_watermark, low_watermark FROM partitions WHERE topic_id = ? ORDER BY partition",
    ),
    /** Reserves `count` offsets; the returned new high watermark minus `count` is the first one. */
    reserveOffsets: db
      .prepare<[number, number, number, number], number>(
        "UPDATE partitions SET high_watermark = high_watermark + ?, size_bytes = size_bytes + ? WHERE topic_id = ? AND partition = ? RETURNING high_watermark",
      )
      .pluck(),
    /** Batches that may hold offsets [offset, offset + limit): the one holding `offset`, then later ones. */
    fetch: db
      .prepare<{ topic: number; partition: number; offset: number; limit: number }, [number, ...StoredBytes]>(
        `SELECT id - ${PARTITION_START}, ${BATCH_BYTES} FROM batches
         WHERE id >= ifnull(
             (SELECT id FROM batches
              WHERE id >= ${PARTITION_START} AND id <= ${PARTITION_START} + CAST(@offset AS INTEGER) ORDER BY id DESC LIMIT 1),
             ${PARTITION_START})
           AND id < ${PARTITION_START} + CAST(min(@offset + @limit, ${MAX_OFFSET + 1}) AS INTEGER)
         ORDER BY id`,
      )
      .raw(),
    lowWatermark: db
      .prepare<[number, number], number>(
        "SELECT low_watermark FROM partitions WHERE topic_id = ? AND partition = ?",
      )
      .pluck(),
    partitionState: db.prepare<
      [number, number],
      { low_watermark: number; high_watermark: number; size_bytes: number }
    >(
      "SELECT low_watermark, high_watermark, size_bytes FROM partitions WHERE topic_id = ? AND partition = ?",
    ),
    insertBatch:
      db.prepare<
        [
          number,
          number,
          number,
          number,
          number,
          number,
          number,
          Buffer,
          number | null,
          number | null,
          number | null,
          number | null,
        ]
      >(INSERT_BATCH),
    /** [base offset, record count, max timestamp, size] of the first `limit` batches from `offset` on. */
    retentionScan: db
      .prepare<
        { topic: number; partition: number; offset: number; limit: number },
        [number, number, number, number]
      >(
        `SELECT id - ${PARTITION_START}, record_count, max_timestamp_ms, size_bytes FROM batches
         WHERE id >= ${PARTITION_START} + CAST(@offset AS INTEGER) AND id < ${PARTITION_END} ORDER BY id LIMIT @limit`,
      )
      .raw(),
    batchRecords: db
      .prepare<{ topic: number; partition: number; offset: number }, StoredBytes>(
        `SELECT ${BATCH_BYTES} FROM batches WHERE id = ${PARTITION_START} + CAST(@offset AS INTEGER)`,
      )
      .raw(),
    /** The oldest segment a partition's rows still name (rows in segments are in segment order). */
    firstSegment: db
      .prepare<{ topic: number; partition: number }, number>(
        `SELECT segment FROM batches
         WHERE id >= ${PARTITION_START} AND id < ${PARTITION_END} AND segment IS NOT NULL ORDER BY id LIMIT 1`,
      )
      .pluck(),
    newestSegment: db
      .prepare<[number, number], [number, number]>(
        "SELECT segment, end_pos FROM segments WHERE topic_id = ? AND partition = ?",
      )
      .raw(),
    setSegmentEnd: db.prepare<[number, number, number, number]>(
      `INSERT INTO segments (topic_id, partition, segment, end_pos) VALUES (?, ?, ?, ?)
       ON CONFLICT (topic_id, partition) DO UPDATE SET segment = excluded.segment, end_pos = excluded.end_pos`,
    ),
    deleteRange: db.prepare<{ topic: number; partition: number; offset: number; end: number }>(
      `DELETE FROM batches WHERE id >= ${PARTITION_START} + CAST(@offset AS INTEGER) AND id < ${PARTITION_START} + CAST(@end AS INTEGER)`,
    ),
    lowerSize: db.prepare(
      "UPDATE partitions SET low_watermark = ?, size_bytes = size_bytes - ? WHERE topic_id = ? AND partition = ?",
    ),
    commit: db.prepare(
      `INSERT INTO group_offsets (group_name, topic_id, partition, next_offset, committed_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (group_name, topic_id, partition) DO UPDATE SET next_offset = excluded.next_offset, committed_ms = excluded.committed_ms`,
    ),
    committed: db.prepare<[string, number], { partition: number; next_offset: number }>(
      "SELECT partition, next_offset FROM group_offsets WHERE group_name = ? AND topic_id = ? ORDER BY partition",
    ),
    lag: db.prepare<
      { group: string | null },
      {
        group_name: string;
        name: string;
        partition: number;
        next_offset: number | null;
        high_watermark: number;
        low_watermark: number;
      }
    >(
      `SELECT g.group_name, t.name, p.partition, c.next_offset, p.high_watermark, p.low_watermark
       FROM (SELECT DISTINCT group_name, topic_id FROM group_offsets WHERE @group IS NULL OR group_name = @group) AS g
       JOIN topics AS t ON t.topic_id = g.topic_id
       JOIN partitions AS p ON p.topic_id = g.topic_id
       LEFT JOIN group_offsets AS c
         ON c.group_name = g.group_name AND c.topic_id = g.topic_id AND c.partition = p.partition
       ORDER BY g.group_name, t.name, p.partition`,
    ),
  };
}

export class EmbeddedLog implements Log {
  readonly path: string;
  #db: Database.Database | null;
  readonly #sql: Statements;
  readonly #topics = new Map<string, TopicMeta>();
  readonly #appendTx: Database.Transaction<
    (meta: TopicMeta, records: readonly ProduceRecord[]) => RecordPosition[]
  >;
  readonly #commitTx: Database.Transaction<
    (group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number) => void
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
  readonly #checkpointer: WalCheckpointer | undefined;
  /** Where partitions' segment folders go; undefined for an in-memory log, whose rows keep their bytes. */
  readonly #segmentsDir: string | undefined;
  readonly #segmentBytes: number;
  /** Whether produce appends batch bytes to segment files: not under synchronous=FULL (layout comment). */
  readonly #appendToSegments: boolean;
  /** Each partition's segment files, by topic_id * MAX_PARTITIONS + partition, made on first use. */
  readonly #files = new Map<number, SegmentFiles>();

  private constructor(
    path: string,
    db: Database.Database,
    checkpointer: WalCheckpointer | undefined,
    segmentBytes: number,
  ) {
    this.path = path;
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#segmentsDir = path === ":memory:" ? undefined : `${path}-segments`;
    this.#segmentBytes = segmentBytes;
    // synchronous 2 is FULL.
    this.#appendToSegments = db.pragma("synchronous", { simple: true }) !== 2;
    this.#sql = prepareStatements(db);
    this.#appendTx = db.transaction((meta: TopicMeta, records: readonly ProduceRecord[]) =>
      this.#append(meta, records),
    );
    this.#commitTx = db.transaction(
      (group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number) => {
        for (const { partition, offset } of offsets)
          this.#sql.commit.run(group, topicId, partition, offset, nowMs);
      },
    );
  }

  /** Opens (creating if needed) the log file; safe to call from several processes on one file. */
  static open(options: EmbeddedLogOptions): EmbeddedLog {
    const segmentBytes = segmentBytesOption(
      options.segmentBytes,
      SEGMENT_BYTES,
      "EmbeddedLog segmentBytes",
      (message) => new LogError(LogErrorCode.badArgument, message),
    );
    const { path, db, checkpointer } = openSqliteFile(
      {
        ...options,
        schema: SCHEMA,
        schemaVersion: SCHEMA_VERSION,
        upgrade: (db, fromVersion) => upgradeSchema(db, fromVersion, options.path),
      },
      (failure): LogError => {
        switch (failure.reason) {
          case "badOption":
            return new LogError(LogErrorCode.badArgument, `EmbeddedLog ${failure.message}.`);
          case "cannotOpen":
            return new LogError(LogErrorCode.storage, `The embedded log: ${failure.message}.`, {
              cause: failure.cause,
            });
          case "schemaTooNew":
            return new LogError(LogErrorCode.badArgument, `The log file ${failure.message}.`);
          case "failed":
            return toLogError(failure.cause, `opening the embedded log ${options.path}`);
        }
      },
    );
    return new EmbeddedLog(path, db, checkpointer, segmentBytes);
  }

  async ensureTopic(spec: TopicSpec): Promise<TopicInfo> {
    const db = this.#open();
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
      throw toLogError(error, `creating topic "${spec.name}"`);
    }
    return this.#describe(spec.name);
  }

  async listTopics(): Promise<TopicInfo[]> {
    this.#open();
    return this.#sql.allTopics.all().map((row) => this.#info(row));
  }

  async describeTopic(topic: string): Promise<TopicInfo> {
    this.#open();
    return this.#describe(topic);
  }

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    this.#open();
    const meta = this.#meta(topic);
    if (records.length === 0) return [];
    try {
      const positions = this.#appendTx.immediate(meta, records);
      this.#checkpointer?.start();
      return positions;
    } catch (error) {
      throw toLogError(error, `producing ${records.length} records to topic "${topic}"`);
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
    this.#open();
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
          const blob = this.#bytes(meta.id, meta.name, partition, stored, attempt > 0);
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
      throw toLogError(error, `fetching topic "${topic}" partition ${partition}`);
    }
    return out;
  }

  async commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    this.#open();
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
      this.#commitTx.immediate(group, meta.id, offsets, Date.now());
    } catch (error) {
      throw toLogError(error, `committing offsets for group "${group}" on topic "${topic}"`);
    }
  }

  async committed(group: string, topic: string): Promise<Map<number, number>> {
    this.#open();
    checkGroup(group);
    const meta = this.#meta(topic);
    const result = new Map<number, number>();
    for (const row of this.#sql.committed.all(group, meta.id)) result.set(row.partition, row.next_offset);
    return result;
  }

  async lag(group?: string): Promise<GroupTopicLag[]> {
    this.#open();
    const result: GroupTopicLag[] = [];
    let current: GroupTopicLag | null = null;
    for (const row of this.#sql.lag.all({ group: group ?? null })) {
      if (current === null || current.group !== row.group_name || current.topic !== row.name) {
        current = { group: row.group_name, topic: row.name, partitions: [], totalLag: 0 };
        result.push(current);
      }
      const from = row.next_offset ?? row.low_watermark;
      const partitionLag: PartitionLag = {
        partition: row.partition,
        committed: row.next_offset,
        highWatermark: row.high_watermark,
        lag: Math.max(0, row.high_watermark - from),
      };
      current.partitions.push(partitionLag);
      current.totalLag += partitionLag.lag;
    }
    return result;
  }

  async enforceRetention(nowMs: number = Date.now(), topics?: readonly string[]): Promise<number> {
    const db = this.#open();
    const only = topics === undefined ? undefined : new Set(topics);
    let deleted = 0;
    try {
      for (const topic of this.#sql.allTopics.all()) {
        if (only !== undefined && !only.has(topic.name)) continue;
        const maxAgeMs = topic.retention_max_age_ms;
        const maxSizeBytes = topic.retention_max_size_bytes;
        if (maxAgeMs === null && maxSizeBytes === null) continue;
        for (let partition = 0; partition < topic.partitions; partition++) {
          const before = deleted;
          if (maxAgeMs !== null) {
            const cutoffMs = nowMs - maxAgeMs;
            while (true) {
              const step = db.transaction(() => this.#trimPrefix(topic, partition, { cutoffMs })).immediate();
              deleted += step.deleted;
              if (step.done) break;
            }
          }
          if (maxSizeBytes !== null) {
            while (true) {
              const step = db
                .transaction(() => this.#trimPrefix(topic, partition, { maxSizeBytes }))
                .immediate();
              deleted += step.deleted;
              if (step.done) break;
            }
          }
          if (deleted > before) this.#removeUnusedSegments(topic, partition);
        }
      }
    } catch (error) {
      throw toLogError(error, "enforcing retention");
    }
    return deleted;
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    await this.#checkpointer?.stop();
    for (const files of this.#files.values()) files.close();
    this.#files.clear();
    db.close();
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
      const files = this.#appendToSegments ? this.#filesOf(meta.id, meta.name, p) : undefined;
      files?.begin();
      for (const batch of batches) {
        this.#insertBatch(meta.id, p, offset, batch, files);
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

  /**
   * One bounded retention step on one partition, inside a write transaction: deletes the longest
   * prefix of records (in at most RETENTION_BATCHES batch rows) that is expired by age or needed to
   * bring size_bytes down to maxSizeBytes. Whole batches go by their max_timestamp_ms and size_bytes
   * columns without being decoded; the batch where the prefix ends is decoded and rewritten without
   * its deleted records, so the low watermark is an exact record offset, as before batching. Deleting
   * only a prefix keeps [low, high) gap-free: a record that is young (out-of-order timestamps) shields
   * older records after it until it expires too, as a Kafka segment with one young record is kept whole.
   */
  #trimPrefix(
    topic: TopicRow,
    partition: number,
    rule: { cutoffMs: number } | { maxSizeBytes: number },
  ): { deleted: number; done: boolean } {
    const topicId = topic.topic_id;
    const state = this.#sql.partitionState.get(topicId, partition);
    if (state === undefined) return { deleted: 0, done: true };
    const cutoffMs = "cutoffMs" in rule ? rule.cutoffMs : null;
    const maxSizeBytes = "maxSizeBytes" in rule ? rule.maxSizeBytes : Number.POSITIVE_INFINITY;
    if (cutoffMs === null && state.size_bytes <= maxSizeBytes) return { deleted: 0, done: true };
    const at = { topic: topicId, partition, offset: state.low_watermark };
    const rows = this.#sql.retentionScan.all({ ...at, limit: RETENTION_BATCHES });
    let end = state.low_watermark;
    let freedBytes = 0;
    let cut = 0;
    let done = rows.length < RETENTION_BATCHES;
    for (const [baseOffset, recordCount, maxTimestampMs, sizeBytes] of rows) {
      const remaining = state.size_bytes - freedBytes;
      if (cutoffMs === null && remaining <= maxSizeBytes) {
        done = true;
        break;
      }
      // Every record goes: all are older than the cutoff, or dropping all but the last still leaves
      // more than maxSizeBytes.
      if (cutoffMs !== null ? maxTimestampMs < cutoffMs : remaining - sizeBytes > maxSizeBytes) {
        end = baseOffset + recordCount;
        freedBytes += sizeBytes;
        continue;
      }
      const stored = this.#sql.batchRecords.get({ ...at, offset: baseOffset })!;
      const blob = this.#bytes(topicId, topic.name, partition, stored, true)!;
      const summary = summarizeBatch(blob, { topic: topic.name, partition, baseOffset });
      let cutBytes = 0;
      while (cut < recordCount) {
        const drop =
          cutoffMs !== null ? summary.timestampsMs[cut] < cutoffMs : remaining - cutBytes > maxSizeBytes;
        if (!drop) break;
        cutBytes += summary.sizesBytes[cut];
        cut++;
      }
      if (cut === recordCount) {
        end = baseOffset + recordCount;
        freedBytes += sizeBytes;
        cut = 0;
        continue;
      }
      if (cut > 0) {
        this.#rewriteWithout(topic, partition, baseOffset, blob, cut);
        freedBytes += cutBytes;
      }
      done = true;
      break;
    }
    if (end > state.low_watermark) this.#sql.deleteRange.run({ ...at, end });
    const low = end + cut;
    const deleted = low - state.low_watermark;
    if (deleted > 0) this.#sql.lowerSize.run(low, freedBytes, topicId, partition);
    return { deleted, done };
  }

  /**
   * Stores one encoded batch as the row of its first offset: its bytes appended to `files` (inside a
   * begin/finish of theirs), or kept in the row when there are none.
   */
  #insertBatch(
    topicId: number,
    partition: number,
    baseOffset: number,
    batch: EncodedBatch,
    files: SegmentFiles | undefined,
  ): void {
    const span = files?.append(batch.bytes);
    this.#sql.insertBatch.run(
      topicId,
      partition,
      baseOffset,
      baseOffset + batch.count - 1,
      batch.count,
      batch.maxTimestampMs,
      batch.sizeBytes,
      span === undefined ? batch.bytes : EMPTY,
      span?.segment ?? null,
      span?.pos ?? null,
      span?.length ?? null,
      span?.crc ?? null,
    );
  }

  /**
   * A batch row's bytes: the row's own, or read from its segment file. Undefined when that file is gone
   * (retention removed it since the row was read) and `mustExist` is false.
   */
  #bytes(
    topicId: number,
    topicName: string,
    partition: number,
    [records, segment, pos, length, crc]: StoredBytes,
    mustExist: boolean,
  ): Buffer | undefined {
    if (segment === null) return records;
    const files = this.#filesOf(topicId, topicName, partition)!;
    const span: SegmentSpan = { segment, pos: pos!, length: length!, crc: crc! };
    return mustExist ? files.read(span) : files.tryRead(span);
  }

  /** A partition's segment files; undefined for an in-memory log. */
  #filesOf(topicId: number, topicName: string, partition: number): SegmentFiles | undefined {
    if (this.#segmentsDir === undefined) return undefined;
    const key = topicId * MAX_PARTITIONS + partition;
    let files = this.#files.get(key);
    if (files === undefined) {
      const sql = this.#sql;
      files = new SegmentFiles(
        join(this.#segmentsDir, `${topicName}-${partition}`),
        {
          newest: () => sql.newestSegment.get(topicId, partition),
          setEnd: (segment, end) => sql.setSegmentEnd.run(topicId, partition, segment, end),
        },
        {
          syncCommits: false,
          segmentBytes: this.#segmentBytes,
          owner: "The embedded log",
          restoreHint: `restore the data folder (the log file ${this.path} and its -segments folder together) from a backup, or remove both to start a new log (their records are lost)`,
          error: (message, cause) => new LogError(LogErrorCode.storage, message, { cause }),
        },
      );
      this.#files.set(key, files);
    }
    return files;
  }

  /** Removes a partition's segment files that no batch row names any more (after retention deleted rows). */
  #removeUnusedSegments(topic: TopicRow, partition: number): void {
    const files = this.#filesOf(topic.topic_id, topic.name, partition);
    if (files === undefined) return;
    // With no row in a segment left, every segment but the newest (where the next append goes) is unused.
    const keep =
      this.#sql.firstSegment.get({ topic: topic.topic_id, partition }) ??
      this.#sql.newestSegment.get(topic.topic_id, partition)?.[0];
    if (keep !== undefined) files.removeBelow(keep);
  }

  /** Replaces the batch at `baseOffset` with one holding all but its first `cut` records. */
  #rewriteWithout(topic: TopicRow, partition: number, baseOffset: number, blob: Buffer, cut: number): void {
    const topicId = topic.topic_id;
    const records = decodeBatch(blob, { topic: topic.name, partition, baseOffset });
    this.#sql.deleteRange.run({ topic: topicId, partition, offset: baseOffset, end: baseOffset + 1 });
    this.#encoder.reset();
    for (let from = cut; from < records.length; ) {
      const batch = this.#encoder.encode(records, null, from, records.length, 0);
      const offset = baseOffset + from;
      // Kept in the row: appended to the newest segment, it would break the segment order of the rows.
      this.#insertBatch(topicId, partition, offset, batch, undefined);
      from += batch.count;
    }
  }

  #open(): Database.Database {
    if (this.#db === null) {
      throw new LogError(
        LogErrorCode.closed,
        `The embedded log ${this.path} is closed; open a new EmbeddedLog.`,
      );
    }
    return this.#db;
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

/**
 * Brings an older file up to SCHEMA_VERSION inside openSqliteFile's IMMEDIATE transaction, after the
 * new tables exist: either the whole file is converted and its version bumped, or nothing changes.
 */
function upgradeSchema(db: Database.Database, fromVersion: number, path: string): void {
  if (fromVersion === 2) {
    // Schema 3 adds where a batch's bytes are in a segment file; the rows already stored keep theirs.
    for (const column of ["segment", "pos", "length", "crc"]) {
      db.exec(`ALTER TABLE batches ADD COLUMN ${column} INTEGER`);
    }
    return;
  }
  if (fromVersion !== 1) {
    throw new LogError(
      LogErrorCode.storage,
      `The log file ${path} has schema version ${fromVersion}, which this Pulse can neither read nor convert; ` +
        "open it with the Pulse that wrote it, or remove it (its records are lost) to start a new log.",
    );
  }
  try {
    upgradeFromRecordRows(db);
  } catch (error) {
    throw new LogError(
      LogErrorCode.storage,
      `The log file ${path} has the schema-1 layout (one row per record), and converting it to schema ${SCHEMA_VERSION} ` +
        `(one row per record batch) failed: ${errorMessage(error).replace(/\.$/, "")}. Nothing was changed. Free disk space and open it ` +
        "again, or, if its records are not needed, remove the file (or the whole data folder) to start a new log.",
      { cause: error },
    );
  }
}

/*
 * Schema 1 → 2: reads the `records` table (id = topic_id << 51 | partition << 41 | offset) in id
 * order, a page at a time (better-sqlite3 cannot write while a statement iterates), and writes each
 * run of up to UPGRADE_BATCH_RECORDS consecutive offsets of one partition as one batch row. The
 * partitions table needs no change: watermarks and size_bytes (the same byte measure) stay right.
 */
function upgradeFromRecordRows(db: Database.Database): void {
  const hasRecords = db
    .prepare<[], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'")
    .pluck()
    .get();
  if (hasRecords === 0) return;
  const page = db
    .prepare<
      { topicPartition: number; offset: number },
      [number, number, number, Buffer | null, Buffer | null, Buffer | null]
    >(
      `SELECT id >> ${PARTITION_SHIFT}, id & ${OFFSET_MASK}, timestamp_ms, key, value, headers FROM records
       WHERE id > (@topicPartition << ${PARTITION_SHIFT}) + CAST(@offset AS INTEGER) ORDER BY id LIMIT ${UPGRADE_PAGE_ROWS}`,
    )
    .raw();
  const insert = db.prepare(INSERT_BATCH);
  const encoder = new BatchEncoder();
  let pending: BatchEntry[] = [];
  let pendingTopicPartition = -1;
  let pendingBase = 0;
  const flush = () => {
    encoder.reset();
    for (let from = 0; from < pending.length; ) {
      const batch = encoder.encode(pending, null, from, pending.length, 0);
      const offset = pendingBase + from;
      insert.run(
        Math.floor(pendingTopicPartition / MAX_PARTITIONS),
        pendingTopicPartition % MAX_PARTITIONS,
        offset,
        offset + batch.count - 1,
        batch.count,
        batch.maxTimestampMs,
        batch.sizeBytes,
        batch.bytes,
        null,
        null,
        null,
        null,
      );
      from += batch.count;
    }
    pending = [];
  };
  let after = { topicPartition: 0, offset: -1 };
  for (;;) {
    const rows = page.all(after);
    for (const [topicPartition, offset, timestampMs, key, value, headers] of rows) {
      const continues =
        topicPartition === pendingTopicPartition &&
        offset === pendingBase + pending.length &&
        pending.length < UPGRADE_BATCH_RECORDS;
      if (!continues) {
        if (pending.length > 0) flush();
        pendingTopicPartition = topicPartition;
        pendingBase = offset;
      }
      pending.push({ key, value, headers: decodeHeaders(headers), timestampMs });
    }
    if (rows.length < UPGRADE_PAGE_ROWS) break;
    const last = rows[rows.length - 1];
    after = { topicPartition: last[0], offset: last[1] };
  }
  if (pending.length > 0) flush();
  db.exec("DROP TABLE records");
}

/** Keeps LogErrors as they are and turns SQLite failures into LogErrors, busy ones retriable. */
function toLogError(error: unknown, during: string): LogError {
  if (error instanceof LogError) return error;
  if (isBusy(error)) {
    return new LogError(
      LogErrorCode.busy,
      `The embedded log file is locked by another process while ${during}; retry, or raise busyTimeoutMs.`,
      { retriable: true, cause: error },
    );
  }
  return new LogError(LogErrorCode.storage, `SQLite failed while ${during}: ${errorMessage(error)}`, {
    cause: error,
  });
}
