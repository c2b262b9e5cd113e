// The MongoDB LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one MongoDB database.
/*
 * Commit without multi-document transactions (FerretDB has none); the unit of atomicity is one document.
 *   1. Raw-lake rows are upserted first: keyed by offset and deterministic, writing them early is harmless.
 *   2. Each checkpoint document is the commit point of its (job, topic, partition): the same single-document
 *      write carries a redo record, {batch, seq, rows}, with that partition's window, daily, top-page and
 *      late-event rows of the batch. Rows whose partition has no checkpoint in the batch, and alerts (no
 *      partition), ride with the lowest-partition checkpoint; a batch without checkpoints gets a journal
 *      commit point in `redo`. Commit points are written lowest partition first, in ordered writes, so a
 *      row's carrier is durable no later than its own partition's checkpoint.
 *   3. The rows are upserted into the query collections (v = seq), then the redo records are cleared.
 * A crash between 2 and 3 leaves committed redo records: open() re-applies them, and so does the next
 * read or commit after a commit that failed past step 2. A checkpoint is thus never durable without its
 * rows. Unlike the embedded store, a batch is atomic per partition, not as a whole: after a crash in step 2
 * some partitions hold the new checkpoint and the others the old one, which the job replays; rows are
 * absolute values, not increments, so the replay rewrites them to the same values.
 *
 * Bounds: a redo record carries at most INLINE_REDO_BYTES of rows and a checkpoint document stays under
 * 16 MiB (state ≤ MAX_STATE_BYTES); larger row sets go to overflow pages in `redo`, written before the
 * commit point that references them, so they take effect with it. Raw-lake rows never go through redo.
 *
 * Re-applying a redo record writes a row only where the stored one is older (v < seq) or missing, so a
 * process that recovers a record late (it opened while the writer was between steps 2 and 3) does not
 * overwrite a later batch's rows. That check is a read then a write: FerretDB has no atomic conditional
 * write to do better, and on MongoDB too a writer could slip a newer row in between (a window of one
 * round trip per 16 rows), which would leave the older row until the writer writes that row again.
 */
import { randomUUID } from "node:crypto";
import {
  type AnyBulkWriteOperation,
  type Binary,
  BSON,
  type Db,
  type Document,
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type WriteError,
} from "mongodb";
import { StoreError, StoreErrorCode } from "../errors.ts";
import { checkRawRun, decodeRawBatch } from "./raw-batch.ts";
import type {
  ActivityWindow,
  ActivityWindowRow,
  AlertRow,
  Checkpoint,
  StoredCheckpoint,
  LateEventRow,
  LiveStore,
  RawEventRow,
  StoreBatch,
  TopPagesRow,
  WikiWindow,
  WikiWindowRow,
  WindowQuery,
  WindowRange,
  WindowRows,
} from "./index.ts";
import {
  checkCheckpoint,
  checkpointConflict,
  checkpointWithoutState,
  mergeTopPages,
  checkDayRange,
  checkLimit,
  checkPartition,
  checkRawPositions,
  checkRawValue,
  checkFinalStartsQuery,
  checkWindowMs,
  checkWindowQuery,
  checkWindowRange,
  compareText,
  MAX_PARTITIONS,
  windowLength,
} from "./validate.ts";

/*
 * Storage layout (schema version 1), one database per store (the URL's path, default "pulse"):
 *
 *   activity_windows, activity_daily  {_id, window_ms, window_start, window_end, event_type, partition, event_count, unique_users, sessions, revenue_cents, final, v}
 *   wiki_windows, wiki_daily          {_id, window_ms, window_start, window_end, wiki, partition, changes, …, unique_editors, final, v}
 *   top_pages                         {_id, window_ms, window_start, window_end, partition, pages: [{wiki, title, edits}], final, v}
 *   alerts                            {_id, series, window_start, window_end, observed, expected, score, kind, created_at, v}
 *   late_events                       {_id, topic, partition, offset, event_time, watermark, payload, v}
 *   raw_events                        {_id, topic, partition, offset, event_time, ingested_at, value}
 *   checkpoints                       {_id, job, topic, partition, next_offset, state: Binary, updated_at, redo?}
 *   redo                              journal commit points {_id: batch, kind: "commit", batch, seq, rows, pages}
 *                                     and overflow pages {_id: "<batch>:<n>", kind: "page", batch, created_at, rows}
 *   meta                              {_id: "schema", version}, {_id: "seq", value}
 *
 * Every _id is the row's contract key as a JSON array (e.g. [window_ms, window_start, event_type,
 * partition]) and every write is a replace by _id alone. v is the sequence number of the batch that last
 * wrote the row. The secondary indexes serve the live queries.
 *
 * FerretDB 1.24's SQLite backend pushes an _id equality down to SQL, but as _ferretdb_sjson->'$._id', which
 * does not match its own _id index (on _ferretdb_sjson->"_id"): every lookup by _id there scans the table
 * (EXPLAIN QUERY PLAN: SCAN; on a 59k-row raw_events, 3 ms for the first row, 0.7 s for the last). Cheap on
 * the query collections, which hold windows; on raw_events, which grows with every event, each replace of
 * a recent row scans the lake. So raw-lake rows are inserted in bulk, and rewritten one by one only when a
 * stored row may differ (#writeRaw).
 */
const SCHEMA_VERSION = 1;
const DEFAULT_DATABASE = "pulse";
const MIB = 1024 * 1024;
/** Rows carried inline by one commit point; more go to overflow pages. */
const INLINE_REDO_BYTES = 2 * MIB;
/** Rows per overflow page: well under the 16 MiB document limit of MongoDB and FerretDB. */
const PAGE_BYTES = 8 * MIB;
/** The largest row: it must fit an overflow page with room to spare. */
const MAX_ROW_BYTES = PAGE_BYTES - 64 * 1024;
/** The largest checkpoint state: the checkpoint document must stay under 16 MiB with its fields. */
const MAX_STATE_BYTES = 15 * MIB;
/** Room for a checkpoint document's own fields and BSON framing. */
const DOCUMENT_BUDGET_BYTES = 16 * MIB - 64 * 1024;
/** Overflow pages that no commit point references are left-overs of a failed commit after this long. */
const ORPHAN_PAGE_AGE_MS = 3_600_000;
const DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 10_000;
const OPERATION_TIMEOUT_MS = 60_000;
/** Statements per update command on FerretDB, whose SQLite pool has 100 connections per database. */
const FERRETDB_STATEMENTS_PER_WRITE = 16;
const MONGODB_STATEMENTS_PER_WRITE = 1000;
/** Rows whose versions a recovery reads (in parallel) right before writing them. */
const REAPPLY_ROWS = 16;

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

/** The row kinds that go through redo records, each with its collection. */
const REDO_COLLECTIONS = {
  activityWindows: "activity_windows",
  activityDaily: "activity_daily",
  wikiWindows: "wiki_windows",
  wikiDaily: "wiki_daily",
  topPages: "top_pages",
  alerts: "alerts",
  lateEvents: "late_events",
} as const;
type RedoKind = keyof typeof REDO_COLLECTIONS;
const REDO_KINDS = Object.keys(REDO_COLLECTIONS) as RedoKind[];

