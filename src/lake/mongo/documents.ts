// The MongoDB raw lake's documents: one raw_events document per row, keyed by its position, and the index that serves the scans.
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { RawEventRow } from "../index.ts";
import { checkNumbers, checkPosition, checkRawValue } from "../validate.ts";

/*
 *   raw_events {_id, topic, partition, offset, event_time, ingested_at, value: Binary}
 *
 * _id is the row's position as a JSON array, [topic, partition, offset]. Documents written before the lake
 * kept frames hold the event's JSON text in `payload` instead of `value`; they read back as its bytes.
 */

/** A document: its contract key as _id (JSON text), and the fields it is read back with. */
export interface RawDocument {
  _id: string;
  [field: string]: unknown;
}

/** The raw_events index, created (idempotently) when the store opens: the scans walk it. */
export const RAW_EVENTS_INDEXES = [
  { name: "by_position", key: { topic: 1, partition: 1, offset: 1 } },
] as const;

/**
 * The largest field a row of the live store's database may hold: the store's redo overflow pages take
 * one such row with room to spare, and a document stays well under MongoDB's 16 MiB.
 */
export const MAX_ROW_BYTES = 8 * 1024 * 1024 - 64 * 1024;

export function checkFieldBytes(bytes: number, kind: string, field: string): void {
  if (bytes > MAX_ROW_BYTES) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's ${field} is ${bytes} bytes, more than the ${MAX_ROW_BYTES} a MongoDB live store row may hold.`,
    );
  }
}

/**
 * A document keyed by a row's place in the log, [topic, partition, offset], with its event time, once the
 * place and the fields named in `numbers` check out; the caller adds the row's other fields after these.
 * Raw-lake rows and the live store's late events are such rows.
 */
export function positionDocument(
  row: { topic: string; partition: number; offset: number; event_time: number },
  kind: string,
  numbers: readonly string[],
): RawDocument {
  checkPosition(row, kind);
  checkNumbers(row, numbers, kind);
  return {
    _id: JSON.stringify([row.topic, row.partition, row.offset]),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    event_time: row.event_time,
  };
}

const RAW_NUMBERS = ["event_time", "ingested_at"] as const;

export function rawEventDocument(row: RawEventRow): RawDocument {
  const doc = positionDocument(row, "rawEvents", RAW_NUMBERS);
  checkRawValue(row);
  checkFieldBytes(row.value.length, "rawEvents", "value");
  doc.ingested_at = row.ingested_at;
  // A copy: the row's value is usually a view into a whole fetched answer, which BSON need not see.
  doc.value = Buffer.from(row.value);
  return doc;
}

/** A stored raw-lake document as a row; documents written before the lake kept frames hold JSON text. */
export function rawEventRow(doc: RawDocument): RawEventRow {
  const value = doc.value ?? Buffer.from(String(doc.payload), "utf8");
  return {
    topic: doc.topic as string,
    partition: doc.partition as number,
    offset: doc.offset as number,
    event_time: doc.event_time as number,
    ingested_at: doc.ingested_at as number,
    value: value as Buffer,
  };
}

/** Whether two raw-lake documents hold the same row (scalar fields, and the value's bytes). */
export function sameRawRow(a: RawDocument | undefined, b: RawDocument): boolean {
  if (a === undefined) return false;
  const keys = Object.keys(b);
  return (
    keys.length === Object.keys(a).length &&
    keys.every((key) =>
      key === "value" ? Buffer.compare(a.value as Buffer, b.value as Buffer) === 0 : a[key] === b[key],
    )
  );
}
