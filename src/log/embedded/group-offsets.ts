// The embedded log's consumer-group offsets: commits, the committed offsets, and each group's lag per partition.
import type Database from "better-sqlite3";
import type { GroupTopicLag, PartitionLag, RecordPosition } from "../index.ts";
import type { Statements } from "./statements.ts";

/**
 * The group_offsets table (schema.ts) holds, per group, topic and partition, the next offset the group
 * will read. Lag is measured from it, or from the low watermark for a partition the group never
 * committed, to the high watermark.
 */
export class GroupOffsets {
  readonly #sql: Statements;
  readonly #commitTx: Database.Transaction<
    (group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number) => void
  >;

  constructor(db: Database.Database, sql: Statements) {
    this.#sql = sql;
    this.#commitTx = db.transaction(
      (group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number) => {
        for (const { partition, offset } of offsets) sql.commit.run(group, topicId, partition, offset, nowMs);
      },
    );
  }

  /** Stores every position (already checked) in one IMMEDIATE transaction. */
  commit(group: string, topicId: number, offsets: readonly RecordPosition[], nowMs: number): void {
    this.#commitTx.immediate(group, topicId, offsets, nowMs);
  }

  /** Partition → next offset, for the partitions the group has committed. */
  committed(group: string, topicId: number): Map<number, number> {
    const result = new Map<number, number>();
    for (const row of this.#sql.committed.all(group, topicId)) result.set(row.partition, row.next_offset);
    return result;
  }

  /** Every group's lag (or one group's), by group and topic, partitions in order. */
  lag(group: string | undefined): GroupTopicLag[] {
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
}
