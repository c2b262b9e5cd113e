// Argument and row checks of the raw lake, which the live store's own checks build on: every backend rejects the same input with the same message.
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { EventTimeRange, LakePosition, OffsetRange, RawEventRow } from "./index.ts";

/** Partitions per topic a store accepts (the embedded raw lake packs the partition into 10 bits). */
export const MAX_PARTITIONS = 1024;

export function checkPartition(partition: number, kind: string): number {
  if (!Number.isInteger(partition) || partition < 0 || partition >= MAX_PARTITIONS) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's partition must be a whole number in [0, ${MAX_PARTITIONS - 1}], got ${partition}.`,
    );
  }
  return partition;
}

export function checkLimit(name: string, limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new StoreError(StoreErrorCode.badArgument, `${name} must be a whole number ≥ 0, got ${limit}.`);
  }
}

export function checkText(value: unknown, kind: string, field: string): void {
  if (typeof value !== "string") {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's ${field} must be a string, got ${typeof value}.`,
    );
  }
}

export function checkNumbers<R extends object>(row: R, fields: readonly string[], kind: string): void {
  for (const field of fields) {
    const value = (row as Record<string, unknown>)[field];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `A ${kind} row's ${field} must be a finite number, got ${String(value)}.`,
      );
    }
  }
}

/** A row's place in the log: a topic, a partition the stores accept, an offset ≥ 0. */
export function checkPosition(row: { topic: string; partition: number; offset: number }, kind: string): void {
  checkText(row.topic, kind, "topic");
  checkPartition(row.partition, kind);
  if (!Number.isSafeInteger(row.offset) || row.offset < 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's offset must be a whole number ≥ 0, got ${row.offset} (topic "${row.topic}").`,
    );
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

export function checkRawPositions(after: ReadonlyMap<number, number>): void {
  for (const [partition, offset] of after) {
    if (!Number.isInteger(partition) || !Number.isSafeInteger(offset)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `scanAfter positions map partitions to whole offsets, got ${partition} → ${offset}.`,
      );
    }
  }
}

export function checkOffsetScan(partition: number, range: OffsetRange, limit: number): void {
  if (!Number.isInteger(partition) || partition < 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `scanOffsets partition must be a whole number ≥ 0, got ${partition}.`,
    );
  }
  for (const [name, offset] of [
    ["fromOffset", range.fromOffset],
    ["toOffset", range.toOffset],
  ] as const) {
    if (!Number.isSafeInteger(offset)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `scanOffsets ${name} must be a whole number, got ${offset}.`,
      );
    }
  }
  checkLimit("scanOffsets limit", limit);
}

export function checkEventTimeScan(
  range: EventTimeRange,
  limit: number,
  after: LakePosition | undefined,
): void {
  for (const [name, ms] of [
    ["fromMs", range.fromMs],
    ["toMs", range.toMs],
  ] as const) {
    if (typeof ms !== "number" || !Number.isFinite(ms)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `scanEventTime ${name} must be a finite number of ms, got ${ms}.`,
      );
    }
  }
  checkLimit("scanEventTime limit", limit);
  if (after !== undefined && (!Number.isInteger(after.partition) || !Number.isSafeInteger(after.offset))) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `scanEventTime after must be a row's position (whole partition and offset), got ${after.partition}/${after.offset}.`,
    );
  }
}
