// The embedded raw lake's prepared statements: topic ids, and batch rows found by their id (the position of their first record).
import type Database from "better-sqlite3";
import { MAX_PARTITIONS } from "../validate.ts";
import {
  OFFSET_MASK,
  PARTITION_SHIFT,
  RAW_ID,
  RAW_PARTITION_END,
  RAW_PARTITION_START,
  type RawPosition,
  TOPIC_SHIFT,
} from "./schema.ts";

/** A batch row as the reads get it: where it starts and ends, and its bytes or where they are. */
export type RawBatchRow = [
  firstOffset: number,
  lastOffset: number,
  records: Buffer,
  segment: number | null,
  pos: number | null,
  length: number | null,
  crc: number | null,
];

export interface RawBatchWrite extends RawPosition {
  last: number;
  records: Uint8Array;
  segment: number | null;
  pos: number | null;
  length: number | null;
  crc: number | null;
}

export function prepareLakeStatements(db: Database.Database) {
  return {
    topicId: db.prepare<[string], number>("SELECT topic_id FROM raw_topics WHERE name = ?").pluck(),
    maxTopicId: db.prepare<[], number>("SELECT ifnull(max(topic_id), 0) FROM raw_topics").pluck(),
    insertTopic: db.prepare("INSERT INTO raw_topics (topic_id, name) VALUES (?, ?)"),
    /** The smallest partition ≥ @partition of a topic that holds raw rows: one index seek. */
    nextRawPartition: db
      .prepare<{ topic: number; partition: number }, number | null>(
        `SELECT (min(id) >> ${PARTITION_SHIFT}) & ${MAX_PARTITIONS - 1} FROM raw_batches
         WHERE id >= ${RAW_PARTITION_START} AND id < ((@topic + 1) << ${TOPIC_SHIFT})`,
      )
      .pluck(),
    /** The batch of a partition with the greatest first offset ≤ @offset: the one that may cover it. */
    rawBatchAtOrBefore: db
      .prepare<RawPosition, [firstOffset: number, lastOffset: number]>(
        `SELECT id & ${OFFSET_MASK}, last_offset FROM raw_batches
         WHERE id <= ${RAW_ID} AND id >= ${RAW_PARTITION_START} ORDER BY id DESC LIMIT 1`,
      )
      .raw(),
    rawBatchesFrom: db
      .prepare<RawPosition & { limit: number }, RawBatchRow>(
        `SELECT id & ${OFFSET_MASK}, last_offset, records, segment, pos, length, crc FROM raw_batches
         WHERE id >= ${RAW_ID} AND id < ${RAW_PARTITION_END} ORDER BY id LIMIT @limit`,
      )
      .raw(),
    rawBatchesBetween: db
      .prepare<RawPosition & { last: number }, RawBatchRow>(
        `SELECT id & ${OFFSET_MASK}, last_offset, records, segment, pos, length, crc FROM raw_batches
         WHERE id >= ${RAW_ID} AND id <= ((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @last)
         ORDER BY id`,
      )
      .raw(),
    deleteRawBatchesBetween: db.prepare<RawPosition & { last: number }>(
      `DELETE FROM raw_batches
       WHERE id >= ${RAW_ID} AND id <= ((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @last)`,
    ),
    insertRawBatch: db.prepare<RawBatchWrite>(
      `INSERT OR REPLACE INTO raw_batches (id, last_offset, records, segment, pos, length, crc)
       VALUES (${RAW_ID}, @last, @records, @segment, @pos, @length, @crc)`,
    ),
  };
}

export type LakeStatements = ReturnType<typeof prepareLakeStatements>;

/** Where the stored batch holding `at.offset` starts; `at.offset` itself when no batch holds it. */
export function rawRunStart(sql: LakeStatements, at: RawPosition): number {
  const covering = sql.rawBatchAtOrBefore.get(at);
  return covering !== undefined && covering[1] >= at.offset ? covering[0] : at.offset;
}