/** Indexes for the live queries, created (idempotently) on open. */
const INDEXES: Readonly<Record<string, ReadonlyArray<{ name: string; key: Record<string, 1 | -1> }>>> = {
  activity_windows: [{ name: "by_length_start_type", key: { window_ms: 1, window_start: 1, event_type: 1 } }],
  activity_daily: [{ name: "by_day_length_type", key: { window_start: 1, window_ms: 1, event_type: 1 } }],
  wiki_windows: [{ name: "by_length_start_wiki", key: { window_ms: 1, window_start: 1, wiki: 1 } }],
  wiki_daily: [{ name: "by_day_length_wiki", key: { window_start: 1, window_ms: 1, wiki: 1 } }],
  top_pages: [{ name: "by_length_start_partition", key: { window_ms: 1, window_start: 1, partition: 1 } }],
  alerts: [{ name: "newest", key: { window_start: -1, series: 1 } }],
  late_events: [{ name: "newest", key: { watermark: -1, topic: 1, partition: 1, offset: -1 } }],
  raw_events: [{ name: "by_position", key: { topic: 1, partition: 1, offset: 1 } }],
  checkpoints: [{ name: "by_job_topic_partition", key: { job: 1, topic: 1, partition: 1 } }],
  redo: [{ name: "by_batch", key: { batch: 1 } }],
};

export interface MongoLiveStoreOptions {
  /** mongodb:// or mongodb+srv:// connection string; the database is its path (default "pulse"). */
  url: string;
  /** How long an operation waits for a reachable server before failing with PULSE_STORE_UNAVAILABLE. */
  serverSelectionTimeoutMs?: number;
  /**
   * For crash tests: called once a batch's commit points are durable and before its rows are applied.
   * A throw stops the commit there, as a crash would; reopening the store must recover the batch.
   */
  testHooks?: { afterCommitPoint?: () => void | Promise<void> };
}

/** A row document: its contract key as _id, and the fields it is read back with. */
interface RowDocument {
  _id: string;
  [field: string]: unknown;
}

type RedoRows = Partial<Record<RedoKind, RowDocument[]>>;

interface RedoRecord {
  batch: string;
  seq: number;
  rows: RedoRows;
  /** _ids of overflow pages in `redo`, written before this record. */
  pages: string[];
}

interface CheckpointDocument {
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

interface RedoDocument {
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

/** One commit point of a batch: a checkpoint document, or the journal document of a batch without one. */
interface CommitPoint {
  checkpoint: Checkpoint | undefined;
  rows: RedoRows;
}

interface BatchPlan {
  raw: RowDocument[];
  commitPoints: CommitPoint[];
}

export class MongoLiveStore implements LiveStore {
  /** The connection string without password or options, as messages show it. */
  readonly url: string;
  #client: MongoClient | null;
  readonly #db: Db;
  readonly #redact: (text: string) => string;
  readonly #hooks: MongoLiveStoreOptions["testHooks"];
  /** Set while a commit may have left committed redo records behind; the next read or commit recovers. */
  #recoveryNeeded = true;
  /**
   * Set when a commit failed after it started writing commit points: some may be durable (the server
   * applied them, then the answer was lost). Its retry then takes a checkpoint equal to its own (same
   * offset, same updated_at) for its own earlier write, not for another member's commit.
   */
  #inDoubt = false;
  /** Statements per update command: few on FerretDB (see #replaceById), the driver's batching elsewhere. */
  #statementsPerWrite = MONGODB_STATEMENTS_PER_WRITE;
  /**
   * Raw-lake rows that this store wrote, or sent and may have written, since its last successful commit,
   * by _id. A retried commit finds them stored already, with the content it is writing (see #writeRaw).
   */
  readonly #rawSent = new Map<string, RowDocument>();

  private constructor(client: MongoClient, db: Db, url: string, options: MongoLiveStoreOptions) {
    this.#client = client;
    this.#db = db;
    this.url = url;
    this.#redact = redactor(options.url);
    this.#hooks = options.testHooks;
  }

  /** Connects, checks the schema version, creates the indexes and re-applies committed redo records. */
  static async open(options: MongoLiveStoreOptions): Promise<MongoLiveStore> {
    const url = displayMongoUrl(options.url);
    const redact = redactor(options.url);
    const timeoutMs = options.serverSelectionTimeoutMs ?? DEFAULT_SERVER_SELECTION_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `MongoLiveStore serverSelectionTimeoutMs must be a whole number of ms > 0, got ${timeoutMs}.`,
      );
    }
    const name = databaseOf(options.url, url);
    let client: MongoClient;
    try {
      client = new MongoClient(options.url, {
        serverSelectionTimeoutMS: timeoutMs,
        // A server host that vanishes without closing its sockets (power loss, a network partition) leaves
        // a read that never ends, until TCP keepalive gives up minutes later; bound every round trip so the
        // stream job sees a retriable error and retries.
        socketTimeoutMS: OPERATION_TIMEOUT_MS,
        appName: "pulse",
      });
    } catch (error) {
      throw toStoreError(error, "opening the live store", url, redact);
    }
    try {
      await client.connect();
      const store = new MongoLiveStore(client, client.db(name), url, options);
      await store.#prepare();
      return store;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw toStoreError(error, "opening the live store", url, redact);
    }
  }

