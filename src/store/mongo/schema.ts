// The MongoDB live store's database (schema version 2): its collections, their documents and indexes, and the checks a row passes to become one.
import { type Binary, BSON, type Db, MongoServerError } from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import {
  checkFieldBytes,
  MAX_ROW_BYTES,
  positionDocument,
  RAW_BATCHES_INDEXES,
  RAW_EVENTS_INDEXES,
} from "../../lake/mongo/index.ts";
import type { AlertRow, Checkpoint, LateEventRow, TopPagesRow, WindowRowKey } from "../index.ts";
import { SERIES, type Series } from "../series.ts";
import { checkNumbers, checkPartition, checkText, windowLength } from "../validate.ts";

/*
 * One database per store (the URL's path, default "pulse"):
 *
 *   per series (src/store/series.ts), its window and daily collections:
 *   activity_windows, activity_daily  {_id, window_ms, window_start, window_end, event_type, partition, event_count, unique_users, sessions, revenue_cents, final, v}
 *   wiki_windows, wiki_daily          {_id, window_ms, window_start, window_end, wiki, partition, changes, …, unique_editors, final, v}
 *   top_pages                         {_id, window_ms, window_start, window_end, partition, pages: [{wiki, title, edits}], final, v}
 *   alerts                            {_id, series, window_start, window_end, observed, expected, score, kind, created_at, v}
 *   late_events                       {_id, topic, partition, offset, event_time, watermark, payload, v}
 *   raw_batches                       the raw lake, a document per run of a partition's rows (src/lake/mongo/documents.ts)
 *   raw_events                        the raw lake's rows written before it kept batches, one document each (read only)
 *   checkpoints                       {_id, job, topic, partition, next_offset, state: Binary, updated_at, redo?}
 *   redo                              journal commit points {_id: batch, kind: "commit", batch, seq, rows, pages}
 *                                     and overflow pages {_id: "<batch>:<n>", kind: "page", batch, created_at, rows}
 *   meta                              {_id: "schema", version}, {_id: "seq", value}
 *
 * A window or daily row is stored as versions (versions.ts): each batch that changes it inserts a document
 * whose _id is the row's contract key as a JSON array with the batch's sequence number appended (e.g.
 * [window_ms, window_start, event_type, partition, seq]), and readers keep the newest. Every other _id is
 * the row's key alone, written by a replace by _id. v is the sequence number of the batch that wrote the
 * document. The secondary indexes serve the live queries.
 *
 * FerretDB 1.24's SQLite backend pushes an _id equality down to SQL, but as _ferretdb_sjson->'$._id', which
 * does not match its own _id index (on _ferretdb_sjson->"_id"): every lookup by _id there scans the table
 * (EXPLAIN QUERY PLAN: SCAN). Cheap on
 * the query collections, which hold windows; on the raw lake, which grows with every event, each replace
 * scans the lake. So raw-lake documents are inserted in bulk, and rewritten by _id only where a write
 * meets stored offsets with other rows (MongoRawLake.write, src/lake/mongo/lake.ts).
 */
/**
 * Version 3 stores window and daily rows as versions, which an older Pulse would count twice. Version 2
 * kept the raw lake as raw_batches documents; version 1 kept a raw_events document per row. Version 3
 * reads both (a row of one document is one version), and opening an older database marks it 3, so an
 * older Pulse refuses it.
 */
export const SCHEMA_VERSION = 3;

/**
 * The row kinds that go through redo records, each with its collection: a series' rows are
 * <label>Windows and <label>Daily (activityWindows, wikiDaily, …), names stored in redo records.
 */
export const REDO_COLLECTIONS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    SERIES.flatMap((series) => [
      [windowsKind(series), series.windowTable],
      [dailyKind(series), series.dailyTable],
    ]),
  ),
  topPages: "top_pages",
  alerts: "alerts",
  lateEvents: "late_events",
};
export type RedoKind = string;
export const REDO_KINDS: readonly RedoKind[] = Object.keys(REDO_COLLECTIONS);

/** The redo kind of a series' window rows. */
export function windowsKind(series: Series): RedoKind {
  return `${series.label}Windows`;
}

/** The redo kind of a series' daily rows. */
export function dailyKind(series: Series): RedoKind {
  return `${series.label}Daily`;
}

/** Indexes for the live queries, created (idempotently) on open. */
export const INDEXES: Readonly<Record<string, ReadonlyArray<{ name: string; key: Record<string, 1 | -1> }>>> =
  {
    ...Object.fromEntries(
      SERIES.flatMap((series) => [
        [
          series.windowTable,
          [
            {
              name: `by_length_start_${series.indexKey}`,
              key: { window_ms: 1, window_start: 1, [series.key]: 1 },
            },
          ],
        ],
        [
          series.dailyTable,
          [
            {
              name: `by_day_length_${series.indexKey}`,
              key: { window_start: 1, window_ms: 1, [series.key]: 1 },
            },
          ],
        ],
      ]),
    ),
    top_pages: [{ name: "by_length_start_partition", key: { window_ms: 1, window_start: 1, partition: 1 } }],
    alerts: [{ name: "newest", key: { window_start: -1, series: 1 } }],
    late_events: [{ name: "newest", key: { watermark: -1, topic: 1, partition: 1, offset: -1 } }],
    raw_batches: RAW_BATCHES_INDEXES,
    raw_events: RAW_EVENTS_INDEXES,
    checkpoints: [{ name: "by_job_topic_partition", key: { job: 1, topic: 1, partition: 1 } }],
    redo: [{ name: "by_batch", key: { batch: 1 } }],
  };

