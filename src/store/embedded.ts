// The embedded LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one SQLite file.
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../errors.ts";
import { errorMessage, isBusy, openSqliteFile, type SqliteFileSettings } from "../sqlite/open-file.ts";
import { type SegmentFiles, segmentBytesOption } from "../sqlite/segment-files.ts";
import type { WalCheckpointer } from "../sqlite/wal-checkpointer.ts";
import type {
  ActivityWindow,
  ActivityWindowRow,
  AlertRow,
  LateEventRow,
  LiveStore,
  RawEventRow,
  RawRun,
  StoreBatch,
  StoredCheckpoint,
  TopPagesRow,
  WikiWindow,
  WikiWindowRow,
  WindowQuery,
  WindowRange,
  WindowRows,
} from "./index.ts";
import { checkRawRun, decodeRawBatch, RawBatchEncoder, readRawRecord, scanRawBatch } from "./raw-batch.ts";
import { rawSegments, SEGMENT_BYTES } from "./raw-segments.ts";
import {
  checkpointConflict,
  checkpointWithoutState,
  mergeTopPages,
  checkCheckpoint,
  checkDayRange,
  checkLimit,
  checkPartition,
  checkRawPositions,
  checkRawValue,
  checkFinalStartsQuery,
  checkWindowMs,
  checkWindowQuery,
  checkWindowRange,
  MAX_PARTITIONS,
  windowLength,
} from "./validate.ts";

/**
 * A lost tail after a power loss under NORMAL is not a correctness problem here: checkpoints live in the
 * same transactions as the rows they cover, so a restart replays from the older checkpoint and rewrites
 * the same rows.
 */
export interface EmbeddedLiveStoreOptions extends SqliteFileSettings {
  /** How large a raw-lake segment file grows before the next one starts (default SEGMENT_BYTES, 256 MiB). */
  rawSegmentBytes?: number;
}

/*
 * Storage layout (schema version 4).
 *
 *   activity_windows(window_ms, window_start, event_type, partition, event_count, unique_users, sessions, revenue_cents, final)
 *   activity_daily  (same columns)
 *   wiki_windows    (window_ms, window_start, wiki, partition, changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors, final)
 *   wiki_daily      (same columns)
 *   top_pages       (window_ms, window_start, partition, pages JSON text, final)
 *   alerts          (series, window_start, window_end, observed, expected, score, kind, created_at)
 *   late_events     (topic, partition, offset, event_time, watermark, payload)
 *   raw_topics      (topic_id INTEGER PRIMARY KEY, name UNIQUE)
 *   raw_batches     (id INTEGER PRIMARY KEY, last_offset, records BLOB, segment, pos, length, crc)
 *   raw_segments    (segment INTEGER PRIMARY KEY, end_pos)                (raw-segments.ts)
 *   checkpoints     (job, topic, partition, next_offset, updated_at)
 *   checkpoint_states (job, topic, partition, state BLOB)
 *
 * A window row stores its length, window_ms = window_end − window_start (> 0), instead of its end.
 * The key (window_start, window_end, key, partition) of the LiveStore contract is then the same key
 * as (window_ms, window_start, key, partition), and the window tables are WITHOUT ROWID tables with
 * that primary key: "the latest N windows of length L" is a backward walk of one key prefix, merging
 * partitions is a GROUP BY in key order, and no secondary index slows the hot upsert path. The daily
 * tables put window_start first instead, because they are read by a range of day starts. top_pages is
 * keyed (window_ms, window_start, partition) for the same reason as the window tables.
 *
 * The raw lake stores a commit's events of one partition as one batch row (src/store/raw-batch.ts), as
 * the embedded log does: a row per event cost an insert per event and capped the stream job near 45k
 * events/s. A batch's rowid IS the position of its first record: id = topic_id << 51 | partition << 41
 * | first offset, with topic ids from raw_topics (4095 topics, 1024 partitions, 2^41 offsets each), and
 * last_offset bounds it. Appends touch one B-tree and no index; an incremental read seeks the batch
 * covering its position, then scans rowids. SQL computes ids (they exceed 2^53) and returns
 * `id & OFFSET_MASK`. Schema 1 kept a row per event (raw_events); opening such a file converts it.
 *
 * Since schema 4 a batch's bytes (raw-batch.ts format) are appended to a segment file in the folder
 * `<store file>-raw/` (src/store/raw-segments.ts), and its row holds where (segment, pos, length) and a
 * CRC-32, with an empty `records`: SQLite wrote each megabyte batch as overflow pages twice (WAL, then
 * checkpoint), which cost the stream job's commit more than the rest of the batch. The row is written in
 * the commit's transaction, so a batch is readable exactly when its commit is. Batches stored before
 * schema 4, and an in-memory store's, keep their bytes in `records` (segment NULL).
 *
 * A checkpoint's state (megabytes: the dedup ids and distinct-user sets of the watermark horizon) has a
 * table of its own: SQLite rewrites a whole row on UPDATE, overflow pages included, so with the state in
 * the checkpoints row every offset-only checkpoint (most batches; see Checkpoint.state) copied it.
 * Schemas 1 and 2 kept it there; opening such a file moves it.
 *
 * Invariants:
 *   - every write of one StoreBatch, checkpoints included, happens in one BEGIN IMMEDIATE transaction,
 *     so a crash leaves all of a batch or none of it, and a checkpoint never runs ahead of its rows;
 *   - every row write is an upsert on the row's contract key, so re-applying a batch changes nothing;
 *   - a raw_topics id, once assigned, never changes (ids are only inserted, inside the write lock);
 *   - raw batches of one partition never overlap: a write that overlaps stored batches merges with
 *     them (its records replace theirs at equal offsets), so every offset is stored at most once.
 */
