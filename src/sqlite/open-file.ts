// Opens an embedded part's SQLite file the same way everywhere: WAL, synchronous mode, busy timeout, schema.

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { PulseError } from "../errors.ts";
import { AUTO_CHECKPOINT_PAGES, WalCheckpointer } from "./wal-checkpointer.ts";

/** What a user may set for any embedded SQLite file (log, live store). */
export interface SqliteFileSettings {
  /** The SQLite file; parent folders are created. */
  path: string;
  /**
   * "NORMAL" (the default): in WAL mode a commit survives the process crashing or being SIGKILLed, but
   * the last commits before a power loss may be lost. "FULL" fsyncs the WAL on every commit and survives
   * power loss too, at the cost of an fsync per commit.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a writer waits for another process's transaction before failing as busy (default 15 s). */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL on a worker thread once this connection first writes, instead of inside the
   * commit that crosses SQLite's threshold (WalCheckpointer). The long-running writers (the stream job,
   * `pulse up`) set it; default false.
   */
  backgroundCheckpoints?: boolean;
}

export interface SqliteFileOptions extends SqliteFileSettings {
  /** Idempotent DDL (CREATE … IF NOT EXISTS) for `schemaVersion`. */
  schema: string;
  /**
   * The file's user_version for `schema`. Without it the schema runs at every open and user_version is
   * left as it is, for a file whose tables only ever grow by CREATE … IF NOT EXISTS.
   */
  schemaVersion?: number;
  /**
   * Converts a file written with an older schema version (1 ≤ fromVersion < schemaVersion), after
   * `schema` has run and before the version is bumped, in the same transaction. Throw to refuse the
   * file (nothing is changed). Without it, an older file just gets `schema` applied.
   */
  upgrade?: (db: Database.Database, fromVersion: number) => void;
}

/** Why opening failed; each part maps it to its own error class and code. */
export type SqliteOpenFailure =
  | { reason: "badOption"; message: string }
  | { reason: "cannotOpen"; message: string; cause: unknown }
  | { reason: "schemaTooNew"; message: string; version: number }
  | { reason: "failed"; cause: unknown };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQLite's "another connection holds the lock" codes: worth retrying. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

/**
 * Opens (creating if needed) the file, sets WAL and the synchronous mode, and applies the schema in an
 * IMMEDIATE transaction when the file's user_version differs, so two processes opening a new file at once
 * do not both create it (without a schemaVersion, at every open). A file written by a newer schema is
 * refused rather than altered; one written by an older schema is converted by `upgrade` in that same
 * transaction. With `backgroundCheckpoints`, it also returns the file's WalCheckpointer, which the owner
 * starts after its first write and stops on close.
 */
export function openSqliteFile(
  options: SqliteFileOptions,
  fail: (failure: SqliteOpenFailure) => Error,
): { path: string; db: Database.Database; checkpointer: WalCheckpointer | undefined } {
  const path = options.path === ":memory:" ? options.path : resolve(options.path);
  const synchronous = options.synchronous ?? "NORMAL";
  if (synchronous !== "FULL" && synchronous !== "NORMAL") {
    throw fail({
      reason: "badOption",
      message: `synchronous must be "FULL" or "NORMAL", got ${JSON.stringify(synchronous)}`,
    });
  }
  let db: Database.Database;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 15_000 });
  } catch (cause) {
    throw fail({
      reason: "cannotOpen",
      message: `cannot open ${path}: ${errorMessage(cause)}; check the path and its permissions`,
      cause,
    });
  }
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${synchronous}`);
    // A larger page cache and fewer, bigger WAL checkpoints keep commits off the slow path.
    db.pragma("cache_size = -32768");
    db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    const schemaVersion = options.schemaVersion;
    if (schemaVersion === undefined) {
      db.exec(options.schema);
    } else if (db.pragma("user_version", { simple: true }) !== schemaVersion) {
      db.transaction(() => {
        const version = db.pragma("user_version", { simple: true }) as number;
        if (version > schemaVersion) {
          throw fail({
            reason: "schemaTooNew",
            version,
            message: `${path} has schema version ${version}, newer than this Pulse (${schemaVersion}); upgrade Pulse or use another file`,
          });
        }
        db.exec(options.schema);
        if (version > 0 && version < schemaVersion) options.upgrade?.(db, version);
        db.pragma(`user_version = ${schemaVersion}`);
      }).immediate();
    }
    const checkpointer =
      options.backgroundCheckpoints === true && path !== ":memory:"
        ? new WalCheckpointer(db, path, { busyTimeoutMs: options.busyTimeoutMs })
        : undefined;
    return { path, db, checkpointer };
  } catch (error) {
    db.close();
    // A failure already mapped by `fail` (schemaTooNew) passes through as it is.
    throw error instanceof PulseError ? error : fail({ reason: "failed", cause: error });
  }
}