  async commit(batch: StoreBatch): Promise<void> {
    this.#open();
    const plan = planBatch(batch);
    let committing = false;
    try {
      await this.#recoverIfNeeded();
      await this.#checkFences(
        plan.commitPoints.flatMap((point) => (point.checkpoint ? [point.checkpoint] : [])),
      );
      if (plan.raw.length > 0) await this.#writeRaw(plan.raw);
      if (plan.commitPoints.length === 0) {
        this.#rawSent.clear();
        return;
      }
      const seq = await this.#nextSeq();
      const batchId = randomUUID();
      const records = await this.#writePages(batchId, seq, plan.commitPoints);
      committing = true;
      await this.#writeCommitPoints(batchId, plan.commitPoints, records);
      await this.#hooks?.afterCommitPoint?.();
      await this.#applyRows(allRows(plan.commitPoints.map((point) => point.rows)), seq);
      await this.#clear(batchId);
      this.#rawSent.clear();
      this.#inDoubt = false;
    } catch (error) {
      // Some commit points may be durable without their rows applied: the next read or commit finishes them.
      if (committing) {
        this.#recoveryNeeded = true;
        this.#inDoubt = true;
      }
      throw this.#error(error, "committing a batch");
    }
  }

  async checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]> {
    return this.#read("reading checkpoints", async () => {
      const docs = await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .find({ job, topic }, { projection: { redo: 0 }, sort: { partition: 1 } })
        .toArray();
      return docs.map((doc) => ({
        job: doc.job,
        topic: doc.topic,
        partition: doc.partition,
        nextOffset: doc.next_offset,
        state: bytesOf(doc.state!),
        updatedAt: doc.updated_at,
      }));
    });
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    return this.#read("reading checkpoint offsets", async () => {
      const docs = await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .find({ job, topic }, { projection: { _id: 0, partition: 1, next_offset: 1 } })
        .toArray();
      return new Map(docs.map((doc) => [doc.partition, doc.next_offset]));
    });
  }

  async activityWindows(query: WindowQuery): Promise<ActivityWindow[]> {
    this.#open();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#read("reading activity windows", async () =>
      (await this.#latestWindows("activity_windows", "event_type", ACTIVITY_METRICS, query)).map(
        toActivityWindow,
      ),
    );
  }

  async activityDaily(range: { fromMs?: number; toMs?: number } = {}): Promise<ActivityWindow[]> {
    this.#open();
    checkDayRange(range);
    return this.#read("reading daily activity", async () => {
      const start: Record<string, number> = {};
      if (range.fromMs !== undefined) start.$gte = range.fromMs;
      if (range.toMs !== undefined) start.$lt = range.toMs;
      const rows = await this.#db
        .collection<RowDocument>("activity_daily")
        .find(Object.keys(start).length > 0 ? { window_start: start } : {}, {
          sort: { window_start: 1, window_ms: 1, event_type: 1, partition: 1 },
        })
        .toArray();
      return mergePartitions(rows, "event_type", ACTIVITY_METRICS).map(toActivityWindow);
    });
  }

  async wikiWindows(query: WindowQuery): Promise<WikiWindow[]> {
    this.#open();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#read(
      "reading wiki windows",
      async () =>
        (await this.#latestWindows("wiki_windows", "wiki", WIKI_METRICS, query)) as unknown as WikiWindow[],
    );
  }

  async activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]> {
    return (await this.#windowRows(
      "activity_windows",
      "event_type",
      ACTIVITY_METRICS,
      range,
    )) as ActivityWindowRow[];
  }

  async wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]> {
    return (await this.#windowRows("wiki_windows", "wiki", WIKI_METRICS, range)) as WikiWindowRow[];
  }

  /** Rows per partition of windows in `range`, as their documents hold them (activityWindowRows, wikiWindowRows). */
  async #windowRows(
    name: string,
    key: string,
    metrics: readonly string[],
    range: WindowRange,
  ): Promise<Array<ActivityWindowRow | WikiWindowRow>> {
    this.#open();
    checkWindowRange(range);
    return this.#read(`reading ${name}`, async () => {
      const docs = await this.#db
        .collection<RowDocument>(name)
        .find(
          { window_ms: range.windowMs, window_start: { $gte: range.fromMs, $lt: range.toMs } },
          { sort: { window_start: 1, [key]: 1, partition: 1 } },
        )
        .toArray();
      return docs.map((doc) => {
        const row: Record<string, unknown> = {
          partition: doc.partition,
          window_start: doc.window_start,
          window_end: doc.window_end,
          [key]: doc[key],
        };
        for (const metric of metrics) row[metric] = doc[metric];
        row.final = doc.final === true;
        return row as unknown as ActivityWindowRow | WikiWindowRow;
      });
    });
  }

  async finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    this.#open();
    checkFinalStartsQuery(rows, windowMs, fromMs);
    const name = rows === "activity" ? "activity_windows" : "wiki_windows";
    return this.#read("reading final windows", async () => {
      const starts = new Map<number, number>();
      const found = this.#db
        .collection<RowDocument>(name)
        .find(
          { window_ms: windowMs, window_start: { $gte: fromMs }, final: true },
          { projection: { _id: 0, partition: 1, window_start: 1 } },
        );
      for await (const doc of found) {
        const partition = doc.partition as number;
        const start = doc.window_start as number;
        if (!(start <= (starts.get(partition) ?? Number.NEGATIVE_INFINITY))) starts.set(partition, start);
      }
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
    return this.#read("reading top pages", async () => {
      const collection = this.#db.collection<RowDocument>("top_pages");
      const latest = await collection.findOne(
        { window_ms: windowMs },
        { sort: { window_start: -1 }, projection: { _id: 0, window_start: 1 } },
      );
      if (latest === null) return { window_start: 0, window_end: 0, pages: [] };
      const start = latest.window_start as number;
      const rows = await collection
        .find(
          { window_ms: windowMs, window_start: start },
          { sort: { partition: 1 }, projection: { _id: 0, pages: 1 } },
        )
        .toArray();
      const pages = mergeTopPages(
        rows.map((row) => row.pages as TopPagesRow["pages"]),
        limit,
      );
      return { window_start: start, window_end: start + windowMs, pages };
    });
  }

  /** Newest first by event time: window_start descending, then series. */
  async alerts(limit: number): Promise<AlertRow[]> {
    this.#open();
    checkLimit("alerts limit", limit);
    if (limit === 0) return [];
    return this.#read("reading alerts", async () => {
      const docs = await this.#db
        .collection<RowDocument>("alerts")
        .find({}, { sort: { window_start: -1, series: 1 }, limit, projection: { _id: 0, v: 0 } })
        .toArray();
      return docs as unknown as AlertRow[];
    });
  }

  /**
   * Newest first: by the watermark when the event arrived (the job's event-time progress, which
   * only grows per partition), then topic and partition, then offset descending.
   */
  async lateEvents(limit: number): Promise<LateEventRow[]> {
    this.#open();
    checkLimit("lateEvents limit", limit);
    if (limit === 0) return [];
    return this.#read("reading late events", async () => {
      const docs = await this.#db
        .collection<RowDocument>("late_events")
        .find(
          {},
          {
            sort: { watermark: -1, topic: 1, partition: 1, offset: -1 },
            limit,
            projection: { _id: 0, v: 0 },
          },
        )
        .toArray();
      return docs as unknown as LateEventRow[];
    });
  }

  async rawEvents(topic: string, after: ReadonlyMap<number, number>, limit: number): Promise<RawEventRow[]> {
    this.#open();
    checkLimit("rawEvents limit", limit);
    checkRawPositions(after);
    return this.#read("reading raw events", async () => {
      const collection = this.#db.collection<RowDocument>("raw_events");
      const out: RawEventRow[] = [];
      let partition = 0;
      // One partition at a time, in order, as the embedded store does: two index seeks per partition.
      while (out.length < limit && partition < MAX_PARTITIONS) {
        const next = await collection.findOne(
          { topic, partition: { $gte: partition } },
          { sort: { partition: 1, offset: 1 }, projection: { _id: 0, partition: 1 } },
        );
        if (next === null) break;
        partition = next.partition as number;
        const position = after.get(partition);
        const first = position === undefined ? 0 : Math.max(position + 1, 0);
        const rows = await collection
          .find(
            { topic, partition, offset: { $gte: first } },
            { sort: { offset: 1 }, limit: limit - out.length, projection: { _id: 0 }, promoteBuffers: true },
          )
          .toArray();
        for (const row of rows) out.push(rawEventRow(row));
        partition++;
      }
      return out;
    });
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    this.#client = null;
    await client.close();
  }

  async #prepare(): Promise<void> {
    const schema = await upsertMeta(this.#db, "schema", { $setOnInsert: { version: SCHEMA_VERSION } });
    const version = schema?.version ?? SCHEMA_VERSION;
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        StoreErrorCode.schemaTooNew,
        `The live store database "${this.#db.databaseName}" at ${this.url} has schema version ${version}, newer than this Pulse knows (${SCHEMA_VERSION}); upgrade Pulse or use another database.`,
      );
    }
    const build = await this.#db.admin().command({ buildInfo: 1 });
    if (typeof build.ferretdbVersion === "string") this.#statementsPerWrite = FERRETDB_STATEMENTS_PER_WRITE;
    for (const [name, indexes] of Object.entries(INDEXES)) {
      await this.#db.collection(name).createIndexes(indexes.map((index) => ({ ...index })));
    }
    await this.#recoverIfNeeded();
  }

  /** Re-applies every committed redo record (oldest first), then clears it. Idempotent. */
  async #recoverIfNeeded(): Promise<void> {
    if (!this.#recoveryNeeded) return;
    const checkpoints = this.#db.collection<CheckpointDocument>("checkpoints");
    const redo = this.#db.collection<RedoDocument>("redo");
    const pending: RedoRecord[] = [];
    for (const doc of await checkpoints
      .find({ redo: { $exists: true } }, { projection: { redo: 1 } })
      .toArray()) {
      if (doc.redo !== undefined) pending.push(doc.redo);
    }
    for (const doc of await redo.find({ kind: "commit" }).toArray()) {
      pending.push({ batch: doc.batch, seq: doc.seq ?? 0, rows: doc.rows, pages: doc.pages ?? [] });
    }
    pending.sort((a, b) => a.seq - b.seq);
    const batches = new Set<string>();
    for (const record of pending) {
      batches.add(record.batch);
      const rows = await this.#withPages(record);
      if (rows !== undefined) await this.#reapplyRows(rows, record.seq);
    }
    for (const batch of batches) await this.#clear(batch);
    await redo.deleteMany({
      kind: "page",
      batch: { $nin: [...batches] },
      created_at: { $lt: Date.now() - ORPHAN_PAGE_AGE_MS },
    });
    this.#recoveryNeeded = false;
  }

  /** A redo record's rows with its overflow pages; undefined when another process already finished it. */
  async #withPages(record: RedoRecord): Promise<RedoRows | undefined> {
    if (record.pages.length === 0) return record.rows;
    const pages = await this.#db
      .collection<RedoDocument>("redo")
      .find({ _id: { $in: record.pages } })
      .toArray();
    if (pages.length < record.pages.length) {
      const [checkpoint, journal] = await Promise.all([
        this.#db.collection<CheckpointDocument>("checkpoints").countDocuments({ "redo.batch": record.batch }),
        this.#db.collection<RedoDocument>("redo").countDocuments({ _id: record.batch }),
      ]);
      if (checkpoint === 0 && journal === 0) return undefined;
      throw new StoreError(
        StoreErrorCode.storage,
        `The live store at ${this.url} lost overflow pages of committed batch ${record.batch}; its rows cannot be re-applied. Replay the stream job from earlier offsets.`,
      );
    }
    return allRows([record.rows, ...pages.map((page) => page.rows)]);
  }

  /** The next batch sequence number: meta.seq only grows, in any number of processes. */
  async #nextSeq(): Promise<number> {
    const doc = await upsertMeta(this.#db, "seq", { $inc: { value: 1 } });
    return doc?.value ?? 1;
  }

  /** Moves the rows of commit points too large to carry inline to pages; returns each point's record. */
  async #writePages(batch: string, seq: number, points: readonly CommitPoint[]): Promise<RedoRecord[]> {
    const records: RedoRecord[] = [];
    const pages: RedoDocument[] = [];
    for (const point of points) {
      const stateBytes = point.checkpoint?.state?.byteLength ?? 0;
      const rowBytes = BSON.calculateObjectSize(point.rows);
      if (rowBytes <= INLINE_REDO_BYTES && stateBytes + rowBytes <= DOCUMENT_BUDGET_BYTES) {
        records.push({ batch, seq, rows: point.rows, pages: [] });
        continue;
      }
      const ids: string[] = [];
      let page: RedoRows = {};
      let pageBytes = 0;
      const flush = () => {
        const _id = `${batch}:${pages.length}`;
        pages.push({ _id, kind: "page", batch, created_at: Date.now(), rows: page });
        ids.push(_id);
        page = {};
        pageBytes = 0;
      };
      for (const kind of REDO_KINDS) {
        for (const doc of point.rows[kind] ?? []) {
          // planBatch bounds every row well under PAGE_BYTES.
          const size = BSON.calculateObjectSize(doc) + 16;
          if (pageBytes + size > PAGE_BYTES) flush();
          addRows(page, kind, [doc]);
          pageBytes += size;
        }
      }
      if (pageBytes > 0) flush();
      records.push({ batch, seq, rows: {}, pages: ids });
    }
    if (pages.length > 0) {
      // One page per insert: each is up to PAGE_BYTES, and they are rare.
      for (const page of pages) await this.#db.collection<RedoDocument>("redo").insertOne(page);
    }
    return records;
  }

  /** The commit points, lowest partition first, in ordered bulk writes: each is one document write. */
  async #writeCommitPoints(
    batch: string,
    points: readonly CommitPoint[],
    records: RedoRecord[],
  ): Promise<void> {
    const first = points[0]!;
    if (first.checkpoint === undefined) {
      const record = records[0]!;
      await this.#db.collection<RedoDocument>("redo").insertOne({
        _id: batch,
        kind: "commit",
        batch,
        seq: record.seq,
        rows: record.rows,
        pages: record.pages,
      });
      return;
    }
    const docs = points.map((point, i) => {
      const checkpoint = point.checkpoint!;
      const record = records[i]!;
      const carries =
        REDO_KINDS.some((kind) => (record.rows[kind]?.length ?? 0) > 0) || record.pages.length > 0;
      const doc: CheckpointDocument = {
        _id: checkpointId(checkpoint),
        job: checkpoint.job,
        topic: checkpoint.topic,
        partition: checkpoint.partition,
        next_offset: checkpoint.nextOffset,
        updated_at: checkpoint.updatedAt,
      };
      if (checkpoint.state !== undefined) doc.state = checkpoint.state;
      if (carries) doc.redo = record;
      return doc;
    });
    if (
      points.every(
        (point) =>
          point.checkpoint!.expectedNextOffset === undefined && point.checkpoint!.state !== undefined,
      )
    ) {
      await this.#replaceById("checkpoints", docs, true);
      return;
    }
    // Fenced checkpoints are compare-and-set writes, one document at a time, in the same order.
    const checkpoints = this.#db.collection<CheckpointDocument>("checkpoints");
    for (const [i, doc] of docs.entries()) {
      const checkpoint = points[i]!.checkpoint!;
      const expected = checkpoint.expectedNextOffset;
      if (doc.state === undefined) {
        // Keeps the stored state: moves the offset and sets or clears the redo record in one update.
        const { _id, redo, ...fields } = doc;
        const update =
          redo === undefined
            ? { $set: fields, $unset: { redo: "" as const } }
            : { $set: { ...fields, redo } };
        if (expected === null) throw checkpointWithoutState(checkpoint);
        const filter = expected === undefined ? { _id } : { _id, next_offset: expected };
        if ((await checkpoints.updateOne(filter, update)).matchedCount === 1) continue;
        if (expected === undefined) throw checkpointWithoutState(checkpoint);
        await this.#requireOwn(checkpoint);
        await checkpoints.updateOne({ _id }, update);
        continue;
      }
      if (expected === undefined) {
        await checkpoints.replaceOne({ _id: doc._id }, doc, { upsert: true });
      } else if (expected === null) {
        try {
          await checkpoints.insertOne(doc);
        } catch (error) {
          if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
          await this.#requireOwn(checkpoint);
          await checkpoints.replaceOne({ _id: doc._id }, doc);
        }
      } else if (
        (await checkpoints.replaceOne({ _id: doc._id, next_offset: expected }, doc)).matchedCount !== 1
      ) {
        await this.#requireOwn(checkpoint);
        await checkpoints.replaceOne({ _id: doc._id }, doc);
      }
    }
  }

  /**
   * Refuses a batch whose fenced checkpoints (Checkpoint.expectedNextOffset) moved since the writer read
   * them, before anything of it is written. The commit points repeat the check as compare-and-set
   * writes, which MongoDB makes atomic; FerretDB has none, so there it narrows the race to a round trip.
   */
  async #checkFences(checkpoints: readonly Checkpoint[]): Promise<void> {
    const collection = this.#db.collection<CheckpointDocument>("checkpoints");
    for (const checkpoint of checkpoints) {
      if (checkpoint.expectedNextOffset === undefined) continue;
      const stored = await collection.findOne(
        { _id: checkpointId(checkpoint) },
        { projection: { next_offset: 1, updated_at: 1 } },
      );
      if ((stored?.next_offset ?? null) === checkpoint.expectedNextOffset) continue;
      if (!this.#ownEarlierWrite(stored, checkpoint)) {
        throw checkpointConflict(checkpoint, stored?.next_offset ?? null);
      }
    }
  }

  /** Whether `stored` is this commit's own checkpoint, written by an attempt whose answer was lost. */
  #ownEarlierWrite(
    stored: Pick<CheckpointDocument, "next_offset" | "updated_at"> | null,
    checkpoint: Checkpoint,
  ): boolean {
    return (
      this.#inDoubt &&
      stored !== null &&
      stored.next_offset === checkpoint.nextOffset &&
      stored.updated_at === checkpoint.updatedAt
    );
  }

  /**
   * After a compare-and-set matched nothing: returns when the stored checkpoint is this commit's own (an
   * earlier attempt's, whose answer was lost), else throws the conflict. One read serves both.
   */
  async #requireOwn(checkpoint: Checkpoint): Promise<void> {
    const stored = await this.#db
      .collection<CheckpointDocument>("checkpoints")
      .findOne({ _id: checkpointId(checkpoint) }, { projection: { next_offset: 1, updated_at: 1 } });
    if (!this.#ownEarlierWrite(stored, checkpoint)) {
      throw checkpointConflict(checkpoint, stored?.next_offset ?? null);
    }
  }

  /** Writes a batch's own rows: nothing newer can exist, since one writer commits a job's batches in order. */
  async #applyRows(rows: RedoRows, seq: number): Promise<void> {
    for (const kind of REDO_KINDS) {
      const docs = rows[kind];
      if (docs === undefined || docs.length === 0) continue;
      await this.#replaceById(
        REDO_COLLECTIONS[kind],
        docs.map((doc) => ({ ...doc, v: seq })),
        false,
      );
    }
  }

  /**
   * Re-applies a recovered redo record: each row only where the stored row is older (v < seq) or
   * missing, so a record re-applied late never overwrites rows of a later batch. The versions are read
   * right before each chunk is written, by _id.
   */
  async #reapplyRows(rows: RedoRows, seq: number): Promise<void> {
    for (const kind of REDO_KINDS) {
      const docs = rows[kind];
      if (docs === undefined || docs.length === 0) continue;
      const collection = this.#db.collection<RowDocument>(REDO_COLLECTIONS[kind]);
      for (let i = 0; i < docs.length; i += REAPPLY_ROWS) {
        const chunk = docs.slice(i, i + REAPPLY_ROWS);
        const stored = await Promise.all(
          chunk.map((doc) => collection.findOne({ _id: doc._id }, { projection: { v: 1 } })),
        );
        const older = chunk.filter((_, j) => {
          const v = stored[j]?.v;
          return typeof v !== "number" || v < seq;
        });
        await this.#replaceById(
          REDO_COLLECTIONS[kind],
          older.map((doc) => ({ ...doc, v: seq })),
          false,
        );
      }
    }
  }

  /**
   * Upserts documents by _id, #statementsPerWrite per command: FerretDB 1.24 holds a SQLite connection
   * per statement of an update command until the command ends (100 per database), so one command of
   * more than about 100 statements never finishes, and blocks every other user of that database.
   */
  async #replaceById(name: string, docs: readonly Document[], ordered: boolean): Promise<void> {
    const collection = this.#db.collection(name);
    for (let i = 0; i < docs.length; i += this.#statementsPerWrite) {
      const writes: AnyBulkWriteOperation[] = docs
        .slice(i, i + this.#statementsPerWrite)
        .map((doc) => ({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } }));
      // Two upserts of one new _id at once (a writer and a reader re-applying its redo record) can both
      // try the insert; MongoDB retries the loser by itself, FerretDB reports E11000. The retry finds the
      // document and replaces it.
      for (let attempt = 0; ; attempt++) {
        try {
          await collection.bulkWrite(writes, { ordered });
          break;
        } catch (error) {
          if (!isOnlyDuplicateKeys(error) || attempt >= 3) throw error;
        }
      }
    }
  }

  /**
   * Raw-lake rows: inserted in one unordered bulk write; the rows already stored (a replay of offsets) are
   * replaced, the newest write winning, except those this store itself sent with the same content in an
   * earlier attempt at this commit. Those are what a retry after a failure past this step meets: all of
   * the batch, whose rewrite one row at a time would scan the whole lake per row on FerretDB (minutes
   * for a batch, with the job silent meanwhile). A stored row from another run is rewritten.
   */
  async #writeRaw(docs: RowDocument[]): Promise<void> {
    const raw = this.#db.collection<RowDocument>("raw_events");
    const sentBefore = docs.map((doc) => this.#rawSent.get(doc._id));
    // Whatever part of this insert reaches the server is this store's write, even if no reply comes back.
    for (const doc of docs) this.#rawSent.set(doc._id, doc);
    let duplicates: readonly number[];
    try {
      await raw.insertMany(docs, { ordered: false });
      return;
    } catch (error) {
      if (!isOnlyDuplicateKeys(error)) throw error;
      // The indexes, in the bulk write's own order, of the rows already stored.
      duplicates = writeErrorsOf(error as MongoBulkWriteError).map((e) => e.index);
    }
    const stale = duplicates.filter((i) => !sameRawRow(sentBefore[i], docs[i]!)).map((i) => docs[i]!);
    // Another run's rows until they are replaced: a retry after a failure below must rewrite them too.
    for (const doc of stale) this.#rawSent.delete(doc._id);
    await this.#replaceById("raw_events", stale, false);
    for (const doc of stale) this.#rawSent.set(doc._id, doc);
  }

  async #clear(batch: string): Promise<void> {
    await this.#db
      .collection<CheckpointDocument>("checkpoints")
      .updateMany({ "redo.batch": batch }, { $unset: { redo: "" } });
    await this.#db.collection<RedoDocument>("redo").deleteMany({ batch });
  }

  /** Merges the rows of the latest `last` window starts of one length over partitions. */
  async #latestWindows(
    name: string,
    key: string,
    metrics: readonly string[],
    query: WindowQuery,
  ): Promise<MergedWindow[]> {
    const collection = this.#db.collection<RowDocument>(name);
    // Newest starts first; a start has at most partitions × keys rows, so the walk stops soon after the N-th.
    const cursor = collection.find(
      { window_ms: query.windowMs },
      { sort: { window_start: -1 }, projection: { _id: 0, window_start: 1 }, batchSize: 1000 },
    );
    let oldest: number | undefined;
    let starts = 0;
    try {
      for await (const doc of cursor) {
        const start = doc.window_start as number;
        if (start === oldest) continue;
        oldest = start;
        if (++starts === query.last) break;
      }
    } finally {
      await cursor.close();
    }
    if (oldest === undefined) return [];
    const rows = await collection
      .find(
        { window_ms: query.windowMs, window_start: { $gte: oldest } },
        { sort: { window_start: 1, [key]: 1, partition: 1 } },
      )
      .toArray();
    return mergePartitions(rows, key, metrics);
  }

  #open(): Db {
    if (this.#client === null) {
      throw new StoreError(StoreErrorCode.closed, `The live store at ${this.url} is closed; open it again.`);
    }
    return this.#db;
  }

  async #read<T>(during: string, read: () => Promise<T>): Promise<T> {
    this.#open();
    try {
      await this.#recoverIfNeeded();
      return await read();
    } catch (error) {
      throw this.#error(error, during);
    }
  }

  #error(error: unknown, during: string): StoreError {
    return toStoreError(error, during, this.url, this.#redact);
  }
}

