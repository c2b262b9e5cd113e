// An embedded part's SQLite file from open to close: the closed check, its SQLite failures in the part's own error codes, the WAL checkpointer.

import type Database from "better-sqlite3";
import type { PulseErrorCode, PulseErrorOptions } from "../errors.ts";
import {
  errorMessage,
  isBusy,
  openSqliteFile,
  type SqliteFileOptions,
  type SqliteOpenFailure,
} from "./open-file.ts";
import type { WalCheckpointer } from "./wal-checkpointer.ts";

/**
 * How a part names itself and makes its errors. Every failure a SqliteFile reports is one of the part's
 * own errors, with one of these codes, and a message built from these names:
 *
 *   bad option     "<ClassName> synchronous must be …."
 *   cannot open    "<Part>: cannot open <path>: <why>; check the path and its permissions."
 *   schema too new "<File> <path> has schema version N, newer than this Pulse (M); …."
 *   closed         "<Part> <path> is closed; <reopen>."
 *   busy           "<Part> file is locked by another process while <during>; retry, or raise busyTimeoutMs."
 *   bad value      "Invalid value while <during>: <why>"
 *   storage        "SQLite failed while <during>: <why>"
 */
export interface SqlitePartErrors {
  /** The part in messages, lower case: "the embedded log", "the live store". */
  part: string;
  /** The part's class, which messages about its options start with: "EmbeddedLog". */
  className: string;
  /** The part's file as the message refusing a newer schema names it, lower case: "the log file". */
  file: string;
  /** What to do once the part is closed: "open a new EmbeddedLog", "open it again". */
  reopen: string;
  codes: {
    /** An option out of range (synchronous). */
    badOption: PulseErrorCode;
    /** The part was used after close(). */
    closed: PulseErrorCode;
    /** Another process held the lock past the busy timeout; these errors are retriable. */
    busy: PulseErrorCode;
    /** Any other SQLite failure: I/O error, disk full, a corrupt file. */
    storage: PulseErrorCode;
    /** The file was written by a newer schema. */
    schemaTooNew: PulseErrorCode;
    /** A value SQLite cannot bind (its TypeError or RangeError); without this code, a storage failure. */
    badValue?: PulseErrorCode;
  };
  /** Whether an error is already the part's own: it passes through unchanged. */
  isOwn(error: unknown): boolean;
  /** Makes one of the part's errors. */
  error(code: PulseErrorCode, message: string, options: PulseErrorOptions): Error;
}

/**
 * Owns the connection an embedded part opened: use() hands it out until close(), which stops the
 * background WAL checkpointer (if the file was opened with backgroundCheckpoints) before the connection
 * closes. The part prepares its statements on the connection and keeps its own data (SQL, segment files).
 */
export class SqliteFile {
  /** The file's absolute path, or ":memory:". */
  readonly path: string;
  #db: Database.Database | null;
  readonly #checkpointer: WalCheckpointer | undefined;
  readonly #errors: SqlitePartErrors;

  private constructor(
    path: string,
    db: Database.Database,
    checkpointer: WalCheckpointer | undefined,
    errors: SqlitePartErrors,
  ) {
    this.path = path;
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#errors = errors;
  }

  /** Opens (creating if needed) the file as openSqliteFile does; a failure is one of the part's errors. */
  static open(options: SqliteFileOptions, errors: SqlitePartErrors): SqliteFile {
    const { path, db, checkpointer } = openSqliteFile(options, (failure) =>
      openError(errors, failure, options.path),
    );
    return new SqliteFile(path, db, checkpointer, errors);
  }

  /** The connection; throws the part's closed error after close(). */
  use(): Database.Database {
    if (this.#db === null) {
      const { part, reopen, codes } = this.#errors;
      throw this.#errors.error(codes.closed, `${capitalized(part)} ${this.path} is closed; ${reopen}.`, {});
    }
    return this.#db;
  }

  get isOpen(): boolean {
    return this.#db !== null;
  }

  /** Call after each write: the first one starts the background checkpointer, if there is one. */
  wrote(): void {
    this.#checkpointer?.start();
  }

  /** Runs `work` (a read or a write), throwing what it throws as the part's error (see error()). */
  run<T>(during: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw this.error(error, during);
    }
  }

  /**
   * What a SQLite call threw, as the part's error: its own errors as they are, busy ones retriable,
   * unbindable values as bad values (when the part has that code), the rest storage failures.
   * `during` says what the call was doing: "producing 10 records to topic "t"".
   */
  error(error: unknown, during: string): Error {
    return partError(this.#errors, error, during);
  }

  /** The background checkpointer, when the file was opened with backgroundCheckpoints (for tests). */
  get checkpointer(): WalCheckpointer | undefined {
    return this.#checkpointer;
  }

  /**
   * Stops the checkpointer, runs `release` (the part lets go of what it holds beside the file, such as
   * segment files), then closes the connection. Only the first call does anything. Without a
   * checkpointer the connection is closed before this returns.
   */
  async close(release?: () => void): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#db = null;
    if (this.#checkpointer !== undefined) await this.#checkpointer.stop();
    release?.();
    db.close();
  }
}

/**
 * A part's segment-size option as given (or `fallback` when not), checked: a whole number of bytes > 0.
 * Anything else is the part's bad-option error, "<ClassName> <option> must be a whole number of bytes > 0, …".
 */
export function segmentBytesOption(
  errors: SqlitePartErrors,
  option: string,
  value: number | undefined,
  fallback: number,
): number {
  const bytes = value ?? fallback;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw errors.error(
      errors.codes.badOption,
      `${errors.className} ${option} must be a whole number of bytes > 0, got ${bytes}.`,
      {},
    );
  }
  return bytes;
}

function partError(errors: SqlitePartErrors, error: unknown, during: string): Error {
  if (errors.isOwn(error)) return error as Error;
  const { part, codes } = errors;
  if (isBusy(error)) {
    return errors.error(
      codes.busy,
      `${capitalized(part)} file is locked by another process while ${during}; retry, or raise busyTimeoutMs.`,
      { retriable: true, cause: error },
    );
  }
  if (codes.badValue !== undefined && (error instanceof TypeError || error instanceof RangeError)) {
    // better-sqlite3 rejects values it cannot bind (a boolean, an object) with a TypeError.
    return errors.error(codes.badValue, `Invalid value while ${during}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return errors.error(codes.storage, `SQLite failed while ${during}: ${errorMessage(error)}`, {
    cause: error,
  });
}

function openError(errors: SqlitePartErrors, failure: SqliteOpenFailure, path: string): Error {
  const { part, codes } = errors;
  switch (failure.reason) {
    case "badOption":
      return errors.error(codes.badOption, `${errors.className} ${failure.message}.`, {});
    case "cannotOpen":
      return errors.error(codes.storage, `${capitalized(part)}: ${failure.message}.`, {
        cause: failure.cause,
      });
    case "schemaTooNew":
      return errors.error(codes.schemaTooNew, `${capitalized(errors.file)} ${failure.message}.`, {});
    case "failed":
      return partError(errors, failure.cause, `opening ${part} ${path}`);
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
