// The embedded raw lake's reads: a topic's batch rows partition by partition in id order, their records read from the fixed-width headers.
import type { SegmentFiles } from "../../sqlite/segment-files.ts";
import { readRawEventTime, readRawRecord, scanRawBatch } from "../batch.ts";
import type { RawEventRow } from "../index.ts";
import type { PartitionWalk } from "../scans.ts";
import { MAX_OFFSET } from "./schema.ts";
import { batchBytes } from "./segments.ts";
import { type LakeStatements, rawRunStart } from "./statements.ts";

/** Batches read per query. */
const RAW_READ_BATCHES = 8;

/** What the reads use: the statements and, for a file-backed lake, its segment files. */
export interface LakeReads {
  sql: LakeStatements;
  segments: SegmentFiles | undefined;
}

/** Runs a walk (src/lake/scans.ts) over the topic's batch rows. */
/** Each partition's greatest stored offset: the last batch of each partition that holds rows. */
export function lastOffsets(lake: LakeReads, topic: string): Map<number, number> {
  const out = new Map<number, number>();
  const topicId = lake.sql.topicId.get(topic);
  if (topicId === undefined) return out;
  let partition = 0;
  for (;;) {
    const next = lake.sql.nextRawPartition.get({ topic: topicId, partition });
    if (next === null || next === undefined) break;
    const last = lake.sql.rawBatchAtOrBefore.get({ topic: topicId, partition: next, offset: MAX_OFFSET });
    if (last !== undefined) out.set(next, last[1]);
    partition = next + 1;
  }
  return out;
}

export function walkPartitions(lake: LakeReads, walk: PartitionWalk): RawEventRow[] {
  const out: RawEventRow[] = [];
  const topicId = lake.sql.topicId.get(walk.topic);
  if (topicId === undefined) return out;
  let partition = walk.fromPartition;
  while (out.length < walk.limit && partition < walk.toPartition) {
    const next = lake.sql.nextRawPartition.get({ topic: topicId, partition });
    if (next === null || next === undefined || next >= walk.toPartition) break;
    partition = next;
    const first = walk.firstOffset(partition);
    // Past the largest offset there is nothing to read, and a larger offset would spill into the partition bits.
    if (first <= MAX_OFFSET) {
      readPartition(lake, walk, topicId, partition, first, out);
    }
    partition++;
  }
  return out;
}

/**
 * Appends the partition's records from offset `first` that the walk keeps to `out`, until it holds the
 * walk's limit. A record it does not return is looked at only in its header.
 */
function readPartition(
  lake: LakeReads,
  walk: PartitionWalk,
  topicId: number,
  partition: number,
  first: number,
  out: RawEventRow[],
): void {
  const { topic, endOffset: end, times, limit } = walk;
  let from = rawRunStart(lake.sql, { topic: topicId, partition, offset: first });
  while (out.length < limit) {
    const batches = lake.sql.rawBatchesFrom.all({
      topic: topicId,
      partition,
      offset: from,
      limit: RAW_READ_BATCHES,
    });
    for (const batch of batches) {
      if (batch[0] >= end) return;
      const records = batchBytes(lake.segments, batch);
      let ended = false;
      scanRawBatch(records, (offset, at) => {
        if (offset < first) return true;
        if (offset >= end) {
          ended = true;
          return false;
        }
        if (times !== undefined) {
          const eventTime = readRawEventTime(records, at);
          if (!(eventTime >= times.fromMs && eventTime < times.toMs)) return true;
        }
        out.push(readRawRecord(records, at, topic, partition));
        return out.length < limit;
      });
      if (ended || out.length >= limit) return;
    }
    if (batches.length < RAW_READ_BATCHES) return;
    from = batches[batches.length - 1]![0] + 1;
  }
}