const SCHEMA_VERSION = 4;
/** The records of a batch in a segment file: the row holds its place instead (src/sqlite/segment-files.ts). */
const EMPTY = new Uint8Array(0);
const INLINE = { segment: null, pos: null, length: null, crc: null };
const TOPIC_SHIFT = 51;
const PARTITION_SHIFT = 41;
const MAX_TOPIC_ID = 4095;
const MAX_OFFSET = 2 ** 41 - 1;
const OFFSET_MASK = "0x1FFFFFFFFFF";
/** Rows bound per INSERT: one native call for many rows is much cheaper than one call per row. */
const INSERT_CHUNK = 50;

const ACTIVITY_METRICS = ["event_count", "unique_users", "sessions", "revenue_cents"] as const;
const WIKI_METRICS = [
  "changes",
  "edits",
  "bot_edits",
  "human_edits",
  "new_pages",
  "byte_delta",
  "unique_editors",
] as const;

function windowTableSql(table: string, key: string, metrics: readonly string[], daily: boolean): string {
  const primaryKey = daily
    ? `window_start, window_ms, ${key}, partition`
    : `window_ms, window_start, ${key}, partition`;
  return `CREATE TABLE IF NOT EXISTS ${table} (
  window_ms INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  ${key} TEXT NOT NULL,
  partition INTEGER NOT NULL,
  ${metrics.map((m) => `${m} NOT NULL`).join(",\n  ")},
  final INTEGER NOT NULL,
  PRIMARY KEY (${primaryKey})
) WITHOUT ROWID;`;
}

const SCHEMA = `
${windowTableSql("activity_windows", "event_type", ACTIVITY_METRICS, false)}
${windowTableSql("activity_daily", "event_type", ACTIVITY_METRICS, true)}
${windowTableSql("wiki_windows", "wiki", WIKI_METRICS, false)}
${windowTableSql("wiki_daily", "wiki", WIKI_METRICS, true)}
CREATE TABLE IF NOT EXISTS top_pages (
  window_ms INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  pages TEXT NOT NULL,
  final INTEGER NOT NULL,
  PRIMARY KEY (window_ms, window_start, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
  series TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  observed REAL NOT NULL,
  expected REAL NOT NULL,
  score REAL NOT NULL,
  kind TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (series, window_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_newest ON alerts (window_start DESC, series);
CREATE TABLE IF NOT EXISTS late_events (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  event_time INTEGER NOT NULL,
  watermark INTEGER NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS late_events_newest ON late_events (watermark DESC, topic, partition, offset DESC);
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
CREATE TABLE IF NOT EXISTS checkpoints (
  job TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint_states (
  job TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  state BLOB NOT NULL,
  PRIMARY KEY (job, topic, partition)
);
`;

function placeholders(rows: number, row: string): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

function tuple(columns: number): string {
  return `(${Array.from({ length: columns }, () => "?").join(", ")})`;
}

