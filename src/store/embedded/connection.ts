// The embedded live store's SQLite file: opening it (WAL, schema, background checkpoints), reading while it is open, closing it.
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { openSqliteFile, type SqliteFileSettings } from "../../sqlite/open-file.ts";
import type { WalCheckpointer } from "../../sqlite/wal-checkpointer.ts";
import { openFailure, toStoreError } from "./errors.ts";
import { SCHEMA, SCHEMA_VERSION, upgradeSchema } from "./schema.ts";

export class StoreConnection {
  readonly path: string;
  /** The background WAL checkpointer, when opened with backgroundCheckpoints; started after the first write. */
  readonly checkpointer: WalCheckpointer | undefined;
  #db: Database.Database | null;

  private constructor(path: string, db: Database.Database, checkpointer: WalCheckpointer | undefined) {
    this.path = path;
    this.#db = db;
    this.checkpointer = checkpointer;
  }

  /** Opens (creating, or converting from an older schema) the store file. */
  static open(settings: SqliteFileSettings): StoreConnection {
    const { path, db, checkpointer } = openSqliteFile(
      { ...settings, schema: SCHEMA, schemaVersion: SCHEMA_VERSION, upgrade: upgradeSchema },
      (failure) => openFailure(failure, settings.path),
    );
    return new StoreConnection(path, db, checkpointer);
  }

  /** The open database; PULSE_STORE_CLOSED once closed. */
  get db(): Database.Database {
    this.requireOpen();
    return this.#db!;
  }

  requireOpen(): void {
    if (this.#db === null) {
      throw new StoreError(StoreErrorCode.closed, `The live store ${this.path} is closed; open it again.`);
    }
  }

  /** Runs `read` on the open file, its failures as StoreErrors saying what was being done. */
  read<T>(during: string, read: () => T): T {
    this.requireOpen();
    try {
      return read();
    } catch (error) {
      throw toStoreError(error, during);
    }
  }

  /** Stops the checkpointer and closes the file; `release` first lets go of what lives beside it. */
  async close(release: () => void): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    await this.checkpointer?.stop();
    release();
    db.close();
  }
}
