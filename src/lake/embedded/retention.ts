// The embedded raw lake's retention: per partition, the oldest batches wholly before an event-time cutoff and loaded by the warehouse are deleted, then the segment files no batch names.
import type Database from "better-sqlite3";
import type { SegmentFiles } from "../../sqlite/segment-files.ts";
import { readRawEventTime, scanRawBatch } from "../batch.ts";
import { batchRetention, type LakeRetention, type LakeRetentionResult } from "../index.ts";
import { batchBytes } from "./segments.ts";
import type { LakeStatements, RawBatchRow } from "./statements.ts";

/** Batches looked at per step; each step's deletes are one short write transaction. */
const STEP_BATCHES = 64;

/*
 * Retention deletes a prefix of each partition's batches, as the log's does: it walks a partition in
 * offset order and stops at the first batch that holds an event at or after the cutoff, or that ends past
 * the partition's loaded offset. So the lake keeps a gap-free run of offsets per partition, and the
 * batch layer's day reloads know which rows the lake still holds (its first offsets). A batch's event
 * times are read from its records' headers outside the write transaction (batches never change once
 * committed, so the stream job's commits are not held up by the reads); the deletes go in one short
 * BEGIN IMMEDIATE transaction a step. Segment files are append-only: one is removed once no batch row
 * names it, and the newest never is.
 */
export function enforceLakeRetention(
  db: Database.Database,
  sql: LakeStatements,
  segments: SegmentFiles | undefined,
  retention: LakeRetention,
): LakeRetentionResult {
  const result: LakeRetentionResult = { batches: 0, events: 0, partitionsHeld: 0 };
  const topics = db
    .prepare<[], [number, string]>("SELECT topic_id, name FROM raw_topics ORDER BY topic_id")
    .raw();
  const deleteBatch = db.prepare<{ topic: number; partition: number; offset: number; last: number }>(
    `${sql.deleteRawBatchesBetween.source} AND last_offset = @last`,
  );
  for (const [topicId, name] of topics.all()) {
    let partition = 0;
    for (;;) {
      const next = sql.nextRawPartition.get({ topic: topicId, partition });
      if (next === null || next === undefined) break;
      partition = next;
      for (;;) {
        const batches = sql.rawBatchesFrom.all({ topic: topicId, partition, offset: 0, limit: STEP_BATCHES });
        const expired: RawBatchRow[] = [];
        let stop = batches.length < STEP_BATCHES;
        let events = 0;
        for (const batch of batches) {
          const span = eventSpan(segments, batch);
          const verdict = batchRetention(retention, name, partition, {
            maxEventTimeMs: span.maxEventTimeMs,
            lastOffset: batch[1],
          });
          if (verdict !== "delete") {
            if (verdict === "held") result.partitionsHeld++;
            stop = true;
            break;
          }
          expired.push(batch);
          events += span.count;
        }
        if (expired.length > 0) {
          db.transaction(() => {
            for (const [first, last] of expired)
              deleteBatch.run({ topic: topicId, partition, offset: first, last });
          }).immediate();
          result.batches += expired.length;
          result.events += events;
        }
        if (stop || expired.length === 0) break;
      }
      partition++;
    }
  }
  if (result.batches > 0 && segments !== undefined) removeUnnamedSegments(db, segments);
  return result;
}

/** A batch's greatest event time and its record count, from the record headers. */
function eventSpan(
  segments: SegmentFiles | undefined,
  batch: RawBatchRow,
): { maxEventTimeMs: number; count: number } {
  const bytes = batchBytes(segments, batch);
  let maxEventTimeMs = Number.NEGATIVE_INFINITY;
  let count = 0;
  scanRawBatch(bytes, (_offset, at) => {
    maxEventTimeMs = Math.max(maxEventTimeMs, readRawEventTime(bytes, at));
    count++;
    return true;
  });
  return { maxEventTimeMs, count };
}

/** Removes the segment files below the oldest one a batch row names (never the newest) and their end rows. */
function removeUnnamedSegments(db: Database.Database, segments: SegmentFiles): void {
  const keep = db
    .transaction(() => {
      const named = db
        .prepare<[], number | null>("SELECT min(segment) FROM raw_batches WHERE segment IS NOT NULL")
        .pluck()
        .get();
      const newest = db.prepare<[], number | null>("SELECT max(segment) FROM raw_segments").pluck().get();
      if (newest === null || newest === undefined) return undefined;
      const below = named === null || named === undefined ? newest : Math.min(named, newest);
      db.prepare("DELETE FROM raw_segments WHERE segment < ?").run(below);
      return below;
    })
    .immediate();
  if (keep !== undefined) segments.removeBelow(keep);
}
