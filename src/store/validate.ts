// Argument checks and row helpers shared by every LiveStore backend, so each rejects the same input with the same message and answers alike.
import { StoreError, StoreErrorCode } from "../errors.ts";
import { checkLimit, checkPartition } from "../lake/validate.ts";
import type { Checkpoint, DayRange, WindowRange } from "./index.ts";

export {
  checkLimit,
  checkNumbers,
  checkPartition,
  checkPosition,
  checkText,
  MAX_PARTITIONS,
} from "../lake/validate.ts";

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

export function checkFinalStartsQuery(windowMs: number, fromMs: number): void {
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

export function checkTopPagesQuery(windowMs: number, limit: number): void {
  checkWindowMs(windowMs);
  checkLimit("topPages limit", limit);
}

export function checkDayRange(range: DayRange): void {
  for (const [name, value] of Object.entries(range)) {
    if (value !== undefined && !Number.isFinite(value)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `daily ${name} must be a finite number of ms, got ${value}.`,
      );
    }
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
      "another member committed that partition meanwhile (a rebalance); nothing of the batch was written.",
    { details: { topic: checkpoint.topic, partition: checkpoint.partition, job: checkpoint.job, current } },
  );
}