/**
 * An atomic update of one meta document, created on first use. Two processes creating it at once may
 * see a duplicate key (FerretDB does not retry such upserts as MongoDB does): the update is then retried.
 */
async function upsertMeta(
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

/** Validates a batch and lays it out: raw-lake rows, and the commit points carrying every other row. */
function planBatch(batch: StoreBatch): BatchPlan {
  const byKind: Record<RedoKind, Map<string, RowDocument>> = {
    activityWindows: new Map(),
    activityDaily: new Map(),
    wikiWindows: new Map(),
    wikiDaily: new Map(),
    topPages: new Map(),
    alerts: new Map(),
    lateEvents: new Map(),
  };
  // Maps keyed by _id: a later row with the same key replaces an earlier one, as an upsert would.
  const put = (kind: RedoKind, doc: RowDocument) => {
    byKind[kind].delete(doc._id);
    byKind[kind].set(doc._id, doc);
  };
  for (const row of batch.activityWindows ?? []) put("activityWindows", activityDocument(row, "activity"));
  for (const row of batch.activityDaily ?? []) put("activityDaily", activityDocument(row, "activity"));
  for (const row of batch.wikiWindows ?? []) put("wikiWindows", wikiDocument(row, "wiki"));
  for (const row of batch.wikiDaily ?? []) put("wikiDaily", wikiDocument(row, "wiki"));
  for (const row of batch.topPages ?? []) put("topPages", checkSize(topPagesDocument(row), "topPages"));
  for (const row of batch.alerts ?? []) put("alerts", alertDocument(row));
  for (const row of batch.lateEvents ?? []) put("lateEvents", lateEventDocument(row));
  const raw = new Map<string, RowDocument>();
  const putRaw = (row: RawEventRow) => {
    const doc = rawEventDocument(row);
    raw.delete(doc._id);
    raw.set(doc._id, doc);
  };
  for (const row of batch.rawEvents ?? []) putRaw(row);
  // Runs are the same rows encoded; here each still becomes a document of its own.
  for (const run of batch.rawRuns ?? []) {
    const { bytes } = checkRawRun(run, Number.MAX_SAFE_INTEGER);
    for (const row of decodeRawBatch(bytes, run.topic, run.partition)) putRaw(row);
  }
  const checkpoints = new Map<string, Checkpoint>();
  for (const checkpoint of batch.checkpoints) {
    checkCheckpoint(checkpoint);
    checkText(checkpoint.job, "checkpoints", "job");
    checkText(checkpoint.topic, "checkpoints", "topic");
    if (checkpoint.state !== undefined && checkpoint.state.byteLength > MAX_STATE_BYTES) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `Checkpoint state is ${checkpoint.state.byteLength} bytes, more than the ${MAX_STATE_BYTES} a MongoDB document can hold with its fields (job "${checkpoint.job}", topic "${checkpoint.topic}", partition ${checkpoint.partition}).`,
      );
    }
    checkNumbers(checkpoint, ["updatedAt"], "checkpoints");
    const id = checkpointId(checkpoint);
    checkpoints.delete(id);
    checkpoints.set(id, checkpoint);
  }

  const sorted = [...checkpoints.values()].sort(
    (a, b) => a.partition - b.partition || compareText(a.job, b.job) || compareText(a.topic, b.topic),
  );
  const points: CommitPoint[] = sorted.map((checkpoint) => ({ checkpoint, rows: {} }));
  const hasRows = REDO_KINDS.some((kind) => byKind[kind].size > 0);
  if (points.length === 0 && hasRows) points.push({ checkpoint: undefined, rows: {} });
  if (points.length > 0) {
    // Each row rides with the first commit point of its (topic and) partition, else with the first one.
    const byPartition = new Map<number, CommitPoint>();
    const byTopicPartition = new Map<string, CommitPoint>();
    for (const point of points) {
      const checkpoint = point.checkpoint;
      if (checkpoint === undefined) continue;
      if (!byPartition.has(checkpoint.partition)) byPartition.set(checkpoint.partition, point);
      const topicKey = JSON.stringify([checkpoint.topic, checkpoint.partition]);
      if (!byTopicPartition.has(topicKey)) byTopicPartition.set(topicKey, point);
    }
    for (const kind of REDO_KINDS) {
      for (const doc of byKind[kind].values()) {
        const partition = doc.partition as number | undefined;
        const point =
          (kind === "lateEvents"
            ? byTopicPartition.get(JSON.stringify([doc.topic, partition]))
            : undefined) ??
          (partition === undefined ? undefined : byPartition.get(partition)) ??
          points[0]!;
        addRows(point.rows, kind, [doc]);
      }
    }
  }
  return { raw: [...raw.values()], commitPoints: points };
}

