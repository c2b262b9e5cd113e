// The embedded raw lake's reads: a topic's batch rows partition by partition in id order, their records read from the fixed-width headers.
import type { SegmentFiles } from "../../sqlite/segment-files.ts";
import { readRawEventTime, readRawRecord, scanRawBatch } from "../batch.ts";
import type { EventTimeRange, LakePosition, OffsetRange, RawEventRow } from "../index.ts";
import { MAX_PARTITIONS } from "../validate.ts";
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

export function scanOffsets(
  lake: LakeReads,
  topic: string,
  partition: number,
  range: OffsetRange,
  limit: number,
): RawEventRow[] {
  const out: RawEventRow[] = [];
  const topicId = lake.sql.topicId.get(topic);
  // Offsets outside [0, MAX_OFFSET] and partitions past the last hold nothing, and would spill into the
  // id's other parts.
  const first = Math.max(range.fromOffset, 0);
  const end = Math.min(range.toOffset, MAX_OFFSET + 1);
  if (topicId === undefined || partition >= MAX_PARTITIONS || first >= end) return out;
  readPartition(lake, topic, topicId, partition, first, end, limit, out, undefined);
  return out;
}

export function scanAfter(
  lake: LakeReads,
  topic: string,
  after: ReadonlyMap<number, number>,
  limit: number,
): RawEventRow[] {
  return scanPartitions(lake, topic, 0, (partition) => after.get(partition), limit, undefined);
}

export function scanEventTime(
  lake: LakeReads,
  topic: string,
  range: EventTimeRange,
  limit: number,
  after: LakePosition | undefined,
): RawEventRow[] {
  if (after === undefined) return scanPartitions(lake, topic, 0, () => undefined, limit, range);
  return scanPartitions(
    lake,
    topic,
    Math.max(after.partition, 0),
    (partition) => (partition === after.partition ? after.offset : undefined),
    limit,
    range,
  );
}

/**
 * The topic's rows from partition `from` on, in (partition, offset) order: each partition's rows after
 * the offset `position` gives it (from its start when undefined), with event times in `times` when given.
 */
function scanPartitions(
  lake: LakeReads,
  topic: string,
  from: number,
  position: (partition: number) => number | undefined,
  limit: number,
  times: EventTimeRange | undefined,
): RawEventRow[] {
  const out: RawEventRow[] = [];
  const topicId = lake.sql.topicId.get(topic);
  if (topicId === undefined) return out;
  let partition = from;
  while (out.length < limit && partition < MAX_PARTITIONS) {
    const next = lake.sql.nextRawPartition.get({ topic: topicId, partition });
    if (next === null || next === undefined) break;
    partition = next;
    const after = position(partition);
    const first = after === undefined ? 0 : Math.max(after + 1, 0);
    // Past the largest offset there is nothing to read, and a larger offset would spill into the partition bits.
    if (first <= MAX_OFFSET) {
      readPartition(lake, topic, topicId, partition, first, Number.POSITIVE_INFINITY, limit, out, times);
    }
    partition++;
  }
  return out;
}

/**
 * Appends the partition's records at offsets in [first, end), with event times in `times` when given, to
 * `out`, until it holds `limit` rows. A record it does not return is looked at only in its header.
 */
function readPartition(
  lake: LakeReads,
  topic: string,
  topicId: number,
  partition: number,
  first: number,
  end: number,
  limit: number,
  out: RawEventRow[],
  times: EventTimeRange | undefined,
): void {
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
