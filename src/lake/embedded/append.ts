// The embedded raw lake's appends, run inside the live store's commit transaction: rows and runs become batch rows and segment-file bytes.
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { SegmentFiles } from "../../sqlite/segment-files.ts";
import { checkRawRun, decodeRawBatch, RawBatchEncoder } from "../batch.ts";
import type { LakeAppend, RawEventRow, RawRun } from "../index.ts";
import { checkPartition, checkRawValue } from "../validate.ts";
import { MAX_OFFSET, MAX_TOPIC_ID, type RawPosition } from "./schema.ts";
import { batchBytes } from "./segments.ts";
import { type LakeStatements, rawRunStart } from "./statements.ts";

/** The records of a batch in a segment file: the row holds its place instead (src/sqlite/segment-files.ts). */
const EMPTY = new Uint8Array(0);
const INLINE = { segment: null, pos: null, length: null, crc: null };

export class LakeAppender {
  readonly #path: string;
  readonly #sql: LakeStatements;
  /** The segment files; undefined for an in-memory store, whose batches stay in raw_batches. */
  readonly #segments: SegmentFiles | undefined;
  readonly #encoder = new RawBatchEncoder();
  /** Topic ids of the batch being appended; set only inside the commit transaction. */
  readonly #batchTopicIds = new Map<string, number>();

  constructor(path: string, sql: LakeStatements, segments: SegmentFiles | undefined) {
    this.#path = path;
    this.#sql = sql;
    this.#segments = segments;
  }

  /**
   * Inside the live store's commit transaction: appends the batch's raw rows. Any throw rolls the whole
   * commit back; bytes already appended to a segment lie past its committed end and are written over.
   */
  append(batch: LakeAppend): void {
    // Ids a rolled-back commit assigned are gone with it.
    this.#batchTopicIds.clear();
    this.#segments?.begin();
    if (batch.rawEvents?.length) this.#writeRaw(batch.rawEvents);
    for (const run of batch.rawRuns ?? []) this.#writeRawRun(run);
    this.#segments?.finish();
  }

