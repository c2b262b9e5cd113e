// The embedded log's storage layout: its tables (schema version 3), a batch row's id, and the conversion of schema-1 and schema-2 files.
import type Database from "better-sqlite3";
import { LogError, LogErrorCode } from "../../errors.ts";
import { errorMessage } from "../../sqlite/open-file.ts";
import { MAX_PARTITIONS } from "../validate.ts";
import { type BatchEntry, BatchEncoder } from "./batch-codec.ts";
import { decodeHeaders } from "./header-codec.ts";

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
 * 1 MiB), encoded by batch-codec.ts, as a Kafka record batch does: one B-tree insert per partition per
 * produce instead of one per record.
 *
 * A batch's bytes are appended to the partition's newest segment file, as Kafka keeps a partition's log:
 * `<log file>-segments/<topic>-<partition>/<n>.seg` (segments.ts, src/sqlite/segment-files.ts), and the
 * row holds where they are (segment, pos, length) and their CRC-32; `segments` holds each partition's
 * newest segment and its committed end. SQLite then writes a small row per batch instead of its bytes
 * twice (WAL, then checkpoint). Rows with segment NULL keep their bytes in `records`: those of an
 * in-memory log, those a schema-2 file already held, the batch retention rewrites, and every batch a log
 * opened with synchronous=FULL writes: there a produce must reach the disk before it resolves, which one
 * fsync of SQLite's WAL does for bytes in rows, where segment files would need one more per partition
 * written. Both kinds of rows read alike, so one file may be opened either way. A segment file is removed
 * once retention has deleted every row naming it; rows in segments are in segment order (each append goes
 * to the newest), so the first such row of a partition names the oldest segment still needed.
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
 * (upgradeFromRecordRows), inside the same transaction that bumps the version. Schema 2 had no
 * segment files: its rows keep their bytes.
 */
export const SCHEMA_VERSION = 3;
const TOPIC_SHIFT = 51;
const PARTITION_SHIFT = 41;
export const MAX_TOPIC_ID = 4095;
export const MAX_OFFSET = 2 ** 41 - 1;
const OFFSET_MASK = "0x1FFFFFFFFFF";
/** The id of a partition's first possible batch, in SQL, from the parameters @topic and @partition. */
export const PARTITION_START = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}))`;
// "+", not "|": for the last partition, (partition + 1) << shift carries into the topic bits.
// better-sqlite3 binds JS numbers as REAL, and an INTEGER plus a REAL is a REAL, which cannot hold an id
// above 2^53 exactly: every offset added to a partition start is CAST to INTEGER first.
/** The id just past a partition's last possible batch, in SQL. */
export const PARTITION_END = `((@topic << ${TOPIC_SHIFT}) + ((@partition + 1) << ${PARTITION_SHIFT}))`;

/** Records per batch row when converting a schema-1 file. */
const UPGRADE_BATCH_RECORDS = 1000;
/** Schema-1 rows read per statement while converting. */
const UPGRADE_PAGE_ROWS = 10_000;

export const SCHEMA = `
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

/**
 * Inserts a batch row from (topic_id, partition, base_offset, last_offset, record_count,
 * max_timestamp_ms, size_bytes, records, segment, pos, length, crc).
 */
export const INSERT_BATCH = `INSERT INTO batches (id, last_offset, record_count, max_timestamp_ms, size_bytes, records, segment, pos, length, crc)
  VALUES ((? << ${TOPIC_SHIFT}) | (? << ${PARTITION_SHIFT}) | ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * Brings an older file up to SCHEMA_VERSION inside openSqliteFile's IMMEDIATE transaction, after the
 * new tables exist: either the whole file is converted and its version bumped, or nothing changes.
 */
export function upgradeSchema(db: Database.Database, fromVersion: number, path: string): void {
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
