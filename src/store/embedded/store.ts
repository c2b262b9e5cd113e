// The embedded LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one SQLite file.
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { EmbeddedRawLake, SEGMENT_BYTES } from "../../lake/embedded/index.ts";
import type { SqliteFileSettings } from "../../sqlite/open-file.ts";
import { segmentBytesOption } from "../../sqlite/segment-files.ts";
import type { WalCheckpointer } from "../../sqlite/wal-checkpointer.ts";
import type {
  ActivityWindow,
  ActivityWindowRow,
  AlertRow,
  LateEventRow,
  LatestTopPages,
  LiveStore,
  StoreBatch,
  StoredCheckpoint,
  WikiWindow,
  WikiWindowRow,
  WindowQuery,
  WindowRange,
  WindowRows,
} from "../index.ts";
import { StoreCommit } from "./commit.ts";
import { StoreConnection } from "./connection.ts";
import { toStoreError } from "./errors.ts";
import { StoreQueries } from "./queries.ts";

/**
 * A lost tail after a power loss under NORMAL is not a correctness problem here: checkpoints live in the
 * same transactions as the rows they cover, so a restart replays from the older checkpoint and rewrites
 * the same rows.
 */
export interface EmbeddedLiveStoreOptions extends SqliteFileSettings {
  /** How large a raw-lake segment file grows before the next one starts (default SEGMENT_BYTES, 256 MiB). */
  rawSegmentBytes?: number;
}

export class EmbeddedLiveStore implements LiveStore {
  readonly path: string;
  /** The raw lake in this file (src/lake/embedded/): appended by commit, in its transaction. */
  readonly lake: EmbeddedRawLake;
  readonly #connection: StoreConnection;
  readonly #queries: StoreQueries;
  readonly #commitTx: Database.Transaction<(batch: StoreBatch) => void>;

  private constructor(connection: StoreConnection, segmentBytes: number) {
    this.path = connection.path;
    this.#connection = connection;
    const db = connection.db;
    this.lake = new EmbeddedRawLake(connection, { segmentBytes });
    this.#queries = new StoreQueries(db);
    const commit = new StoreCommit(db, this.lake);
    this.#commitTx = db.transaction((batch: StoreBatch) => commit.apply(batch));
  }

  static open(options: EmbeddedLiveStoreOptions): EmbeddedLiveStore {
    const segmentBytes = segmentBytesOption(
      options.rawSegmentBytes,
      SEGMENT_BYTES,
      "EmbeddedLiveStore rawSegmentBytes",
      (message) => new StoreError(StoreErrorCode.badArgument, message),
    );
    return new EmbeddedLiveStore(StoreConnection.open(options), segmentBytes);
  }

  async commit(batch: StoreBatch): Promise<void> {
    this.#connection.requireOpen();
    try {
      this.#commitTx.immediate(batch);
      this.#connection.checkpointer?.start();
    } catch (error) {
      throw toStoreError(error, "committing a batch");
    }
  }

  async checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]> {
    return this.#read("reading checkpoints", (q) => q.checkpoints(job, topic));
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    return this.#read("reading checkpoint offsets", (q) => q.checkpointOffsets(job, topic));
  }

  async activityWindows(query: WindowQuery): Promise<ActivityWindow[]> {
    return this.#read("reading activity windows", (q) => q.activityWindows(query));
  }

  async activityDaily(range: { fromMs?: number; toMs?: number } = {}): Promise<ActivityWindow[]> {
    return this.#read("reading daily activity", (q) => q.activityDaily(range));
  }

  async wikiWindows(query: WindowQuery): Promise<WikiWindow[]> {
    return this.#read("reading wiki windows", (q) => q.wikiWindows(query));
  }

  async activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]> {
    return this.#read("reading activity window rows", (q) => q.activityWindowRows(range));
  }

  async wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]> {
    return this.#read("reading wiki window rows", (q) => q.wikiWindowRows(range));
  }

  async finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    return this.#read("reading final windows", (q) => q.finalWindowStarts(rows, windowMs, fromMs));
  }

  async topPages(windowMs: number, limit: number): Promise<LatestTopPages> {
    return this.#read("reading top pages", (q) => q.topPages(windowMs, limit));
  }

  async alerts(limit: number): Promise<AlertRow[]> {
    return this.#read("reading alerts", (q) => q.alerts(limit));
  }

  async lateEvents(limit: number): Promise<LateEventRow[]> {
    return this.#read("reading late events", (q) => q.lateEvents(limit));
  }

  async close(): Promise<void> {
    await this.#connection.close(() => this.lake.closeSegments());
  }

  /** The background checkpointer, when the store was opened with backgroundCheckpoints (for tests). */
  get walCheckpointer(): WalCheckpointer | undefined {
    return this.#connection.checkpointer;
  }

  #read<T>(during: string, read: (queries: StoreQueries) => T): T {
    return this.#connection.read(during, () => read(this.#queries));
  }
}
