// The embedded log's prepared statements, one set a connection, and the shapes of the rows they return.
import type Database from "better-sqlite3";
import { INSERT_BATCH, MAX_OFFSET, PARTITION_END, PARTITION_START } from "./schema.ts";

/** A batch row's stored bytes: `records` itself when `segment` is null, else the span of a segment file. */
const BATCH_BYTES = "records, segment, pos, length, crc";
export type StoredBytes = [
  records: Buffer,
  segment: number | null,
  pos: number | null,
  length: number | null,
  crc: number | null,
];

export type TopicRow = {
  topic_id: number;
  name: string;
  partitions: number;
  retention_max_age_ms: number | null;
  retention_max_size_bytes: number | null;
};

export type PartitionRow = { partition: number; high_watermark: number; low_watermark: number };

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
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