function activityDocument(row: ActivityWindowRow, kind: string): RowDocument {
  const windowMs = windowLength(row, kind);
  checkPartition(row.partition, kind);
  checkText(row.event_type, kind, "event_type");
  checkNumbers(row, ACTIVITY_METRICS, kind);
  return {
    _id: JSON.stringify([windowMs, row.window_start, row.event_type, row.partition]),
    window_ms: windowMs,
    window_start: row.window_start,
    window_end: row.window_end,
    event_type: row.event_type,
    partition: row.partition,
    event_count: row.event_count,
    unique_users: row.unique_users,
    sessions: row.sessions,
    revenue_cents: row.revenue_cents,
    final: Boolean(row.final),
  };
}

function wikiDocument(row: WikiWindowRow, kind: string): RowDocument {
  const windowMs = windowLength(row, kind);
  checkPartition(row.partition, kind);
  checkText(row.wiki, kind, "wiki");
  checkNumbers(row, WIKI_METRICS, kind);
  return {
    _id: JSON.stringify([windowMs, row.window_start, row.wiki, row.partition]),
    window_ms: windowMs,
    window_start: row.window_start,
    window_end: row.window_end,
    wiki: row.wiki,
    partition: row.partition,
    changes: row.changes,
    edits: row.edits,
    bot_edits: row.bot_edits,
    human_edits: row.human_edits,
    new_pages: row.new_pages,
    byte_delta: row.byte_delta,
    unique_editors: row.unique_editors,
    final: Boolean(row.final),
  };
}

