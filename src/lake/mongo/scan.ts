// The MongoDB raw lake's reads: a partition's raw_batches documents in first-offset order, merged with the older per-row raw_events documents.
import type { Db, Document } from "mongodb";
import { readRawEventTime, readRawRecord, scanRawBatch } from "../batch.ts";
import type { RawEventRow } from "../index.ts";
import type { PartitionWalk } from "../scans.ts";
import {
  batchRecords,
  RAW_BATCHES,
  RAW_EVENTS,
  type RawBatchDocument,
  type RawDocument,
  rawEventRow,
} from "./documents.ts";

/** raw_batches documents read per query: each holds up to about 1 MiB of rows. */
const DOCUMENTS_PER_READ = 16;

/*
 * A partition's documents do not overlap, except where a rewrite was cut short (lake.ts) or two writers
 * raced on one partition. Reads take the documents in first-offset order and each offset from the first
 * document that holds it, so every offset comes back once and in order; a rewrite writes the documents
 * of its new rows before it deletes those they replace, so no committed row is ever missing.
 */

/** Runs a walk (src/lake/scans.ts): one partition at a time, in order. */
export async function walkLake(db: Db, walk: PartitionWalk): Promise<RawEventRow[]> {
  const out: RawEventRow[] = [];
  const { batched, legacy } = await partitionsOf(db, walk.topic);
  const partitions = [...new Set([...batched, ...legacy])].sort((a, b) => a - b);
  for (const partition of partitions) {
    if (out.length >= walk.limit) break;
    if (partition < walk.fromPartition || partition >= walk.toPartition) continue;
    await readPartition(db, walk, partition, legacy.has(partition), out);
  }
  return out;
}

/** Each partition's greatest stored offset, over both shapes. */
export async function lakeLastOffsets(db: Db, topic: string): Promise<Map<number, number>> {
  const { batched, legacy } = await partitionsOf(db, topic);
  const out = new Map<number, number>();
  for (const partition of batched) {
    const last = await db
      .collection<RawBatchDocument>(RAW_BATCHES)
      .findOne({ topic, partition }, { sort: { last_offset: -1 }, projection: { _id: 0, last_offset: 1 } });
    if (last !== null) out.set(partition, last.last_offset);
  }
  for (const partition of legacy) {
    const last = await db
      .collection<RawDocument>(RAW_EVENTS)
      .findOne({ topic, partition }, { sort: { offset: -1 }, projection: { _id: 0, offset: 1 } });
    if (last !== null) out.set(partition, Math.max(out.get(partition) ?? -1, last.offset as number));
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** The partitions of the topic that hold documents of each shape. */
async function partitionsOf(db: Db, topic: string): Promise<{ batched: Set<number>; legacy: Set<number> }> {
  const [batched, legacy] = await Promise.all([
    db.collection(RAW_BATCHES).distinct("partition", { topic }),
    db.collection(RAW_EVENTS).distinct("partition", { topic }),
  ]);
  return { batched: new Set(batched as number[]), legacy: new Set(legacy as number[]) };
}

/**
 * Appends the partition's rows from the walk's first offset that it keeps to `out`, until it holds the
 * walk's limit: a page of documents at a time, up to the greatest offset the page settles.
 */
async function readPartition(
  db: Db,
  walk: PartitionWalk,
  partition: number,
  hasLegacy: boolean,
  out: RawEventRow[],
): Promise<void> {
  const { topic, times, limit, endOffset: end } = walk;
  const batches = db.collection<RawBatchDocument>(RAW_BATCHES);
  let from = walk.firstOffset(partition);
  while (out.length < limit && from < end) {
    const filter: Document = { topic, partition, last_offset: { $gte: from } };
    if (Number.isFinite(end)) filter.first_offset = { $lt: end };
    // With older rows to shadow, every offset of the newer documents is needed, in range or not.
    if (times !== undefined && !hasLegacy) {
      filter.min_event_time = { $lt: times.toMs };
      filter.max_event_time = { $gte: times.fromMs };
    }
    const docs = await batches
      .find(filter, { sort: { first_offset: 1 }, limit: DOCUMENTS_PER_READ, promoteBuffers: true })
      .toArray();
    // Past the last document of a full page, a later page may hold rows.
    let bound = Number.POSITIVE_INFINITY;
    if (docs.length === DOCUMENTS_PER_READ) bound = Math.max(...docs.map((doc) => doc.last_offset));
    const rows: RawEventRow[] = [];
    const offsets = hasLegacy ? new Set<number>() : undefined;
    let covered = from - 1;
    for (const doc of docs) {
      const records = batchRecords(doc);
      scanRawBatch(records, (offset, at) => {
        if (offset <= covered) return true;
        if (offset >= end) return false;
        covered = offset;
        offsets?.add(offset);
        if (times !== undefined) {
          const eventTime = readRawEventTime(records, at);
          if (!(eventTime >= times.fromMs && eventTime < times.toMs)) return true;
        }
        rows.push(readRawRecord(records, at, topic, partition, false));
        return true;
      });
    }
    let merged = rows;
    if (hasLegacy) {
      const need = limit - out.length;
      const legacy = await legacyRows(db, walk, partition, from, Math.min(end, bound + 1), need);
      if (legacy.length === need) bound = Math.min(bound, legacy.at(-1)!.offset);
      merged = mergeRows(
        rows.filter((row) => row.offset <= bound),
        legacy.filter((row) => !offsets!.has(row.offset)),
      );
    }
    for (const row of merged) {
      if (out.length >= limit) return;
      out.push(row);
    }
    if (!Number.isFinite(bound)) return;
    from = bound + 1;
  }
}

/** Up to `limit` older per-row documents of the partition in [from, to), in the walk's time range. */
async function legacyRows(
  db: Db,
  walk: PartitionWalk,
  partition: number,
  from: number,
  to: number,
  limit: number,
): Promise<RawEventRow[]> {
  const offset: Document = { $gte: from };
  if (Number.isFinite(to)) offset.$lt = to;
  const filter: Document = { topic: walk.topic, partition, offset };
  if (walk.times !== undefined) filter.event_time = { $gte: walk.times.fromMs, $lt: walk.times.toMs };
  const docs = await db
    .collection<RawDocument>(RAW_EVENTS)
    .find(filter, { sort: { offset: 1 }, limit, projection: { _id: 0 }, promoteBuffers: true })
    .toArray();
  return docs.map(rawEventRow);
}

/** Two runs of rows in offset order, with no offset in both, as one. */
function mergeRows(a: RawEventRow[], b: RawEventRow[]): RawEventRow[] {
  if (b.length === 0) return a;
  const out: RawEventRow[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.offset < b[j]!.offset)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** The rows of a partition's documents (in first-offset order), each offset from the first that holds it. */
export function rowsOfDocuments(
  docs: readonly RawBatchDocument[],
  topic: string,
  partition: number,
): RawEventRow[] {
  const rows: RawEventRow[] = [];
  let covered = -1;
  for (const doc of docs) {
    const records = batchRecords(doc);
    scanRawBatch(records, (offset, at) => {
      if (offset > covered) {
        covered = offset;
        rows.push(readRawRecord(records, at, topic, partition, false));
      }
      return true;
    });
  }
  return rows;
}
