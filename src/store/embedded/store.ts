// The embedded LiveStore: live windows, daily totals, alerts, late events, the raw lake and checkpoints in one SQLite file.
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { EmbeddedRawLake, SEGMENT_BYTES } from "../../lake/embedded/index.ts";
import type { SqliteFileSettings } from "../../sqlite/open-file.ts";
import { segmentBytesOption } from "../../sqlite/segment-files.ts";
import type { WalCheckpointer } from "../../sqlite/wal-checkpointer.ts";
import type { LiveStore, StoreBatch } from "../index.ts";
import { StoreCommit } from "./commit.ts";
import { StoreConnection } from "./connection.ts";
import { toStoreError } from "./errors.ts";
import { EmbeddedQueries } from "./queries.ts";

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
  readonly #connection: StoreConnection;
  readonly #commitTx: Database.Transaction<(batch: StoreBatch) => void>;

  private constructor(connection: StoreConnection, segmentBytes: number) {
    super(connection);
    this.path = connection.path;
    this.#connection = connection;
    this.lake = new EmbeddedRawLake(connection, { segmentBytes });
    const commit = new StoreCommit(connection.db, this.lake);
    this.#commitTx = connection.db.transaction((batch: StoreBatch) => commit.apply(batch));
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

  async close(): Promise<void> {
    await this.#connection.close(() => this.lake.closeSegments());
  }

  /** The background checkpointer, when the store was opened with backgroundCheckpoints (for tests). */
  get walCheckpointer(): WalCheckpointer | undefined {
    return this.#connection.checkpointer;
  }
}
