// The embedded Log: one SQLite file (better-sqlite3, WAL) that producer and consumer processes on one machine share.
import type Database from "better-sqlite3";
import { LogError, LogErrorCode } from "../errors.ts";
import { errorMessage, isBusy, openSqliteFile, type SqliteFileSettings } from "../sqlite/open-file.ts";
import { decodeHeaders, encodeHeaders } from "./header-codec.ts";
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

/**
 * NORMAL is the default because a process crash is the failure that matters for an embedded
 * single-machine log; both modes measured within noise of each other on the development VM
 * (bench/log.ts). Choose FULL when the host itself may lose power.
 */
export type EmbeddedLogOptions = SqliteFileSettings;

/*
 * Storage layout (schema version 1).
 *
 *   topics(topic_id INTEGER PRIMARY KEY, name UNIQUE, partitions, retention_max_age_ms, retention_max_size_bytes)
 *   partitions(topic_id, partition, high_watermark, low_watermark, size_bytes)  PK (topic_id, partition), WITHOUT ROWID
 *   records(id INTEGER PRIMARY KEY, timestamp_ms, key BLOB, value BLOB, headers BLOB)
 *   group_offsets(group_name, topic_id, partition, next_offset, committed_ms)  PK (group_name, topic_id, partition)
 *
 * A record's rowid IS its position: id = topic_id << 51 | partition << 41 | offset
 * (12 bits of topic, 10 of partition, 41 of offset: 4095 topics, 1024 partitions, 2.2e12 offsets
 * each). One table B-tree keyed by position means an append touches no secondary index, and a
 * fetch is one rowid range scan; a WITHOUT ROWID table keyed (topic, partition, offset) measured
 * slower for ~200-byte rows (its interior pages hold whole rows), and a rowid table plus an index
 * measured slower to read. The id is never read back whole (it exceeds 2^53); SQL computes it and
 * returns `id & OFFSET_MASK`.
 *
 * Invariants, each kept by doing the change inside one BEGIN IMMEDIATE transaction, so several
 * processes may produce, consume and enforce retention on one file at once:
 *   - a partition holds exactly the offsets [low_watermark, high_watermark), no gaps;
 *   - produce assigns offsets from high_watermark and raises it in the same transaction;
 *   - retention deletes only a prefix and raises low_watermark to match;
 *   - size_bytes is the sum of key + value + encoded-headers bytes of the records still present.
 */