function topPagesDocument(row: TopPagesRow): RowDocument {
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
  return {
    _id: JSON.stringify([windowMs, row.window_start, row.partition]),
    window_ms: windowMs,
    window_start: row.window_start,
    window_end: row.window_end,
    partition: row.partition,
    pages,
    final: Boolean(row.final),
  };
}

function alertDocument(row: AlertRow): RowDocument {
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

function lateEventDocument(row: LateEventRow): RowDocument {
  checkPosition(row, "lateEvents");
  checkNumbers(row, ["event_time", "watermark"], "lateEvents");
  checkText(row.payload, "lateEvents", "payload");
  checkPayloadSize(row.payload, "lateEvents");
  return {
    _id: JSON.stringify([row.topic, row.partition, row.offset]),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    event_time: row.event_time,
    watermark: row.watermark,
    payload: row.payload,
  };
}

/** A stored raw-lake document as a row; documents written before the lake kept frames hold JSON text. */
function rawEventRow(doc: RowDocument): RawEventRow {
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

function rawEventDocument(row: RawEventRow): RowDocument {
  checkPosition(row, "rawEvents");
  checkNumbers(row, ["event_time", "ingested_at"], "rawEvents");
  checkRawValue(row);
  checkFieldBytes(row.value.length, "rawEvents", "value");
  return {
    _id: JSON.stringify([row.topic, row.partition, row.offset]),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    event_time: row.event_time,
    ingested_at: row.ingested_at,
    // A copy: the row's value is usually a view into a whole fetched answer, which BSON need not see.
    value: Buffer.from(row.value),
  };
}

/** The rows of several redo records or pages, kind by kind. */
function allRows(parts: readonly RedoRows[]): RedoRows {
  const rows: RedoRows = {};
  for (const part of parts) {
    for (const kind of REDO_KINDS) {
      const docs = part[kind];
      if (docs !== undefined && docs.length > 0) addRows(rows, kind, docs);
    }
  }
  return rows;
}

function addRows(rows: RedoRows, kind: RedoKind, docs: readonly RowDocument[]): void {
  const list = rows[kind];
  if (list === undefined) rows[kind] = [...docs];
  else list.push(...docs);
}

function checkpointId(checkpoint: Checkpoint): string {
  return JSON.stringify([checkpoint.job, checkpoint.topic, checkpoint.partition]);
}

function checkPosition(row: { topic: string; partition: number; offset: number }, kind: string): void {
  checkText(row.topic, kind, "topic");
  checkPartition(row.partition, kind);
  if (!Number.isSafeInteger(row.offset) || row.offset < 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's offset must be a whole number ≥ 0, got ${row.offset} (topic "${row.topic}").`,
    );
  }
}

/** A row must fit an overflow page (and so a document); UTF-8 takes at most 3 bytes per UTF-16 unit. */
function checkPayloadSize(payload: string, kind: string): void {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most payloads need no count.
  if (payload.length * 3 > MAX_ROW_BYTES)
    checkFieldBytes(Buffer.byteLength(payload, "utf8"), kind, "payload");
}

function checkFieldBytes(bytes: number, kind: string, field: string): void {
  if (bytes > MAX_ROW_BYTES) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's ${field} is ${bytes} bytes, more than the ${MAX_ROW_BYTES} a MongoDB live store row may hold.`,
    );
  }
}

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

