// The MongoDB LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one MongoDB database.
import type { Db, Document, MongoClient } from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { MongoRawLake } from "../../lake/mongo/index.ts";
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
import { MongoCommit, type MongoCommitOptions, planBatch } from "./commit.ts";
import { connect, type MongoConnection, type MongoConnectOptions } from "./connection.ts";
import { toStoreError } from "./errors.ts";
import { MongoQueries } from "./queries.ts";
import { INDEXES, SCHEMA_VERSION, upsertMeta } from "./schema.ts";

export interface MongoLiveStoreOptions extends MongoConnectOptions, MongoCommitOptions {}

export class MongoLiveStore implements LiveStore {
  /** The connection string without password or options, as messages show it. */
  readonly url: string;
  /** The raw lake in this database (src/lake/mongo/): written first in each commit. */
  readonly lake: MongoRawLake;
  #client: MongoClient | null;
  readonly #db: Db;
  readonly #redact: (text: string) => string;
  readonly #commit: MongoCommit;
  readonly #queries: MongoQueries;

  private constructor(connection: MongoConnection, options: MongoLiveStoreOptions) {
    this.#client = connection.client;
    this.#db = connection.db;
    this.url = connection.url;
    this.#redact = connection.redact;
    const store = {
      requireOpen: () => this.#open(),
      read: <T>(during: string, read: () => Promise<T>) => this.#read(during, read),
      replaceById: (name: string, docs: readonly Document[], ordered: boolean) =>
        this.#commit.replaceById(name, docs, ordered),
    };
    this.lake = new MongoRawLake(connection.db, store);
    this.#commit = new MongoCommit(connection.db, this.lake, this.url, options);
    this.#queries = new MongoQueries(connection.db, store);
  }

  /** Connects, checks the schema version, creates the indexes and re-applies committed redo records. */
  static async open(options: MongoLiveStoreOptions): Promise<MongoLiveStore> {
    return connect(options, async (connection) => {
      const store = new MongoLiveStore(connection, options);
      await store.#prepare();
      return store;
    });
  }

  async commit(batch: StoreBatch): Promise<void> {
    this.#open();
    const plan = planBatch(batch, this.lake);
    try {
      await this.#commit.commit(plan);
    } catch (error) {
      throw this.#error(error, "committing a batch");
    }
  }

  async checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]> {
    return this.#queries.checkpoints(job, topic);
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    return this.#queries.checkpointOffsets(job, topic);
  }

  async activityWindows(query: WindowQuery): Promise<ActivityWindow[]> {
    return this.#queries.activityWindows(query);
  }

  async activityDaily(range: { fromMs?: number; toMs?: number } = {}): Promise<ActivityWindow[]> {
    return this.#queries.activityDaily(range);
  }

  async wikiWindows(query: WindowQuery): Promise<WikiWindow[]> {
    return this.#queries.wikiWindows(query);
  }

  async activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]> {
    return this.#queries.activityWindowRows(range);
  }

  async wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]> {
    return this.#queries.wikiWindowRows(range);
  }

  async finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    return this.#queries.finalWindowStarts(rows, windowMs, fromMs);
  }

  async topPages(windowMs: number, limit: number): Promise<LatestTopPages> {
    return this.#queries.topPages(windowMs, limit);
  }

  async alerts(limit: number): Promise<AlertRow[]> {
    return this.#queries.alerts(limit);
  }

  async lateEvents(limit: number): Promise<LateEventRow[]> {
    return this.#queries.lateEvents(limit);
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
    if (typeof build.ferretdbVersion === "string") this.#commit.useFerretDbLimits();
    for (const [name, indexes] of Object.entries(INDEXES)) {
      await this.#db.collection(name).createIndexes(indexes.map((index) => ({ ...index })));
    }
    await this.#commit.recoverIfNeeded();
  }

  #open(): Db {
    if (this.#client === null) {
      throw new StoreError(StoreErrorCode.closed, `The live store at ${this.url} is closed; open it again.`);
    }
    return this.#db;
  }

  /** Runs a read once any committed redo records are re-applied; its failures as StoreErrors. */
  async #read<T>(during: string, read: () => Promise<T>): Promise<T> {
    this.#open();
    try {
      await this.#commit.recoverIfNeeded();
      return await read();
    } catch (error) {
      throw this.#error(error, during);
    }
  }

  #error(error: unknown, during: string): StoreError {
    return toStoreError(error, during, this.url, this.#redact);
  }
}