const SCHEMA_VERSION = 1;
const TOPIC_SHIFT = 51;
const PARTITION_SHIFT = 41;
const MAX_TOPIC_ID = 4095;
const MAX_PARTITIONS = 1024;
const MAX_OFFSET = 2 ** 41 - 1;
const OFFSET_MASK = "0x1FFFFFFFFFF";
const ID = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @offset)`;
// "+", not "|": for the last partition, (partition + 1) << shift carries into the topic bits.
const PARTITION_END = `((@topic << ${TOPIC_SHIFT}) + ((@partition + 1) << ${PARTITION_SHIFT}))`;
const RECORD_BYTES = "(ifnull(length(key), 0) + ifnull(length(value), 0) + ifnull(length(headers), 0))";

/** Rows bound per INSERT: one native call for many records measured 1.2-2x faster than one per record. */
const INSERT_CHUNK = 50;
const INSERT_COLUMNS = 7;
/** Rows retention inspects and deletes per transaction, so it never holds the write lock for long. */
const RETENTION_BATCH = 2000;
/** Kafka's max.poll.records default. */
const DEFAULT_MAX_RECORDS = 500;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

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
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY,
  timestamp_ms INTEGER NOT NULL,
  key BLOB,
  value BLOB,
  headers BLOB
);
CREATE TABLE IF NOT EXISTS group_offsets (
  group_name TEXT NOT NULL,
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  committed_ms INTEGER NOT NULL,
  PRIMARY KEY (group_name, topic_id, partition)
) WITHOUT ROWID;
`;

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
    fetch: db
      .prepare<{ topic: number; partition: number; offset: number; limit: number }, unknown[]>(
        `SELECT id & ${OFFSET_MASK}, timestamp_ms, key, value, headers FROM records WHERE id >= ${ID} AND id < ${PARTITION_END} ORDER BY id LIMIT @limit`,
      )
      .raw(),
    partitionState: db.prepare<
      [number, number],
      { low_watermark: number; high_watermark: number; size_bytes: number }
    >(
      "SELECT low_watermark, high_watermark, size_bytes FROM partitions WHERE topic_id = ? AND partition = ?",
    ),
    retentionScan: db
      .prepare<{ topic: number; partition: number; offset: number; limit: number }, [number, number, number]>(
        `SELECT id & ${OFFSET_MASK}, timestamp_ms, ${RECORD_BYTES} FROM records WHERE id >= ${ID} AND id < ${PARTITION_END} ORDER BY id LIMIT @limit`,
      )
      .raw(),
    deleteRange: db.prepare<{ topic: number; partition: number; offset: number; end: number }>(
      `DELETE FROM records WHERE id >= ${ID} AND id < ((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @end)`,
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
  readonly #insertOne: Database.Statement;
  readonly #insertChunk: Database.Statement;
  readonly #insertTails = new Map<number, Database.Statement>();
  readonly #appendTx: Database.Transaction<
    (meta: TopicMeta, records: readonly ProduceRecord[]) => RecordPosition[]
  >;
  readonly #commitTx: Database.Transaction<
    (group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number) => void
  >;

  // Scratch space reused by every produce call, grown on demand: the hot path allocates only the
  // returned positions and the encoded headers of records that have headers.
  #recordPartition = new Int32Array(1024);
  #order = new Int32Array(1024);
  #encodedHeaders: (Buffer | null)[] = [];
  #partitionCount = new Int32Array(MAX_PARTITIONS);
  #partitionBytes = new Float64Array(MAX_PARTITIONS);
  #partitionCursor = new Int32Array(MAX_PARTITIONS + 1);
  #partitionBase = new Float64Array(MAX_PARTITIONS);
  readonly #chunkArgs: unknown[] = new Array(INSERT_CHUNK * INSERT_COLUMNS).fill(null);
  #batchTimestampMs = 0;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#insertOne = db.prepare(insertSql(1));
    this.#insertChunk = db.prepare(insertSql(INSERT_CHUNK));
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
    const { path, db } = openSqliteFile(
      { ...options, schema: SCHEMA, schemaVersion: SCHEMA_VERSION },
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
    return new EmbeddedLog(path, db);
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
      return this.#appendTx.immediate(meta, records);
    } catch (error) {
      throw toLogError(error, `producing ${records.length} records to topic "${topic}"`);
    } finally {
      // Don't keep the caller's buffers alive until the next batch.
      this.#chunkArgs.fill(null);
      this.#encodedHeaders.fill(null, 0, records.length);
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
    checkPartition(meta, partition);
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
    let rows: unknown[][];
    try {
      rows = this.#sql.fetch.all({ topic: meta.id, partition, offset, limit: maxRecords }) as unknown[][];
    } catch (error) {
      throw toLogError(error, `fetching topic "${topic}" partition ${partition}`);
    }
    const out = new Array<LogRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      out[i] = {
        topic,
        partition,
        offset: row[0] as number,
        key: row[2] as Buffer | null,
        value: row[3] as Buffer | null,
        headers: decodeHeaders(row[4] as Buffer | null),
        timestampMs: row[1] as number,
      };
    }
    return out;
  }

  async commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    this.#open();
    checkGroup(group);
    const meta = this.#meta(topic);
    for (const position of offsets) {
      checkPartition(meta, position.partition);
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

  async enforceRetention(nowMs: number = Date.now()): Promise<number> {
    const db = this.#open();
    let deleted = 0;
    try {
      for (const topic of this.#sql.allTopics.all()) {
        const maxAgeMs = topic.retention_max_age_ms;
        const maxSizeBytes = topic.retention_max_size_bytes;
        if (maxAgeMs === null && maxSizeBytes === null) continue;
        for (let partition = 0; partition < topic.partitions; partition++) {
          if (maxAgeMs !== null) {
            const cutoffMs = nowMs - maxAgeMs;
            while (true) {
              const step = db
                .transaction(() => this.#trimPrefix(topic.topic_id, partition, (ts) => ts < cutoffMs))
                .immediate();
              deleted += step.deleted;
              if (step.done) break;
            }
          }
          if (maxSizeBytes !== null) {
            while (true) {
              const step = db
                .transaction(() => this.#trimPrefix(topic.topic_id, partition, null, maxSizeBytes))
                .immediate();
              deleted += step.deleted;
              if (step.done) break;
            }
          }
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
    db.close();
  }

  /*
   * Append, inside BEGIN IMMEDIATE. Pass 1 places each record and sums bytes per partition; a
   * counting sort then groups the batch by partition (stable, so batch order is offset order within
   * a partition) so inserts walk one B-tree region at a time; each touched partition reserves its
   * offsets with one UPDATE … RETURNING; pass 2 binds rows into a reused multi-row INSERT.
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
    const encodedHeaders = this.#encodedHeaders;
    const count = this.#partitionCount;
    const bytes = this.#partitionBytes;
    const cursor = this.#partitionCursor;
    const base = this.#partitionBase;
    count.fill(0, 0, numPartitions);
    bytes.fill(0, 0, numPartitions);
    this.#batchTimestampMs = Date.now();

    let stickyPartition = -1;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      if (record.key !== null) checkBytes(record.key, "key", meta.name);
      if (record.value !== null) checkBytes(record.value, "value", meta.name);
      let partition = record.partition;
      if (partition !== undefined) {
        checkPartition(meta, partition);
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
      const headers = encodeHeaders(record.headers);
      encodedHeaders[i] = headers;
      recordPartition[i] = partition;
      count[partition]++;
      bytes[partition] +=
        (record.key === null ? 0 : record.key.length) +
        (record.value === null ? 0 : record.value.length) +
        (headers === null ? 0 : headers.length);
    }

    // Reserve offsets and lay out the counting sort.
    let start = 0;
    for (let p = 0; p < numPartitions; p++) {
      cursor[p] = start;
      const c = count[p];
      start += c;
      if (c === 0) continue;
      const high = this.#sql.reserveOffsets.get(c, bytes[p], meta.id, p)!;
      if (high > MAX_OFFSET) {
        throw new LogError(
          LogErrorCode.badArgument,
          `Topic "${meta.name}" partition ${p} reached the embedded log's offset limit (${MAX_OFFSET}); move to a new topic.`,
        );
      }
      base[p] = high - c;
    }
    const positions = new Array<RecordPosition>(n);
    for (let i = 0; i < n; i++) {
      const p = recordPartition[i];
      order[cursor[p]++] = i;
      positions[i] = { partition: p, offset: 0 };
    }
    const args = this.#chunkArgs;
    let inChunk = 0;
    let groupStart = 0;
    for (let p = 0; p < numPartitions; p++) {
      const groupEnd = groupStart + count[p];
      let offset = base[p];
      for (let slot = groupStart; slot < groupEnd; slot++) {
        const i = order[slot];
        const record = records[i];
        positions[i].offset = offset;
        const a = inChunk * INSERT_COLUMNS;
        args[a] = meta.id;
        args[a + 1] = p;
        args[a + 2] = offset;
        args[a + 3] = record.timestampMs ?? this.#batchTimestampMs;
        args[a + 4] = record.key;
        args[a + 5] = record.value;
        args[a + 6] = encodedHeaders[i];
        offset++;
        if (++inChunk === INSERT_CHUNK) {
          this.#insertChunk.run(args);
          inChunk = 0;
        }
      }
      groupStart = groupEnd;
    }
    if (inChunk > 0) this.#insertTail(inChunk).run(args.slice(0, inChunk * INSERT_COLUMNS));
    return positions;
  }

  #insertTail(rows: number): Database.Statement {
    if (rows === 1) return this.#insertOne;
    let statement = this.#insertTails.get(rows);
    if (statement === undefined) {
      statement = this.#open().prepare(insertSql(rows));
      this.#insertTails.set(rows, statement);
    }
    return statement;
  }

  /**
   * One bounded retention step on one partition, inside a write transaction: deletes the longest
   * prefix (of at most RETENTION_BATCH records) that is expired by age or needed to bring size_bytes
   * down to maxSizeBytes. Deleting only a prefix keeps [low, high) gap-free: a record that is young
   * (out-of-order timestamps) shields older records after it until it expires too, as a Kafka
   * segment with one young record is kept whole.
   */
  #trimPrefix(
    topicId: number,
    partition: number,
    expired: ((timestampMs: number) => boolean) | null,
    maxSizeBytes?: number,
  ): { deleted: number; done: boolean } {
    const state = this.#sql.partitionState.get(topicId, partition);
    if (state === undefined) return { deleted: 0, done: true };
    if (maxSizeBytes !== undefined && state.size_bytes <= maxSizeBytes) return { deleted: 0, done: true };
    const rows = this.#sql.retentionScan.all({
      topic: topicId,
      partition,
      offset: state.low_watermark,
      limit: RETENTION_BATCH,
    });
    let end = state.low_watermark;
    let freedBytes = 0;
    let done = rows.length < RETENTION_BATCH;
    for (const [offset, timestampMs, sizeBytes] of rows) {
      const drop =
        expired !== null ? expired(timestampMs) : state.size_bytes - freedBytes > (maxSizeBytes as number);
      if (!drop) {
        done = true;
        break;
      }
      end = offset + 1;
      freedBytes += sizeBytes;
    }
    const deleted = end - state.low_watermark;
    if (deleted > 0) {
      this.#sql.deleteRange.run({ topic: topicId, partition, offset: state.low_watermark, end });
      this.#sql.lowerSize.run(end, freedBytes, topicId, partition);
    }
    return { deleted, done };
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

function insertSql(rows: number): string {
  const row = `((? << ${TOPIC_SHIFT}) | (? << ${PARTITION_SHIFT}) | ?, ?, ?, ?, ?)`;
  return `INSERT INTO records (id, timestamp_ms, key, value, headers) VALUES ${new Array(rows).fill(row).join(", ")}`;
}

function validateTopicSpec(spec: TopicSpec): void {
  if (typeof spec.name !== "string" || !TOPIC_NAME.test(spec.name)) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Topic name ${JSON.stringify(spec.name)} is invalid: use 1-249 of the characters a-z A-Z 0-9 . _ - (Kafka's rule).`,
    );
  }
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1 || spec.partitions > MAX_PARTITIONS) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Topic "${spec.name}" partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${spec.partitions}.`,
    );
  }
  const { maxAgeMs, maxSizeBytes } = spec.retention ?? {};
  for (const [field, value] of [
    ["maxAgeMs", maxAgeMs],
    ["maxSizeBytes", maxSizeBytes],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LogError(
        LogErrorCode.badArgument,
        `Topic "${spec.name}" retention.${field} must be a non-negative integer, got ${value}.`,
      );
    }
  }
}

function checkPartition(meta: TopicMeta, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitions) {
    throw new LogError(
      LogErrorCode.badPartition,
      `Topic "${meta.name}" has partitions 0-${meta.partitions - 1}; partition ${partition} does not exist.`,
      { details: { topic: meta.name, partition, partitions: meta.partitions } },
    );
  }
}

function checkBytes(bytes: unknown, field: "key" | "value", topic: string): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Record ${field} must be a Buffer or null (topic "${topic}"), got ${typeof bytes}; serialize it first.`,
    );
  }
}

function checkGroup(group: string): void {
  if (typeof group !== "string" || group.length === 0) {
    throw new LogError(LogErrorCode.badArgument, "Consumer group name must be a non-empty string.");
  }
}

function unknownTopic(topic: string, path: string): LogError {
  return new LogError(
    LogErrorCode.unknownTopic,
    `Topic "${topic}" does not exist in the embedded log ${path}; create it first with ensureTopic({ name: "${topic}", partitions: N }).`,
    { details: { topic } },
  );
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