function checkText(value: unknown, kind: string, field: string): void {
  if (typeof value !== "string") {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A ${kind} row's ${field} must be a string, got ${typeof value}.`,
    );
  }
}

function checkNumbers<R extends object>(row: R, fields: readonly string[], kind: string): void {
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

/** One merged (window, key): the measures summed over partitions, final when every partition's row is. */
type MergedWindow = Record<string, unknown> & { window_start: number; window_end: number; final: boolean };

/** Sums consecutive rows of one (window_start, window_ms, key); rows come sorted, so output keeps their order. */
function mergePartitions(
  rows: readonly RowDocument[],
  key: string,
  metrics: readonly string[],
): MergedWindow[] {
  const merged = new Map<string, MergedWindow>();
  for (const row of rows) {
    const start = row.window_start as number;
    const windowMs = row.window_ms as number;
    const id = JSON.stringify([start, windowMs, row[key]]);
    let out = merged.get(id);
    if (out === undefined) {
      out = { window_start: start, window_end: start + windowMs, [key]: row[key], final: true };
      for (const metric of metrics) out[metric] = 0;
      merged.set(id, out);
    }
    for (const metric of metrics) (out[metric] as number) += row[metric] as number;
    if (row.final !== true) out.final = false;
  }
  return [...merged.values()];
}

function toActivityWindow(row: MergedWindow): ActivityWindow {
  return {
    window_start: row.window_start,
    window_end: row.window_end,
    event_type: row.event_type as string,
    event_count: row.event_count as number,
    unique_users: row.unique_users as number,
    sessions: row.sessions as number,
    // Summed in integer cents and divided once, so merging partitions adds no rounding error.
    revenue: (row.revenue_cents as number) / 100,
    final: row.final,
  };
}

/** A copy of stored bytes as a plain Uint8Array (the driver hands back a BSON Binary). */
function bytesOf(value: Uint8Array | Binary): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const out = new Uint8Array(value.position);
  out.set(value.buffer.subarray(0, value.position));
  return out;
}

/** A bulk write's failed operations (the driver gives one error bare, several as an array). */
function writeErrorsOf(error: MongoBulkWriteError): readonly WriteError[] {
  const errors = error.writeErrors;
  return Array.isArray(errors) ? errors : [errors as WriteError];
}

/** Whether two raw-lake documents hold the same row (scalar fields, and the value's bytes). */
function sameRawRow(a: RowDocument | undefined, b: RowDocument): boolean {
  if (a === undefined) return false;
  const keys = Object.keys(b);
  return (
    keys.length === Object.keys(a).length &&
    keys.every((key) =>
      key === "value" ? Buffer.compare(a.value as Buffer, b.value as Buffer) === 0 : a[key] === b[key],
    )
  );
}

function isOnlyDuplicateKeys(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const errors = writeErrorsOf(error);
  return errors.length > 0 && errors.every((e) => e.code === 11000) && error.err === undefined;
}

