// How the embedded live store's SQLite failures read: its codes and wording, for the file's lifecycle (SqliteFile).
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { SqlitePartErrors } from "../../sqlite/lifecycle.ts";

/** Failures as StoreErrors: a locked file retriable, an unbindable value a bad argument. */
export const STORE_ERRORS: SqlitePartErrors = {
  part: "the live store",
  className: "EmbeddedLiveStore",
  file: "the live store file",
  reopen: "open it again",
  codes: {
    badOption: StoreErrorCode.badArgument,
    closed: StoreErrorCode.closed,
    busy: StoreErrorCode.busy,
    storage: StoreErrorCode.storage,
    schemaTooNew: StoreErrorCode.schemaTooNew,
    badValue: StoreErrorCode.badArgument,
  },
  isOwn: (error) => error instanceof StoreError,
  error: (code, message, options) => new StoreError(code, message, options),
};
