// The embedded log's retention: deletes each partition's oldest records by age and size, a bounded step per transaction.
import type Database from "better-sqlite3";
import { type BatchEncoder, decodeBatch, summarizeBatch } from "./batch-codec.ts";
import type { LogSegments } from "./segments.ts";
import type { Statements, TopicRow } from "./statements.ts";

/** Batch rows retention inspects and deletes per transaction, so it never holds the write lock for long. */
const RETENTION_BATCHES = 32;

/**
 * Retention works on records, not whole batches: it deletes a prefix of each partition and raises the
 * low watermark to the first record kept, so the low watermark is always an exact record offset.
 * Deleting only a prefix keeps [low, high) gap-free: a record that is young (out-of-order timestamps)
 * shields older records after it until it expires too, as a Kafka segment with one young record is
 * kept whole. After a partition's rows go, its segment files no row names any more are removed.
 */
export class Retention {
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #segments: LogSegments;
  /** The log's encoder, which rewrites the batch a step cuts through; never used by two calls at once. */
  readonly #encoder: BatchEncoder;

  constructor(db: Database.Database, sql: Statements, segments: LogSegments, encoder: BatchEncoder) {
    this.#db = db;
    this.#sql = sql;
    this.#segments = segments;
    this.#encoder = encoder;
  }

  /**
   * Applies every topic's retention policy (or only those of the topics in `only`) as of `nowMs`;
   * returns how many records it deleted.
   */
  enforce(nowMs: number, only: ReadonlySet<string> | undefined): number {
    const db = this.#db;
    let deleted = 0;
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
        if (deleted > before) this.#segments.removeUnused(topic, partition);
      }
    }
    return deleted;
  }

  /**
   * One bounded retention step on one partition, inside a write transaction: deletes the longest
   * prefix of records (in at most RETENTION_BATCHES batch rows) that is expired by age or needed to
   * bring size_bytes down to maxSizeBytes. Whole batches go by their max_timestamp_ms and size_bytes
   * columns without being decoded; the batch where the prefix ends is decoded and rewritten without
   * its deleted records.
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
      const blob = this.#segments.bytes(topicId, topic.name, partition, stored, true)!;
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
      this.#segments.insert(topicId, partition, offset, batch, undefined);
      from += batch.count;
    }
  }
}
