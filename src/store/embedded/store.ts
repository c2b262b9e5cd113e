// The embedded LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one SQLite file.
import type Database from "better-sqlite3";
import { EmbeddedRawLake, SEGMENT_BYTES } from "../../lake/embedded/index.ts";
import { SqliteFile, segmentBytesOption } from "../../sqlite/lifecycle.ts";
import type { SqliteFileSettings } from "../../sqlite/open-file.ts";
import type { WalCheckpointer } from "../../sqlite/wal-checkpointer.ts";
import type { LiveStore, StoreBatch, StoreRetention, StoreRetentionResult } from "../index.ts";
import { deleteExpiredRows } from "./retention.ts";
import { StoreCommit } from "./commit.ts";
import { STORE_ERRORS } from "./errors.ts";
import { EmbeddedQueries } from "./queries.ts";
import { SCHEMA, SCHEMA_VERSION, upgradeSchema } from "./schema.ts";

/**
 * A lost tail after a power loss under NORMAL is not a correctness problem here: checkpoints live in the
 * same transactions as the rows they cover, so a restart replays from the older checkpoint and rewrites
 * the same rows.
 */
export interface EmbeddedLiveStoreOptions extends SqliteFileSettings {
  /** How large a raw-lake segment file grows before the next one starts (default SEGMENT_BYTES, 256 MiB). */
  rawSegmentBytes?: number;
}

/** The reads are EmbeddedQueries' (queries.ts); this adds the commit, the raw lake and the file's lifecycle. */
export class EmbeddedLiveStore extends EmbeddedQueries implements LiveStore {
  readonly path: string;
  /** The raw lake in this file (src/lake/embedded/): appended by commit, in its transaction. */
  readonly lake: EmbeddedRawLake;
  readonly #file: SqliteFile;
  readonly #commitTx: Database.Transaction<(batch: StoreBatch) => void>;

  private constructor(file: SqliteFile, segmentBytes: number) {
    super(file);
    const db = file.use();
    this.path = file.path;
    this.#file = file;
    this.lake = new EmbeddedRawLake(file, { segmentBytes });
    const commit = new StoreCommit(db, this.lake);
    this.#commitTx = db.transaction((batch: StoreBatch) => commit.apply(batch));
  }

  /** Opens (creating, or converting from an older schema) the store file. */
  static open(options: EmbeddedLiveStoreOptions): EmbeddedLiveStore {
    const segmentBytes = segmentBytesOption(
      STORE_ERRORS,
      "rawSegmentBytes",
      options.rawSegmentBytes,
      SEGMENT_BYTES,
    );
    const file = SqliteFile.open(
      { ...options, schema: SCHEMA, schemaVersion: SCHEMA_VERSION, upgrade: upgradeSchema },
      STORE_ERRORS,
    );
    return new EmbeddedLiveStore(file, segmentBytes);
  }

  async commit(batch: StoreBatch): Promise<void> {
    this.#file.use();
    this.#file.run("committing a batch", () => {
      this.#commitTx.immediate(batch);
      this.#file.wrote();
    });
  }

  async enforceRetention(retention: StoreRetention): Promise<StoreRetentionResult> {
    const db = this.#file.use();
    const rows = this.#file.run("enforcing the live store's retention", () =>
      deleteExpiredRows(db, retention.beforeMs),
    );
    const lake =
      retention.loaded === undefined
        ? { batches: 0, events: 0, partitionsHeld: 0 }
        : this.lake.enforceRetention({ beforeMs: retention.beforeMs, loaded: retention.loaded });
    this.#file.wrote();
    return {
      ...rows,
      rawBatches: lake.batches,
      rawEvents: lake.events,
      rawPartitionsHeld: lake.partitionsHeld,
    };
  }

  async close(): Promise<void> {
    await this.#file.close(() => this.lake.closeSegments());
  }

  /** The background checkpointer, when the store was opened with backgroundCheckpoints (for tests). */
  get walCheckpointer(): WalCheckpointer | undefined {
    return this.#file.checkpointer;
  }
}
