// The MongoDB LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one MongoDB database.
import type { Db, MongoClient } from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { MongoRawLake } from "../../lake/mongo/index.ts";
import type { LiveStore, StoreBatch, StoreRetention, StoreRetentionResult } from "../index.ts";
import { MongoCommit, type MongoCommitOptions } from "./commit.ts";
import { connect, type MongoConnection, type MongoConnectOptions } from "./connection.ts";
import { toStoreError } from "./errors.ts";
import { planBatch } from "./plan.ts";
import { MongoQueries } from "./queries.ts";
import { deleteExpiredDocuments } from "./retention.ts";
import { INDEXES, SCHEMA_VERSION, upsertMeta } from "./schema.ts";
import { sweepVersions } from "./versions.ts";

/** The least time between two sweeps of stale window and daily versions by retention. */
const SWEEP_INTERVAL_MS = 3_600_000;

export interface MongoLiveStoreOptions extends MongoConnectOptions, MongoCommitOptions {}

/** The reads are MongoQueries' (queries.ts); this adds the commit, the raw lake, the connection and recovery. */
export class MongoLiveStore extends MongoQueries implements LiveStore {
  /** The connection string without password or options, as messages show it. */
  readonly url: string;
  /** The raw lake in this database (src/lake/mongo/): written first in each commit. */
  readonly lake: MongoRawLake;
  #client: MongoClient | null;
  readonly #db: Db;
  readonly #redact: (text: string) => string;
  readonly #commit: MongoCommit;
  /** When enforceRetention last swept stale versions. */
  #sweptAtMs = Number.NEGATIVE_INFINITY;

  private constructor(connection: MongoConnection, options: MongoLiveStoreOptions) {
    super(connection.db);
    this.#client = connection.client;
    this.#db = connection.db;
    this.url = connection.url;
    this.#redact = connection.redact;
    this.lake = new MongoRawLake(connection.db, {
      requireOpen: () => this.requireOpen(),
      read: (during, read) => this.read(during, read),
      replaceById: (name, docs, ordered) => this.#commit.replaceById(name, docs, ordered),
    });
    this.#commit = new MongoCommit(connection.db, this.lake, this.url, options);
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
    this.requireOpen();
    const plan = planBatch(batch, this.lake);
    try {
      await this.#commit.commit(plan);
    } catch (error) {
      throw this.#error(error, "committing a batch");
    }
  }

  async enforceRetention(retention: StoreRetention): Promise<StoreRetentionResult> {
    const rows = await this.read("enforcing the live store's retention", async () => {
      const deleted = await deleteExpiredDocuments(this.#db, retention.beforeMs);
      // Window and daily versions no writer remembers (another member's, or a crash's) go here too, at
      // most once per SWEEP_INTERVAL_MS: a sweep reads every window document, and retention runs each minute.
      const now = Date.now();
      if (now - this.#sweptAtMs >= SWEEP_INTERVAL_MS) {
        await sweepVersions(this.#db);
        this.#sweptAtMs = now;
      }
      return deleted;
    });
    const lake =
      retention.loaded === undefined
        ? { batches: 0, events: 0, partitionsHeld: 0 }
        : await this.lake.enforceRetention({ beforeMs: retention.beforeMs, loaded: retention.loaded });
    return {
      ...rows,
      rawBatches: lake.batches,
      rawEvents: lake.events,
      rawPartitionsHeld: lake.partitionsHeld,
    };
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    try {
      await this.#commit.flushVersions();
    } catch {
      // Stale versions left here are skipped by readers and removed by the next retention sweep.
    }
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
    if (version < SCHEMA_VERSION) {
      await this.#db
        .collection<{ _id: string; version?: number }>("meta")
        .updateOne(
          { _id: "schema", version: { $lt: SCHEMA_VERSION } },
          { $set: { version: SCHEMA_VERSION } },
        );
    }
    const build = await this.#db.admin().command({ buildInfo: 1 });
    if (typeof build.ferretdbVersion === "string") this.#commit.useFerretDbLimits();
    // One index a command: FerretDB 1.24 drops the connection (a panic) on a createIndexes of several
    // indexes that all exist already.
    for (const [name, indexes] of Object.entries(INDEXES)) {
      for (const index of indexes) await this.#db.collection(name).createIndexes([{ ...index }]);
    }
    await this.#commit.recoverIfNeeded();
  }

  protected requireOpen(): void {
    if (this.#client === null) {
      throw new StoreError(StoreErrorCode.closed, `The live store at ${this.url} is closed; open it again.`);
    }
  }

  protected async read<T>(during: string, read: () => Promise<T>): Promise<T> {
    this.requireOpen();
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