/** Where the credentials of a connection string end: its last "@" before any path (over-redacts, never under). */
function splitCredentials(url: string): { scheme: string; userinfo: string | undefined; rest: string } {
  const schemeEnd = url.indexOf("://");
  if (schemeEnd < 0) return { scheme: "", userinfo: undefined, rest: url };
  const body = url.slice(schemeEnd + 3);
  const at = body.lastIndexOf("@");
  return at < 0
    ? { scheme: url.slice(0, schemeEnd + 3), userinfo: undefined, rest: body }
    : { scheme: url.slice(0, schemeEnd + 3), userinfo: body.slice(0, at), rest: body.slice(at + 1) };
}

/**
 * A connection string as messages may show it: the user name kept, the password replaced by ***, and the
 * options dropped (some, like tlsCertificateKeyFilePassword, are secrets too).
 */
export function displayMongoUrl(url: string): string {
  const { scheme, userinfo, rest } = splitCredentials(url);
  const query = rest.search(/[?#]/);
  const hostAndPath = query < 0 ? rest : `${rest.slice(0, query)}?…`;
  if (userinfo === undefined) return `${scheme}${hostAndPath}`;
  const colon = userinfo.indexOf(":");
  return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@${hostAndPath}`;
}

/** Removes the URL's password from driver messages, in case one quotes it. */
function redactor(url: string): (text: string) => string {
  const { userinfo } = splitCredentials(url);
  const colon = userinfo?.indexOf(":") ?? -1;
  if (userinfo === undefined || colon < 0) return (text) => text;
  const raw = userinfo.slice(colon + 1);
  const secrets = [raw];
  try {
    secrets.push(decodeURIComponent(raw));
  } catch {
    // Not percent-encoded: the raw form is the only one.
  }
  const words = secrets.filter((secret) => secret.length >= 3);
  return (text) => words.reduce((out, secret) => out.split(secret).join("***"), text);
}

/** Checks the URL's scheme and hosts; returns the database its path names, or "pulse". */
function databaseOf(url: string, display: string): string {
  if (!/^mongodb(\+srv)?:\/\//i.test(url)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${display} is not a MongoDB URL; use mongodb://host[:port]/database or mongodb+srv://host/database.`,
    );
  }
  const { rest } = splitCredentials(url);
  const end = rest.search(/[?#]/);
  const hostAndPath = end < 0 ? rest : rest.slice(0, end);
  const slash = hostAndPath.indexOf("/");
  const path = slash < 0 ? "" : hostAndPath.slice(slash + 1);
  // The driver reports a bad host or port only when connecting, as a generic runtime error: check here.
  for (const host of (slash < 0 ? hostAndPath : hostAndPath.slice(0, slash)).split(",")) {
    const match = /^(?:\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host);
    if (match === null || (match[1] !== undefined && (Number(match[1]) < 1 || Number(match[1]) > 65535))) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `The live store URL ${display} has a bad host "${host}"; use host[:port] with a port in 1..65535, comma-separated for a replica set.`,
      );
    }
  }
  let name: string;
  try {
    name = decodeURIComponent(path);
  } catch {
    name = path;
  }
  if (name === "") return DEFAULT_DATABASE;
  if (/[/\\. "$\0]/.test(name) || name.length > 63) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${display} names database "${name}", which MongoDB does not accept; use letters, digits, - and _ (at most 63).`,
    );
  }
  return name;
}

/**
 * The failure behind a driver error. A bulk write (insertMany, bulkWrite) that fails for any other reason
 * than its write errors (the connection closed, a socket timeout, a command error) throws a
 * MongoBulkWriteError, a MongoServerError, holding the original failure as its errorResponse.
 */
function driverFailure(error: unknown): unknown {
  return error instanceof MongoBulkWriteError && error.errorResponse instanceof Error
    ? error.errorResponse
    : error;
}

/** Socket error codes of a connection that broke: the server went away, or the network between. */
const SOCKET_FAILURES = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
]);

/**
 * A socket error the driver passes on as it is, not as a MongoNetworkError: a command larger than the
 * socket buffer waits for "drain", and the socket's EPIPE or ECONNRESET while it waits rejects that wait.
 */
function isSocketFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof MongoError) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && SOCKET_FAILURES.has(code);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Keeps StoreErrors as they are; turns driver and server failures into StoreErrors naming the URL, not its password. */
/**
 * Server codes of an operation cut short by a shutdown, a failover or the network, which MongoDB drivers
 * retry (the retryable-writes specification's list): HostUnreachable, HostNotFound, NetworkTimeout,
 * ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit, SocketException, NotWritablePrimary,
 * InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
 */
const INTERRUPTED_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * An operation the server gave up on because it is going away, not because of the request. FerretDB 1.x
 * answers one its shutdown cancelled with InternalError (1) "… context canceled", without a label.
 */
function isInterrupted(failure: MongoServerError): boolean {
  return (
    INTERRUPTED_CODES.has(Number(failure.code)) ||
    (failure.code === 1 && failure.message.includes("context canceled"))
  );
}

/** A driver error as a StoreError; exported for the classification tests. */
export function toStoreError(
  error: unknown,
  during: string,
  url: string,
  redact: (text: string) => string,
): StoreError {
  if (error instanceof StoreError) return error;
  const detail = redact(errorText(error));
  const failure = driverFailure(error);
  if (error instanceof MongoParseError || error instanceof MongoInvalidArgumentError) {
    return new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${url} is not usable while ${during}: ${detail}`,
      { cause: error },
    );
  }
  if (
    failure instanceof MongoServerSelectionError ||
    failure instanceof MongoNetworkError ||
    failure instanceof MongoOperationTimeoutError ||
    failure instanceof MongoTopologyClosedError ||
    isSocketFailure(failure) ||
    (failure instanceof MongoServerError && isInterrupted(failure))
  ) {
    return new StoreError(
      StoreErrorCode.unavailable,
      `The MongoDB live store at ${url} cannot be reached while ${during}: ${detail}. Start the server (FerretDB: scripts/services/ferretdb.sh start) or fix the store URL; retrying may succeed.`,
      { retriable: true, cause: error },
    );
  }
  if (failure instanceof MongoServerError) {
    const retriable =
      failure.hasErrorLabel("RetryableWriteError") ||
      failure.hasErrorLabel("TransientTransactionError") ||
      failure.hasErrorLabel("ResetPool");
    return new StoreError(
      StoreErrorCode.storage,
      `The MongoDB live store at ${url} failed while ${during}: ${detail} (server code ${String(failure.code)}).`,
      { retriable, cause: error },
    );
  }
  if (error instanceof MongoError) {
    return new StoreError(
      StoreErrorCode.storage,
      `The MongoDB live store at ${url} failed while ${during}: ${detail}`,
      { retriable: error.hasErrorLabel("RetryableWriteError"), cause: error },
    );
  }
  if (error instanceof BSON.BSONError || error instanceof TypeError || error instanceof RangeError) {
    return new StoreError(StoreErrorCode.badArgument, `Invalid value while ${during}: ${detail}`, {
      cause: error,
    });
  }
  return new StoreError(
    StoreErrorCode.storage,
    `The MongoDB live store at ${url} failed while ${during}: ${detail}`,
    { cause: error },
  );
}