function upsertWindowSql(table: string, key: string, metrics: readonly string[], daily: boolean) {
  const conflict = daily
    ? `window_start, window_ms, ${key}, partition`
    : `window_ms, window_start, ${key}, partition`;
  const columns = ["window_ms", "window_start", key, "partition", ...metrics, "final"];
  const updates = [...metrics, "final"].map((c) => `${c} = excluded.${c}`).join(", ");
  return (rows: number) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${placeholders(rows, tuple(columns.length))}
     ON CONFLICT (${conflict}) DO UPDATE SET ${updates}`;
}

function mergedWindowsSql(table: string, key: string, metrics: readonly string[]): string {
  return `WITH starts AS (
    SELECT DISTINCT window_start FROM ${table} WHERE window_ms = @windowMs ORDER BY window_start DESC LIMIT @last
  )
  SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${metrics.map((m) => `sum(${m}) AS ${m}`).join(", ")}, min(final) AS final
  FROM ${table}
  WHERE window_ms = @windowMs AND window_start >= (SELECT min(window_start) FROM starts)
  GROUP BY window_start, ${key}
  ORDER BY window_start, ${key}`;
}

/** Rows per partition of windows of one length starting in [from, to) (activityWindowRows, wikiWindowRows). */
function windowRowsSql(table: string, key: string, metrics: readonly string[]): string {
  return `SELECT window_start, window_start + window_ms AS window_end, ${key}, partition, ${metrics.join(", ")}, final
  FROM ${table} WHERE window_ms = ? AND window_start >= ? AND window_start < ?
  ORDER BY window_start, ${key}, partition`;
}

/** Per partition, the newest final window_start of one length from a start on (finalWindowStarts). */
function finalStartsSql(table: string): string {
  return `SELECT partition, max(window_start) AS start FROM ${table}
  WHERE window_ms = ? AND window_start >= ? AND final = 1 GROUP BY partition`;
}

function mergedDailySql(table: string, key: string, metrics: readonly string[]): string {
  return `SELECT window_start, window_start + window_ms AS window_end, ${key},
    ${metrics.map((m) => `sum(${m}) AS ${m}`).join(", ")}, min(final) AS final
  FROM ${table}
  WHERE (@fromMs IS NULL OR window_start >= @fromMs) AND (@toMs IS NULL OR window_start < @toMs)
  GROUP BY window_start, window_ms, ${key}
  ORDER BY window_start, window_ms, ${key}`;
}

const RAW_ID = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @offset)`;
const RAW_PARTITION_START = `((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}))`;
const RAW_PARTITION_END = `((@topic << ${TOPIC_SHIFT}) + ((@partition + 1) << ${PARTITION_SHIFT}))`;

/** A row as SQLite gives it back: `final` as 0 or 1. */
type Stored<R extends { final: boolean }> = Omit<R, "final"> & { final: number };
type FinalStart = { partition: number; start: number };
type MergedActivity = Omit<ActivityWindow, "revenue" | "final"> & { revenue_cents: number; final: number };
type MergedWiki = Omit<WikiWindow, "final"> & { final: number };
type RawBatchRow = [
  firstOffset: number,
  lastOffset: number,
  records: Buffer,
  segment: number | null,
  pos: number | null,
  length: number | null,
  crc: number | null,
];
interface RawBatchWrite extends RawPosition {
  last: number;
  records: Uint8Array;
  segment: number | null;
  pos: number | null;
  length: number | null;
  crc: number | null;
}
interface RawPosition {
  topic: number;
  partition: number;
  offset: number;
}
/** Batches read per query by rawEvents. */
const RAW_READ_BATCHES = 8;

function prepareStatements(db: Database.Database) {
  return {
    activityWindows: db.prepare<{ windowMs: number; last: number }, MergedActivity>(
      mergedWindowsSql("activity_windows", "event_type", ACTIVITY_METRICS),
    ),
    activityDaily: db.prepare<{ fromMs: number | null; toMs: number | null }, MergedActivity>(
      mergedDailySql("activity_daily", "event_type", ACTIVITY_METRICS),
    ),
    wikiWindows: db.prepare<{ windowMs: number; last: number }, MergedWiki>(
      mergedWindowsSql("wiki_windows", "wiki", WIKI_METRICS),
    ),
    activityWindowRows: db.prepare<[number, number, number], Stored<ActivityWindowRow>>(
      windowRowsSql("activity_windows", "event_type", ACTIVITY_METRICS),
    ),
    wikiWindowRows: db.prepare<[number, number, number], Stored<WikiWindowRow>>(
      windowRowsSql("wiki_windows", "wiki", WIKI_METRICS),
    ),
    activityFinalStarts: db.prepare<[number, number], FinalStart>(finalStartsSql("activity_windows")),
    wikiFinalStarts: db.prepare<[number, number], FinalStart>(finalStartsSql("wiki_windows")),
    latestTopPages: db
      .prepare<[number], number | null>("SELECT max(window_start) FROM top_pages WHERE window_ms = ?")
      .pluck(),
    topPagesAt: db
      .prepare<[number, number], string>(
        "SELECT pages FROM top_pages WHERE window_ms = ? AND window_start = ? ORDER BY partition",
      )
      .pluck(),
    upsertTopPages: db.prepare(
      `INSERT INTO top_pages (window_ms, window_start, partition, pages, final) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (window_ms, window_start, partition) DO UPDATE SET pages = excluded.pages, final = excluded.final`,
    ),
    upsertAlert: db.prepare(
      `INSERT INTO alerts (series, window_start, window_end, observed, expected, score, kind, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (series, window_start) DO UPDATE SET window_end = excluded.window_end,
         observed = excluded.observed, expected = excluded.expected, score = excluded.score,
         kind = excluded.kind, created_at = excluded.created_at`,
    ),
    alerts: db.prepare<[number], AlertRow>(
      `SELECT series, window_start, window_end, observed, expected, score, kind, created_at
       FROM alerts ORDER BY window_start DESC, series LIMIT ?`,
    ),
    lateEvents: db.prepare<[number], LateEventRow>(
      `SELECT topic, partition, offset, event_time, watermark, payload
       FROM late_events ORDER BY watermark DESC, topic, partition, offset DESC LIMIT ?`,
    ),
    topicId: db.prepare<[string], number>("SELECT topic_id FROM raw_topics WHERE name = ?").pluck(),
    maxTopicId: db.prepare<[], number>("SELECT ifnull(max(topic_id), 0) FROM raw_topics").pluck(),
    insertTopic: db.prepare("INSERT INTO raw_topics (topic_id, name) VALUES (?, ?)"),
    /** The smallest partition ≥ @partition of a topic that holds raw rows: one index seek. */
    nextRawPartition: db
      .prepare<{ topic: number; partition: number }, number | null>(
        `SELECT (min(id) >> ${PARTITION_SHIFT}) & ${MAX_PARTITIONS - 1} FROM raw_batches
         WHERE id >= ${RAW_PARTITION_START} AND id < ((@topic + 1) << ${TOPIC_SHIFT})`,
      )
      .pluck(),
    /** The batch of a partition with the greatest first offset ≤ @offset: the one that may cover it. */
    rawBatchAtOrBefore: db
      .prepare<RawPosition, [firstOffset: number, lastOffset: number]>(
        `SELECT id & ${OFFSET_MASK}, last_offset FROM raw_batches
         WHERE id <= ${RAW_ID} AND id >= ${RAW_PARTITION_START} ORDER BY id DESC LIMIT 1`,
      )
      .raw(),
    rawBatchesFrom: db
      .prepare<RawPosition & { limit: number }, RawBatchRow>(
        `SELECT id & ${OFFSET_MASK}, last_offset, records, segment, pos, length, crc FROM raw_batches
         WHERE id >= ${RAW_ID} AND id < ${RAW_PARTITION_END} ORDER BY id LIMIT @limit`,
      )
      .raw(),
    rawBatchesBetween: db
      .prepare<RawPosition & { last: number }, RawBatchRow>(
        `SELECT id & ${OFFSET_MASK}, last_offset, records, segment, pos, length, crc FROM raw_batches
         WHERE id >= ${RAW_ID} AND id <= ((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @last)
         ORDER BY id`,
      )
      .raw(),
    deleteRawBatchesBetween: db.prepare<RawPosition & { last: number }>(
      `DELETE FROM raw_batches
       WHERE id >= ${RAW_ID} AND id <= ((@topic << ${TOPIC_SHIFT}) | (@partition << ${PARTITION_SHIFT}) | @last)`,
    ),
    insertRawBatch: db.prepare<RawBatchWrite>(
      `INSERT OR REPLACE INTO raw_batches (id, last_offset, records, segment, pos, length, crc)
       VALUES (${RAW_ID}, @last, @records, @segment, @pos, @length, @crc)`,
    ),
    moveCheckpoint: db.prepare<[number, number, string, string, number]>(
      "UPDATE checkpoints SET next_offset = ?, updated_at = ? WHERE job = ? AND topic = ? AND partition = ?",
    ),
    upsertCheckpoint: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO checkpoints (job, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job, topic, partition) DO UPDATE SET next_offset = excluded.next_offset,
         updated_at = excluded.updated_at`,
    ),
    upsertCheckpointState: db.prepare<[string, string, number, Uint8Array]>(
      `INSERT INTO checkpoint_states (job, topic, partition, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (job, topic, partition) DO UPDATE SET state = excluded.state`,
    ),
    checkpointOffset: db.prepare<[string, string, number], { next_offset: number }>(
      "SELECT next_offset FROM checkpoints WHERE job = ? AND topic = ? AND partition = ?",
    ),
    checkpointOffsets: db.prepare<[string, string], { partition: number; next_offset: number }>(
      "SELECT partition, next_offset FROM checkpoints WHERE job = ? AND topic = ?",
    ),
    checkpoints: db.prepare<
      [string, string],
      { partition: number; next_offset: number; state: Buffer; updated_at: number }
    >(
      "SELECT c.partition, c.next_offset, s.state, c.updated_at FROM checkpoints c JOIN checkpoint_states s USING (job, topic, partition) WHERE c.job = ? AND c.topic = ? ORDER BY c.partition",
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Writes rows with a reused multi-row statement of INSERT_CHUNK rows, and a lazily prepared one for
 * each tail size, into one reused argument array: the hot path allocates nothing per row.
 */
class ChunkedWriter<Row> {
  readonly #db: Database.Database;
  readonly #sql: (rows: number) => string;
  readonly #columns: number;
  readonly #bind: (args: unknown[], at: number, row: Row) => void;
  readonly #statements = new Map<number, Database.Statement>();
  readonly #args: unknown[][] = [];

  constructor(
    db: Database.Database,
    columns: number,
    sql: (rows: number) => string,
    bind: (args: unknown[], at: number, row: Row) => void,
  ) {
    this.#db = db;
    this.#columns = columns;
    this.#sql = sql;
    this.#bind = bind;
    this.#statement(INSERT_CHUNK);
  }

  write(rows: readonly Row[]): void {
    const n = rows.length;
    let i = 0;
    while (i < n) {
      const size = Math.min(INSERT_CHUNK, n - i);
      const statement = this.#statement(size);
      const args = this.#args[size];
      for (let j = 0; j < size; j++) this.#bind(args, j * this.#columns, rows[i + j]);
      statement.run(args);
      i += size;
    }
  }

  #statement(rows: number): Database.Statement {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      statement = this.#db.prepare(this.#sql(rows));
      this.#statements.set(rows, statement);
      this.#args[rows] = new Array(rows * this.#columns).fill(null);
    }
    return statement;
  }
}

interface Writers {
  activityWindows: ChunkedWriter<ActivityWindowRow>;
  activityDaily: ChunkedWriter<ActivityWindowRow>;
  wikiWindows: ChunkedWriter<WikiWindowRow>;
  wikiDaily: ChunkedWriter<WikiWindowRow>;
  lateEvents: ChunkedWriter<LateEventRow>;
}

export class EmbeddedLiveStore implements LiveStore {
  readonly path: string;
  #db: Database.Database | null;
  readonly #sql: Statements;
  readonly #writers: Writers;
  readonly #commitTx: Database.Transaction<(batch: StoreBatch) => void>;
  /** Topic ids of the batch being committed; set only inside the commit transaction. */
  readonly #batchTopicIds = new Map<string, number>();
  readonly #rawEncoder = new RawBatchEncoder();
  /** The raw lake's segment files; undefined for an in-memory store, whose batches stay in raw_batches. */
  readonly #segments: SegmentFiles | undefined;
  readonly #checkpointer: WalCheckpointer | undefined;

  private constructor(
    path: string,
    db: Database.Database,
    checkpointer: WalCheckpointer | undefined,
    segmentBytes: number,
  ) {
    this.path = path;
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#sql = prepareStatements(db);
    // synchronous 2 is FULL: then a commit syncs its segment bytes before SQLite commits.
    this.#segments =
      path === ":memory:"
        ? undefined
        : rawSegments(`${path}-raw`, db, {
            syncCommits: db.pragma("synchronous", { simple: true }) === 2,
            segmentBytes,
          });
    const activity = (table: string, daily: boolean) =>
      new ChunkedWriter<ActivityWindowRow>(
        db,
        5 + ACTIVITY_METRICS.length,
        upsertWindowSql(table, "event_type", ACTIVITY_METRICS, daily),
        bindActivity,
      );
    const wiki = (table: string, daily: boolean) =>
      new ChunkedWriter<WikiWindowRow>(
        db,
        5 + WIKI_METRICS.length,
        upsertWindowSql(table, "wiki", WIKI_METRICS, daily),
        bindWiki,
      );
    this.#writers = {
      activityWindows: activity("activity_windows", false),
      activityDaily: activity("activity_daily", true),
      wikiWindows: wiki("wiki_windows", false),
      wikiDaily: wiki("wiki_daily", true),
      lateEvents: new ChunkedWriter<LateEventRow>(
        db,
        6,
        (rows) =>
          `INSERT INTO late_events (topic, partition, offset, event_time, watermark, payload)
           VALUES ${placeholders(rows, tuple(6))}
           ON CONFLICT (topic, partition, offset) DO UPDATE SET event_time = excluded.event_time,
             watermark = excluded.watermark, payload = excluded.payload`,
        bindLateEvent,
      ),
    };
    this.#commitTx = db.transaction((batch: StoreBatch) => this.#apply(batch));
  }

  static open(options: EmbeddedLiveStoreOptions): EmbeddedLiveStore {
    const segmentBytes = segmentBytesOption(
      options.rawSegmentBytes,
      SEGMENT_BYTES,
      "EmbeddedLiveStore rawSegmentBytes",
      (message) => new StoreError(StoreErrorCode.badArgument, message),
    );
    const { path, db, checkpointer } = openSqliteFile(
      { ...options, schema: SCHEMA, schemaVersion: SCHEMA_VERSION, upgrade: upgradeSchema },
      (failure): StoreError => {
        switch (failure.reason) {
          case "badOption":
            return new StoreError(StoreErrorCode.badArgument, `EmbeddedLiveStore ${failure.message}.`);
          case "cannotOpen":
            return new StoreError(StoreErrorCode.storage, `The live store: ${failure.message}.`, {
              cause: failure.cause,
            });
          case "schemaTooNew":
            return new StoreError(StoreErrorCode.schemaTooNew, `The live store file ${failure.message}.`);
          case "failed":
            return toStoreError(failure.cause, `opening the live store ${options.path}`);
        }
      },
    );
    return new EmbeddedLiveStore(path, db, checkpointer, segmentBytes);
  }

  async commit(batch: StoreBatch): Promise<void> {
    this.#open();
    try {
      this.#commitTx.immediate(batch);
      this.#checkpointer?.start();
    } catch (error) {
      throw toStoreError(error, "committing a batch");
    } finally {
      this.#batchTopicIds.clear();
    }
  }

  async checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]> {
    this.#open();
    return this.#read("reading checkpoints", () =>
      this.#sql.checkpoints.all(job, topic).map((row) => ({
        job,
        topic,
        partition: row.partition,
        nextOffset: row.next_offset,
        state: new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength),
        updatedAt: row.updated_at,
      })),
    );
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    this.#open();
    return this.#read(
      "reading checkpoint offsets",
      () =>
        new Map(this.#sql.checkpointOffsets.all(job, topic).map((row) => [row.partition, row.next_offset])),
    );
  }

  async activityWindows(query: WindowQuery): Promise<ActivityWindow[]> {
    this.#open();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#read("reading activity windows", () =>
      this.#sql.activityWindows.all({ windowMs: query.windowMs, last: query.last }).map(toActivityWindow),
    );
  }

  async activityDaily(range: { fromMs?: number; toMs?: number } = {}): Promise<ActivityWindow[]> {
    this.#open();
    checkDayRange(range);
    return this.#read("reading daily activity", () =>
      this.#sql.activityDaily
        .all({ fromMs: range.fromMs ?? null, toMs: range.toMs ?? null })
        .map(toActivityWindow),
    );
  }

  async wikiWindows(query: WindowQuery): Promise<WikiWindow[]> {
    this.#open();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#read("reading wiki windows", () =>
      this.#sql.wikiWindows
        .all({ windowMs: query.windowMs, last: query.last })
        .map((row) => ({ ...row, final: row.final === 1 })),
    );
  }

  async activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]> {
    return this.#windowRows("activity", this.#sql.activityWindowRows, range);
  }

  async wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]> {
    return this.#windowRows("wiki", this.#sql.wikiWindowRows, range);
  }

  #windowRows<R extends { final: boolean }>(
    kind: string,
    statement: Database.Statement<[number, number, number], Stored<R>>,
    range: WindowRange,
  ): R[] {
    this.#open();
    checkWindowRange(range);
    return this.#read(`reading ${kind} window rows`, () =>
      statement
        .all(range.windowMs, range.fromMs, range.toMs)
        .map((row) => ({ ...row, final: row.final === 1 }) as unknown as R),
    );
  }

  async finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    this.#open();
    checkFinalStartsQuery(rows, windowMs, fromMs);
    const statement = rows === "activity" ? this.#sql.activityFinalStarts : this.#sql.wikiFinalStarts;
    return this.#read("reading final windows", () => {
      const starts = new Map<number, number>();
      for (const row of statement.all(windowMs, fromMs)) starts.set(row.partition, row.start);
      return starts;
    });
  }

  /**
   * Sums a page's edits over partitions (the Wikimedia topic is keyed by wiki, so a page is in one
   * partition and each partition's top list is exact for its pages), then ranks by edits, wiki, title.
   * With no window of that length yet, returns window_start = window_end = 0 and no pages.
   */
  async topPages(
    windowMs: number,
    limit: number,
  ): Promise<{ window_start: number; window_end: number; pages: TopPagesRow["pages"] }> {
    this.#open();
    checkWindowMs(windowMs);
    checkLimit("topPages limit", limit);
    return this.#read("reading top pages", () => {
      const start = this.#sql.latestTopPages.get(windowMs);
      if (start === null || start === undefined) return { window_start: 0, window_end: 0, pages: [] };
      const pages = mergeTopPages(
        this.#sql.topPagesAt.all(windowMs, start).map((text) => JSON.parse(text) as TopPagesRow["pages"]),
        limit,
      );
      return { window_start: start, window_end: start + windowMs, pages };
    });
  }

  /** Newest first by event time: window_start descending, then series. */
  async alerts(limit: number): Promise<AlertRow[]> {
    this.#open();
    checkLimit("alerts limit", limit);
    return this.#read("reading alerts", () => this.#sql.alerts.all(limit));
  }

  /**
   * Newest first: by the watermark when the event arrived (the job's event-time progress, which
   * only grows per partition), then topic and partition, then offset descending.
   */
  async lateEvents(limit: number): Promise<LateEventRow[]> {
    this.#open();
    checkLimit("lateEvents limit", limit);
    return this.#read("reading late events", () => this.#sql.lateEvents.all(limit));
  }

  async rawEvents(topic: string, after: ReadonlyMap<number, number>, limit: number): Promise<RawEventRow[]> {
    this.#open();
    checkLimit("rawEvents limit", limit);
    checkRawPositions(after);
    return this.#read("reading raw events", () => {
      const out: RawEventRow[] = [];
      const topicId = this.#sql.topicId.get(topic);
      if (topicId === undefined) return out;
      let partition = 0;
      while (out.length < limit && partition < MAX_PARTITIONS) {
        const next = this.#sql.nextRawPartition.get({ topic: topicId, partition });
        if (next === null || next === undefined) break;
        partition = next;
        const position = after.get(partition);
        const first = position === undefined ? 0 : Math.max(position + 1, 0);
        // Past the largest offset there is nothing to read, and a larger offset would spill into the partition bits.
        if (first <= MAX_OFFSET) this.#readRaw(topic, topicId, partition, first, limit, out);
        partition++;
      }
      return out;
    });
  }

  /** Appends the partition's records at offsets ≥ first to `out`, until it holds `limit` rows. */
  #readRaw(
    topic: string,
    topicId: number,
    partition: number,
    first: number,
    limit: number,
    out: RawEventRow[],
  ): void {
    let from = this.#rawRunStart({ topic: topicId, partition, offset: first });
    while (out.length < limit) {
      const batches = this.#sql.rawBatchesFrom.all({
        topic: topicId,
        partition,
        offset: from,
        limit: RAW_READ_BATCHES,
      });
      for (const batch of batches) {
        const records = this.#batchBytes(batch);
        scanRawBatch(records, (offset, at) => {
          if (offset < first) return true;
          out.push(readRawRecord(records, at, topic, partition));
          return out.length < limit;
        });
        if (out.length >= limit) return;
      }
      if (batches.length < RAW_READ_BATCHES) return;
      from = batches[batches.length - 1]![0] + 1;
    }
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    await this.#checkpointer?.stop();
    this.#segments?.close();
    db.close();
  }

  /** The background checkpointer, when the store was opened with backgroundCheckpoints (for tests). */
  get walCheckpointer(): WalCheckpointer | undefined {
    return this.#checkpointer;
  }

  /** Runs inside the commit transaction: any throw rolls the whole batch back. */
  #apply(batch: StoreBatch): void {
    this.#segments?.begin();
    // Fenced checkpoints first: a refused batch writes nothing.
    for (const checkpoint of batch.checkpoints) {
      if (checkpoint.expectedNextOffset === undefined) continue;
      const stored = this.#sql.checkpointOffset.get(checkpoint.job, checkpoint.topic, checkpoint.partition);
      const current = stored === undefined ? null : stored.next_offset;
      if (current !== checkpoint.expectedNextOffset) throw checkpointConflict(checkpoint, current);
    }
    const w = this.#writers;
    if (batch.activityWindows?.length) w.activityWindows.write(batch.activityWindows);
    if (batch.activityDaily?.length) w.activityDaily.write(batch.activityDaily);
    if (batch.wikiWindows?.length) w.wikiWindows.write(batch.wikiWindows);
    if (batch.wikiDaily?.length) w.wikiDaily.write(batch.wikiDaily);
    for (const row of batch.topPages ?? []) {
      this.#sql.upsertTopPages.run(
        windowLength(row, "topPages"),
        row.window_start,
        checkPartition(row.partition, "topPages"),
        JSON.stringify(row.pages),
        row.final ? 1 : 0,
      );
    }
    for (const row of batch.alerts ?? []) {
      this.#sql.upsertAlert.run(
        row.series,
        row.window_start,
        row.window_end,
        row.observed,
        row.expected,
        row.score,
        row.kind,
        row.created_at,
      );
    }
    if (batch.lateEvents?.length) w.lateEvents.write(batch.lateEvents);
    if (batch.rawEvents?.length) this.#writeRaw(batch.rawEvents);
    for (const run of batch.rawRuns ?? []) this.#writeRawRun(run);
    this.#segments?.finish();
    for (const checkpoint of batch.checkpoints) {
      checkCheckpoint(checkpoint);
      if (checkpoint.state === undefined) {
        const moved = this.#sql.moveCheckpoint.run(
          checkpoint.nextOffset,
          checkpoint.updatedAt,
          checkpoint.job,
          checkpoint.topic,
          checkPartition(checkpoint.partition, "checkpoints"),
        );
        if (moved.changes === 0) throw checkpointWithoutState(checkpoint);
        continue;
      }
      this.#sql.upsertCheckpoint.run(
        checkpoint.job,
        checkpoint.topic,
        checkpoint.partition,
        checkpoint.nextOffset,
        checkpoint.updatedAt,
      );
      this.#sql.upsertCheckpointState.run(
        checkpoint.job,
        checkpoint.topic,
        checkpoint.partition,
        checkpoint.state,
      );
    }
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
    encodeRawRun(this.#rawEncoder, rows, start, end, (offset, last, records) =>
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

  /** A stored batch's bytes: from its segment file, or from the row itself (schema 3 and before, in-memory). */
  #batchBytes(row: RawBatchRow): Buffer {
    const [, , records, segment, pos, length, crc] = row;
    if (segment === null) return records;
    return this.#segments!.read({ segment, pos: pos!, length: length!, crc: crc! });
  }

  /** Whether a stored batch holds an offset in [at.offset, last]. */
  #overlapsStored(at: RawPosition, last: number): boolean {
    const previous = this.#sql.rawBatchAtOrBefore.get({ ...at, offset: last });
    return previous !== undefined && previous[1] >= at.offset;
  }

  /** Where the stored batch holding `at.offset` starts; `at.offset` itself when no batch holds it. */
  #rawRunStart(at: RawPosition): number {
    const covering = this.#sql.rawBatchAtOrBefore.get(at);
    return covering !== undefined && covering[1] >= at.offset ? covering[0] : at.offset;
  }

  /** Replaces the stored batches that overlap [at.offset, last] with one merged run. */
  #mergeRaw(at: RawPosition, last: number, run: RawEventRow[]): void {
    const from = this.#rawRunStart(at);
    const byOffset = new Map<number, RawEventRow>();
    for (const batch of this.#sql.rawBatchesBetween.all({ ...at, offset: from, last })) {
      for (const row of decodeRawBatch(this.#batchBytes(batch), "", at.partition))
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
          `The live store ${this.path} already holds raw events of ${MAX_TOPIC_ID} topics, its limit; use another store file.`,
        );
      }
      this.#sql.insertTopic.run(id, topic);
    }
    this.#batchTopicIds.set(topic, id);
    return id;
  }

  #open(): Database.Database {
    if (this.#db === null) {
      throw new StoreError(StoreErrorCode.closed, `The live store ${this.path} is closed; open it again.`);
    }
    return this.#db;
  }

  #read<T>(during: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw toStoreError(error, during);
    }
  }
}

function bindActivity(args: unknown[], at: number, row: ActivityWindowRow): void {
  args[at] = windowLength(row, "activity");
  args[at + 1] = row.window_start;
  args[at + 2] = row.event_type;
  args[at + 3] = checkPartition(row.partition, "activity");
  args[at + 4] = row.event_count;
  args[at + 5] = row.unique_users;
  args[at + 6] = row.sessions;
  args[at + 7] = row.revenue_cents;
  args[at + 8] = row.final ? 1 : 0;
}

function bindWiki(args: unknown[], at: number, row: WikiWindowRow): void {
  args[at] = windowLength(row, "wiki");
  args[at + 1] = row.window_start;
  args[at + 2] = row.wiki;
  args[at + 3] = checkPartition(row.partition, "wiki");
  args[at + 4] = row.changes;
  args[at + 5] = row.edits;
  args[at + 6] = row.bot_edits;
  args[at + 7] = row.human_edits;
  args[at + 8] = row.new_pages;
  args[at + 9] = row.byte_delta;
  args[at + 10] = row.unique_editors;
  args[at + 11] = row.final ? 1 : 0;
}

function bindLateEvent(args: unknown[], at: number, row: LateEventRow): void {
  args[at] = row.topic;
  args[at + 1] = checkPartition(row.partition, "lateEvents");
  args[at + 2] = row.offset;
  args[at + 3] = row.event_time;
  args[at + 4] = row.watermark;
  args[at + 5] = row.payload;
}

function toActivityWindow(row: MergedActivity): ActivityWindow {
  return {
    window_start: row.window_start,
    window_end: row.window_end,
    event_type: row.event_type,
    event_count: row.event_count,
    unique_users: row.unique_users,
    sessions: row.sessions,
    // Summed in integer cents and divided once, so merging partitions adds no rounding error.
    revenue: row.revenue_cents / 100,
    final: row.final === 1,
  };
}

/** Keeps StoreErrors as they are and turns SQLite failures into StoreErrors, busy ones retriable. */
function toStoreError(error: unknown, during: string): StoreError {
  if (error instanceof StoreError) return error;
  if (isBusy(error)) {
    return new StoreError(
      StoreErrorCode.busy,
      `The live store file is locked by another process while ${during}; retry, or raise busyTimeoutMs.`,
      { retriable: true, cause: error },
    );
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    // better-sqlite3 rejects values it cannot bind (a boolean, an object) with a TypeError.
    return new StoreError(
      StoreErrorCode.badArgument,
      `Invalid value while ${during}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  return new StoreError(StoreErrorCode.storage, `SQLite failed while ${during}: ${errorMessage(error)}`, {
    cause: error,
  });
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

function upgradeSchema(db: Database.Database, fromVersion: number): void {
  // Schema 4 indexes raw batches in segment files; the batches already stored stay in their rows.
  const rawColumns = db
    .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('raw_batches')")
    .all();
  for (const column of ["segment", "pos", "length", "crc"]) {
    if (!rawColumns.some((c) => c.name === column))
      db.exec(`ALTER TABLE raw_batches ADD COLUMN ${column} INTEGER`);
  }
  if (fromVersion < 2) upgradeRawLake(db);
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('checkpoints')").all();
  if (fromVersion < 3 && columns.some((c) => c.name === "state")) {
    db.exec(`INSERT INTO checkpoint_states (job, topic, partition, state)
      SELECT job, topic, partition, state FROM checkpoints;
      ALTER TABLE checkpoints DROP COLUMN state;`);
  }
}

/** Encodes rows[start, end) (one topic and partition, offsets increasing) as raw batches, handing each to `store`. */
function encodeRawRun(
  encoder: RawBatchEncoder,
  rows: readonly RawEventRow[],
  start: number,
  end: number,
  store: (first: number, last: number, records: Buffer) => void,
): void {
  while (start < end) {
    const batch = encoder.encode(rows, start, end);
    store(batch.firstOffset, batch.lastOffset, batch.bytes);
    start += batch.count;
  }
}

/** Schema 1 kept one raw_events row per event; this packs them into raw batches of up to 1000 records. */
function upgradeRawLake(db: Database.Database): void {
  const insert = db.prepare<RawPosition & { last: number; records: Buffer }>(
    `INSERT INTO raw_batches (id, last_offset, records) VALUES (${RAW_ID}, @last, @records)`,
  );
  const encoder = new RawBatchEncoder();
  let run: RawEventRow[] = [];
  let runTopic = -1;
  let runPartition = -1;
  const flush = () => {
    encodeRawRun(encoder, run, 0, run.length, (offset, last, records) =>
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
