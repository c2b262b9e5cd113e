// Argument and row checks shared by every LiveStore, so each backend rejects the same input with the same message.
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { Checkpoint, RawEventRow, TopPagesRow, WindowRange, WindowRows } from "./index.ts";

/** Partitions per topic a store accepts (the embedded raw lake packs the partition into 10 bits). */
export const MAX_PARTITIONS = 1024;

/** window_end − window_start, > 0 and whole ms. */
export function windowLength(row: { window_start: number; window_end: number }, kind: string): number {
  const length = row.window_end - row.window_start;
  if (!(length > 0) || !Number.isSafeInteger(row.window_start) || !Number.isSafeInteger(row.window_end)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's window must be whole ms with window_end > window_start, got [${row.window_start}, ${row.window_end}).`,
    );
  }
  return length;
}

export function checkPartition(partition: number, kind: string): number {
  if (!Number.isInteger(partition) || partition < 0 || partition >= MAX_PARTITIONS) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's partition must be a whole number in [0, ${MAX_PARTITIONS - 1}], got ${partition}.`,
    );
  }
  return partition;
}

export function checkWindowQuery(query: { windowMs: number; last: number }): void {
  checkWindowMs(query.windowMs);
  checkLimit("last", query.last);
}

export function checkWindowRange(range: WindowRange): void {
  checkWindowMs(range.windowMs);
  checkStart("fromMs", range.fromMs);
  checkStart("toMs", range.toMs);
}

function checkStart(name: string, ms: number): void {
  if (!Number.isSafeInteger(ms)) {
    throw new StoreError(StoreErrorCode.badArgument, `${name} must be a whole number of ms, got ${ms}.`);
  }
}

export function checkFinalStartsQuery(rows: WindowRows, windowMs: number, fromMs: number): void {
  if (rows !== "activity" && rows !== "wikimedia") {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `rows must be "activity" or "wikimedia", got ${JSON.stringify(rows)}.`,
    );
  }
  checkWindowMs(windowMs);
  checkStart("fromMs", fromMs);
}

export function checkWindowMs(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `windowMs must be a whole number of ms > 0, got ${windowMs}.`,
    );
  }
}

export function checkLimit(name: string, limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new StoreError(StoreErrorCode.badArgument, `${name} must be a whole number ≥ 0, got ${limit}.`);
  }
}

export function checkDayRange(range: { fromMs?: number; toMs?: number }): void {
  for (const [name, value] of Object.entries(range)) {
    if (value !== undefined && !Number.isFinite(value)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `activityDaily ${name} must be a finite number of ms, got ${value}.`,
      );
    }
  }
}

export function checkRawPositions(after: ReadonlyMap<number, number>): void {
  for (const [partition, offset] of after) {
    if (!Number.isInteger(partition) || !Number.isSafeInteger(offset)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `rawEvents positions map partitions to whole offsets, got ${partition} → ${offset}.`,
      );
    }
  }
}

/** A raw-lake row's value must be bytes: the record's value as the log held it. */
export function checkRawValue(row: RawEventRow): void {
  if (!(row.value instanceof Uint8Array)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `Raw event value must be bytes (a Uint8Array: the record's value as the log held it), got ${typeof row.value} at topic "${row.topic}" partition ${row.partition} offset ${row.offset}.`,
    );
  }
}

export function checkCheckpoint(checkpoint: Checkpoint): void {
  if (!Number.isSafeInteger(checkpoint.nextOffset) || checkpoint.nextOffset < 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `Checkpoint nextOffset must be a whole number ≥ 0, got ${checkpoint.nextOffset} (job "${checkpoint.job}", topic "${checkpoint.topic}").`,
    );
  }
  if (checkpoint.state !== undefined && !(checkpoint.state instanceof Uint8Array)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `Checkpoint state must be a Uint8Array or undefined (job "${checkpoint.job}", topic "${checkpoint.topic}").`,
    );
  }
  checkPartition(checkpoint.partition, "checkpoints");
}

/** A checkpoint without state for a partition that has none stored: nothing to keep. */
export function checkpointWithoutState(checkpoint: Checkpoint): StoreError {
  return new StoreError(
    StoreErrorCode.badArgument,
    `The first checkpoint of job "${checkpoint.job}" on ${checkpoint.topic}[${checkpoint.partition}] has no state; a partition's first checkpoint must carry its state.`,
  );
}

/** Plain string order: the order of SQLite's BINARY collation and MongoDB's default for text in the BMP. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A fenced checkpoint that another writer moved: the batch was computed from stale state. */
export function checkpointConflict(checkpoint: Checkpoint, current: number | null): StoreError {
  const where = `${checkpoint.topic}[${checkpoint.partition}] of job ${checkpoint.job}`;
  return new StoreError(
    StoreErrorCode.conflict,
    `The checkpoint of ${where} is at ${current ?? "none"}, not at ${checkpoint.expectedNextOffset ?? "none"} as the batch expected: ` +
      "another member committed that partition meanwhile (a rebalance); nothing was written. Reload the partition from its checkpoint.",
    { details: { topic: checkpoint.topic, partition: checkpoint.partition, job: checkpoint.job, current } },
  );
}

/** Top pages of one window merged over partitions: edits summed per page, most edited first, then by name. */
export function mergeTopPages(lists: Iterable<TopPagesRow["pages"]>, limit: number): TopPagesRow["pages"] {
  const edits = new Map<string, { wiki: string; title: string; edits: number }>();
  for (const pages of lists) {
    for (const page of pages) {
      const id = `${page.wiki}\u0000${page.title}`;
      const seen = edits.get(id);
      if (seen === undefined) edits.set(id, { wiki: page.wiki, title: page.title, edits: page.edits });
      else seen.edits += page.edits;
    }
  }
  return [...edits.values()]
    .sort((a, b) => b.edits - a.edits || compareText(a.wiki, b.wiki) || compareText(a.title, b.title))
    .slice(0, limit);
}