  /**
   * Writes raw rows as batches, one run of consecutive rows of one partition at a time. The stream job
   * writes each partition's rows in offset order past its checkpoint, so runs never overlap stored
   * batches; any other caller's rows are sorted first, and a run that overlaps stored batches is merged
   * with them, its rows replacing theirs at equal offsets.
   */
  #writeRaw(input: readonly RawEventRow[]): void {
    const rows = checkRawRows(input) ? input : sortedRaw(input);
    let start = 0;
    while (start < rows.length) {
      const head = rows[start]!;
      let end = start + 1;
      while (end < rows.length && rows[end]!.partition === head.partition && rows[end]!.topic === head.topic)
        end++;
      const topic = this.#rawTopicId(head.topic);
      const partition = checkPartition(head.partition, "rawEvents");
      const last = rows[end - 1]!.offset;
      const at = { topic, partition, offset: head.offset };
      if (this.#overlapsStored(at, last)) {
        this.#mergeRaw(at, last, rows.slice(start, end));
      } else {
        this.#insertRawRows({ topic, partition, offset: head.offset }, rows, start, end);
      }
      start = end;
    }
  }

  /**
   * Writes a run as it is: it already has the stored batch format. One that overlaps stored batches (a
   * caller's rewrite) is merged with them, as rows would be.
   */
  #writeRawRun(run: RawRun): void {
    const { firstOffset, lastOffset, bytes } = checkRawRun(run, MAX_OFFSET);
    const topic = this.#rawTopicId(run.topic);
    const partition = checkPartition(run.partition, "rawRuns");
    const at = { topic, partition, offset: firstOffset };
    if (this.#overlapsStored(at, lastOffset)) {
      this.#mergeRaw(at, lastOffset, decodeRawBatch(bytes, run.topic, run.partition));
      return;
    }
    this.#insertRawBatch(at, lastOffset, bytes);
  }

  /** Stores rows[start, end) (one topic and partition, offsets increasing) as raw batches. */
  #insertRawRows(at: RawPosition, rows: readonly RawEventRow[], start: number, end: number): void {
    this.#encoder.encodeAll(rows, start, end, (offset, last, records) =>
      this.#insertRawBatch({ ...at, offset }, last, records),
    );
  }

  /** Appends a batch to the segment files and indexes it (in-memory stores keep it in the row). */
  #insertRawBatch(at: RawPosition, last: number, bytes: Uint8Array): void {
    if (this.#segments === undefined) {
      this.#sql.insertRawBatch.run({ ...at, last, records: bytes, ...INLINE });
      return;
    }
    const span = this.#segments.append(bytes);
    this.#sql.insertRawBatch.run({ ...at, last, records: EMPTY, ...span });
  }

  /** Whether a stored batch holds an offset in [at.offset, last]. */
  #overlapsStored(at: RawPosition, last: number): boolean {
    const previous = this.#sql.rawBatchAtOrBefore.get({ ...at, offset: last });
    return previous !== undefined && previous[1] >= at.offset;
  }

  /** Replaces the stored batches that overlap [at.offset, last] with one merged run. */
  #mergeRaw(at: RawPosition, last: number, run: RawEventRow[]): void {
    const from = rawRunStart(this.#sql, at);
    const byOffset = new Map<number, RawEventRow>();
    for (const batch of this.#sql.rawBatchesBetween.all({ ...at, offset: from, last })) {
      for (const row of decodeRawBatch(batchBytes(this.#segments, batch), "", at.partition))
        byOffset.set(row.offset, row);
    }
    for (const row of run) byOffset.set(row.offset, row);
    this.#sql.deleteRawBatchesBetween.run({ ...at, offset: from, last });
    const merged = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
    this.#insertRawRows(at, merged, 0, merged.length);
  }

  /** The topic's raw-lake id, assigned on first use; called only inside the commit transaction. */
  #rawTopicId(topic: string): number {
    let id = this.#batchTopicIds.get(topic);
    if (id !== undefined) return id;
    id = this.#sql.topicId.get(topic);
    if (id === undefined) {
      id = this.#sql.maxTopicId.get()! + 1;
      if (id > MAX_TOPIC_ID) {
        throw new StoreError(
          StoreErrorCode.badArgument,
          `The live store ${this.#path} already holds raw events of ${MAX_TOPIC_ID} topics, its limit; use another store file.`,
        );
      }
      this.#sql.insertTopic.run(id, topic);
    }
    this.#batchTopicIds.set(topic, id);
    return id;
  }
}

/**
 * Checks every row's offset; returns true when every run of consecutive rows of one topic and partition
 * has strictly increasing offsets (the stream job's order), so the rows need no sort.
 */
function checkRawRows(rows: readonly RawEventRow[]): boolean {
  let sorted = true;
  for (let i = 0; i < rows.length; i++) {
    const b = rows[i]!;
    checkRawOffset(b);
    const a = rows[i - 1];
    if (a !== undefined && a.partition === b.partition && a.topic === b.topic && b.offset <= a.offset)
      sorted = false;
  }
  return sorted;
}

/** Rows sorted by (topic, partition, offset), checked, the last of equal positions kept. */
function sortedRaw(rows: readonly RawEventRow[]): RawEventRow[] {
  const sorted = rows
    .map((row, i) => ({ row, i }))
    .sort(
      (a, b) =>
        (a.row.topic < b.row.topic ? -1 : a.row.topic > b.row.topic ? 1 : 0) ||
        a.row.partition - b.row.partition ||
        a.row.offset - b.row.offset ||
        a.i - b.i,
    )
    .map(({ row }) => row);
  const out: RawEventRow[] = [];
  for (const row of sorted) {
    const prev = out[out.length - 1];
    if (
      prev !== undefined &&
      prev.topic === row.topic &&
      prev.partition === row.partition &&
      prev.offset === row.offset
    ) {
      out[out.length - 1] = row;
    } else {
      out.push(row);
    }
  }
  return out;
}

function checkRawOffset(row: RawEventRow): void {
  if (!Number.isSafeInteger(row.offset) || row.offset < 0 || row.offset > MAX_OFFSET) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `Raw event offset must be a whole number in [0, ${MAX_OFFSET}], got ${row.offset} (topic "${row.topic}").`,
    );
  }
  checkRawValue(row);
}
