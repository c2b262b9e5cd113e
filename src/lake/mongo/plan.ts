// Lays out a commit's raw-lake rows for the MongoDB lake: each partition's rows as pieces of raw_batches documents in offset order, checked before anything is written.
import {
  checkRawRun,
  decodeRawBatch,
  type RawBatchEncoder,
  readRawEventTime,
  readRawRecord,
  scanRawBatch,
} from "../batch.ts";
import type { LakeAppend, RawEventRow, RawRun } from "../index.ts";
import { checkNumbers, checkPartition, checkPosition, checkRawValue, checkText } from "../validate.ts";
import { checkFieldBytes, MAX_RECORDS_BYTES, type RawPiece } from "./documents.ts";

/** A partition's rows of one commit: pieces in offset order, none overlapping the next. */
export interface PartitionAppend {
  topic: string;
  partition: number;
  pieces: RawPiece[];
}

/** What a commit brings for one partition, in the order it brings it: rows, and runs already encoded. */
interface PartitionInput {
  topic: string;
  partition: number;
  rows: RawEventRow[];
  runs: RawPiece[];
  /** Whether rows and runs, in that order, are one strictly increasing run of offsets. */
  ordered: boolean;
}

const RAW_NUMBERS = ["event_time", "ingested_at"] as const;

/**
 * A commit's raw rows and runs, checked, as each partition's pieces. The stream job's runs are kept as
 * they are (no row is decoded); rows are encoded into pieces of up to 1 MiB. Where a partition's input
 * overlaps itself, a later row at an offset replaces an earlier one, as an upsert would.
 */
export function planLakeAppend(batch: LakeAppend, encoder: RawBatchEncoder): PartitionAppend[] {
  const inputs = new Map<string, PartitionInput>();
  const inputOf = (topic: string, partition: number): PartitionInput => {
    const key = `${partition}\u0000${topic}`;
    let input = inputs.get(key);
    if (input === undefined) {
      input = { topic, partition, rows: [], runs: [], ordered: true };
      inputs.set(key, input);
    }
    return input;
  };
  for (const row of batch.rawEvents ?? []) {
    checkPosition(row, "rawEvents");
    checkNumbers(row, RAW_NUMBERS, "rawEvents");
    checkRawValue(row);
    checkFieldBytes(row.value.length, "rawEvents", "value");
    const input = inputOf(row.topic, row.partition);
    const previous = input.rows.at(-1);
    if (previous !== undefined && row.offset <= previous.offset) input.ordered = false;
    input.rows.push(row);
  }
  for (const run of batch.rawRuns ?? []) {
    const piece = checkedRun(run);
    const input = inputOf(run.topic, run.partition);
    const before = input.runs.at(-1)?.last_offset ?? input.rows.at(-1)?.offset ?? -1;
    if (piece.first_offset <= before) input.ordered = false;
    input.runs.push(piece);
  }
  const out: PartitionAppend[] = [];
  for (const input of inputs.values()) {
    const { topic, partition } = input;
    if (input.ordered) {
      const pieces = piecesOf(input.rows, encoder);
      for (const run of input.runs) {
        if (run.records.length <= MAX_RECORDS_BYTES) pieces.push(run);
        else pieces.push(...piecesOf(decodeRawBatch(run.records, topic, partition), encoder));
      }
      out.push({ topic, partition, pieces });
      continue;
    }
    // Overlapping input: every row by offset, the last write of each winning.
    const byOffset = new Map<number, RawEventRow>();
    for (const row of input.rows) byOffset.set(row.offset, row);
    for (const run of input.runs) {
      for (const row of decodeRawBatch(run.records, topic, partition)) byOffset.set(row.offset, row);
    }
    const rows = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
    out.push({ topic, partition, pieces: piecesOf(rows, encoder) });
  }
  return out;
}

/** Rows of one partition, offsets strictly increasing, as pieces of up to 1 MiB (the bytes copied). */
export function piecesOf(rows: readonly RawEventRow[], encoder: RawBatchEncoder): RawPiece[] {
  const pieces: RawPiece[] = [];
  let start = 0;
  while (start < rows.length) {
    const batch = encoder.encode(rows, start, rows.length);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = start; i < start + batch.count; i++) {
      const t = rows[i]!.event_time;
      if (t < min) min = t;
      if (t > max) max = t;
    }
    pieces.push({
      first_offset: batch.firstOffset,
      last_offset: batch.lastOffset,
      count: batch.count,
      min_event_time: min,
      max_event_time: max,
      records: Buffer.from(batch.bytes),
    });
    start += batch.count;
  }
  return pieces;
}

/** A run, checked, as a piece (its bytes a view of the run's: valid until the writer resets). */
function checkedRun(run: RawRun): RawPiece {
  checkText(run.topic, "rawRuns", "topic");
  checkPartition(run.partition, "rawRuns");
  const { firstOffset, lastOffset, count, bytes } = checkRawRun(run, Number.MAX_SAFE_INTEGER);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  // A run too large for one document is split by row, and each row must fit one.
  const split = bytes.length > MAX_RECORDS_BYTES;
  scanRawBatch(bytes, (offset, at) => {
    const t = readRawEventTime(bytes, at);
    if (t < min) min = t;
    if (t > max) max = t;
    if (split) {
      const row = readRawRecord(bytes, at, run.topic, run.partition, false);
      checkFieldBytes(row.value.length, "rawRuns", `value (offset ${offset})`);
    }
    return true;
  });
  return {
    first_offset: firstOffset,
    last_offset: lastOffset,
    count,
    min_event_time: min,
    max_event_time: max,
    records: bytes,
  };
}