/** A row document: its contract key as _id, and the fields it is read back with. */
export interface RowDocument {
  _id: string;
  [field: string]: unknown;
}

export type RedoRows = Partial<Record<RedoKind, RowDocument[]>>;

export interface RedoRecord {
  batch: string;
  seq: number;
  rows: RedoRows;
  /** _ids of overflow pages in `redo`, written before this record. */
  pages: string[];
}

export interface CheckpointDocument {
  _id: string;
  job: string;
  topic: string;
  partition: number;
  next_offset: number;
  /** Absent only in a write that keeps the stored state (Checkpoint.state undefined). */
  state?: Uint8Array | Binary;
  updated_at: number;
  redo?: RedoRecord;
}

export interface RedoDocument {
  _id: string;
  kind: "commit" | "page";
  batch: string;
  seq?: number;
  rows: RedoRows;
  pages?: string[];
  created_at?: number;
}

interface MetaDocument {
  _id: string;
  version?: number;
  value?: number;
}

/**
 * An atomic update of one meta document, created on first use. Two processes creating it at once may
 * see a duplicate key (FerretDB does not retry such upserts as MongoDB does): the update is then retried.
 */
export async function upsertMeta(
  db: Db,
  id: string,
  update: { $setOnInsert: Partial<MetaDocument> } | { $inc: { value: number } },
): Promise<MetaDocument | null> {
  const meta = db.collection<MetaDocument>("meta");
  for (let attempt = 0; ; attempt++) {
    try {
      return await meta.findOneAndUpdate({ _id: id }, update, { upsert: true, returnDocument: "after" });
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === 11000) || attempt >= 2) throw error;
    }
  }
}

export function checkpointId(checkpoint: Checkpoint): string {
  return JSON.stringify([checkpoint.job, checkpoint.topic, checkpoint.partition]);
}

/** A series' window row's document: its key columns, then its metrics, checked. */
export function windowDocument(row: WindowRowKey, series: Series): RowDocument {
  const kind = series.label;
  const windowMs = windowLength(row, kind);
  checkPartition(row.partition, kind);
  const keyValue = (row as unknown as Record<string, unknown>)[series.key];
  checkText(keyValue, kind, series.key);
  checkNumbers(row, series.metricColumns, kind);
  const doc: RowDocument = {
    _id: JSON.stringify([windowMs, row.window_start, keyValue, row.partition]),
    window_ms: windowMs,
    window_start: row.window_start,
    window_end: row.window_end,
    [series.key]: keyValue,
    partition: row.partition,
  };
  for (const metric of series.metricColumns)
    doc[metric] = (row as unknown as Record<string, unknown>)[metric];
  doc.final = Boolean(row.final);
  return doc;
}

export function topPagesDocument(row: TopPagesRow): RowDocument {
  const windowMs = windowLength(row, "topPages");
  checkPartition(row.partition, "topPages");
  if (!Array.isArray(row.pages)) {
    throw new StoreError(StoreErrorCode.badArgument, "A topPages row's pages must be an array.");
  }
  const pages = row.pages.map((page) => {
    checkText(page.wiki, "topPages", "pages[].wiki");
    checkText(page.title, "topPages", "pages[].title");
    checkNumbers(page, ["edits"], "topPages");
    return { wiki: page.wiki, title: page.title, edits: page.edits };
  });
  return checkSize(
    {
      _id: JSON.stringify([windowMs, row.window_start, row.partition]),
      window_ms: windowMs,
      window_start: row.window_start,
      window_end: row.window_end,
      partition: row.partition,
      pages,
      final: Boolean(row.final),
    },
    "topPages",
  );
}

export function alertDocument(row: AlertRow): RowDocument {
  checkText(row.series, "alerts", "series");
  checkText(row.kind, "alerts", "kind");
  checkNumbers(row, ["window_start", "window_end", "observed", "expected", "score", "created_at"], "alerts");
  return {
    _id: JSON.stringify([row.series, row.window_start]),
    series: row.series,
    window_start: row.window_start,
    window_end: row.window_end,
    observed: row.observed,
    expected: row.expected,
    score: row.score,
    kind: row.kind,
    created_at: row.created_at,
  };
}

const LATE_NUMBERS = ["event_time", "watermark"] as const;

export function lateEventDocument(row: LateEventRow): RowDocument {
  const doc = positionDocument(row, "lateEvents", LATE_NUMBERS);
  checkText(row.payload, "lateEvents", "payload");
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most payloads need no count.
  if (row.payload.length * 3 > MAX_ROW_BYTES)
    checkFieldBytes(Buffer.byteLength(row.payload, "utf8"), "lateEvents", "payload");
  doc.watermark = row.watermark;
  doc.payload = row.payload;
  return doc;
}

/** A row must fit an overflow page (and so a document). */
function checkSize(doc: RowDocument, kind: string): RowDocument {
  const size = BSON.calculateObjectSize(doc);
  if (size > MAX_ROW_BYTES) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row is ${size} bytes, more than the ${MAX_ROW_BYTES} a MongoDB live store row may take (key ${doc._id}).`,
    );
  }
  return doc;
}
