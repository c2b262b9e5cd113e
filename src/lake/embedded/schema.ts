// The embedded raw lake's tables in the live-store file: batch rows keyed by their first record's position, and their conversions from older store schemas.
import type Database from "better-sqlite3";
import { RawBatchEncoder } from "../batch.ts";
import type { RawEventRow } from "../index.ts";
import { MAX_PARTITIONS } from "../validate.ts";

/*
 *   raw_topics   (topic_id INTEGER PRIMARY KEY, name UNIQUE)
 *   raw_batches  (id INTEGER PRIMARY KEY, last_offset, records BLOB, segment, pos, length, crc)
 *   raw_segments (segment INTEGER PRIMARY KEY, end_pos)                           (segments.ts)
 *
 * The lake stores a commit's events of one partition as one batch row (src/lake/batch.ts), as the
 * embedded log does: a row per event would cost an insert per event. A batch's rowid IS the position of its first record: id = topic_id << 51 | partition << 41
 * | first offset, with topic ids from raw_topics (4095 topics, 1024 partitions, 2^41 offsets each), and
 * last_offset bounds it. Appends touch one B-tree and no index; a read seeks the batch covering its
 * position, then scans rowids. SQL computes ids (they exceed 2^53) and returns `id & OFFSET_MASK`.
 * Store schema 1 kept a row per event (raw_events); opening such a file converts it.
 *
 * Since store schema 4 a batch's bytes are appended to a segment file in the folder `<store file>-raw/`
 * (segments.ts), and its row holds where (segment, pos, length) and a CRC-32, with an empty `records`:
 * through SQLite each megabyte batch would be written as overflow pages twice (WAL, then checkpoint).
 * The row is written in the commit's transaction, so a
 * batch is readable exactly when its commit is. Batches stored before schema 4, and an in-memory
 * store's, keep their bytes in `records` (segment NULL).
 *
 * Invariants:
 *   - a raw_topics id, once assigned, never changes (ids are only inserted, inside the write lock);
 *   - raw batches of one partition never overlap: a write that overlaps stored batches merges with
 *     them (its records replace theirs at equal offsets), so every offset is stored at most once.
 */
export const LAKE_SCHEMA = `
CREATE TABLE IF NOT EXISTS raw_topics (
  topic_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS raw_batches (
  id INTEGER PRIMARY KEY,
  last_offset INTEGER NOT NULL,
  records BLOB NOT NULL,
  segment INTEGER,
  pos INTEGER,
  length INTEGER,
  crc INTEGER
);
CREATE TABLE IF NOT EXISTS raw_segments (
  segment INTEGER PRIMARY KEY,
  end_pos INTEGER NOT NULL
);
`;

export const TOPIC_SHIFT = 51;
export const PARTITION_SHIFT = 41;
export const MAX_TOPIC_ID = 4095;
export const MAX_OFFSET = 2 ** 41 - 1;
export const OFFSET_MASK = "0x1FFFFFFFFFF";

/** A record's place, its topic as its raw_topics id: the parts of a batch id. */
export interface RawPosition {
  topic: number;
  partition: number;
  offset: number;
}

/** The id of the batch whose first record is at (@topic, @partition, @offset). */
export const RAW_ID = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @offset)`;
export const RAW_PARTITION_START = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}))`;
export const RAW_PARTITION_END = `((@topic << ${TOPIC_SHIFT}) + ((@partition + 1) << ${PARTITION_SHIFT}))`;

/**
 * Converts the lake's tables of a store file written with schema `fromVersion` (after LAKE_SCHEMA ran, in
 * the store's upgrade transaction). Schema 4 indexes raw batches in segment files; the batches already
 * stored stay in their rows.
 */
export function upgradeLakeTables(db: Database.Database, fromVersion: number): void {
  const rawColumns = db
    .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('raw_batches')")
    .all();
  for (const column of ["segment", "pos", "length", "crc"]) {
    if (!rawColumns.some((c) => c.name === column))
      db.exec(`ALTER TABLE raw_batches ADD COLUMN ${column} INTEGER`);
  }
  if (fromVersion < 2) packRawEvents(db);
}

/** Schema 1 kept one raw_events row per event; this packs them into raw batches of up to 1000 records. */
function packRawEvents(db: Database.Database): void {
  const insert = db.prepare<RawPosition & { last: number; records: Buffer }>(
    `INSERT INTO raw_batches (id, last_offset, records) VALUES (${RAW_ID}, @last, @records)`,
  );
  const encoder = new RawBatchEncoder();
  let run: RawEventRow[] = [];
  let runTopic = -1;
  let runPartition = -1;
  const flush = () => {
    encoder.encodeAll(run, 0, run.length, (offset, last, records) =>
      insert.run({ topic: runTopic, partition: runPartition, offset, last, records }),
    );
    run = [];
  };
  // Pages by position: better-sqlite3 cannot write while an iterator is open.
  const page = db
    .prepare<
      RawPosition,
      [
        topic: number,
        partition: number,
        offset: number,
        eventTime: number,
        ingestedAt: number,
        payload: string,
      ]
    >(
      `SELECT id >> ${TOPIC_SHIFT}, (id >> ${PARTITION_SHIFT}) & ${MAX_PARTITIONS - 1}, id & ${OFFSET_MASK},
         event_time, ingested_at, payload FROM raw_events WHERE id >= ${RAW_ID} ORDER BY id LIMIT 10000`,
    )
    .raw();
  let from: RawPosition = { topic: 0, partition: 0, offset: 0 };
  for (;;) {
    const rows = page.all(from);
    for (const [topic, partition, offset, event_time, ingested_at, payload] of rows) {
      if (topic !== runTopic || partition !== runPartition || run.length >= 1000) {
        flush();
        runTopic = topic;
        runPartition = partition;
      }
      run.push({
        topic: "",
        partition,
        offset,
        event_time,
        ingested_at,
        value: Buffer.from(payload, "utf8"),
      });
    }
    if (rows.length < 10000) break;
    const [topic, partition, offset] = rows[rows.length - 1]!;
    from = { topic, partition, offset: offset + 1 };
  }
  flush();
  db.exec("DROP TABLE raw_events");
}
