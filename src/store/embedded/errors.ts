// How the embedded live store reports failures: SQLite errors and failed opens as StoreErrors, a locked file as retriable.
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { errorMessage, isBusy, type SqliteOpenFailure } from "../../sqlite/open-file.ts";

/** Keeps StoreErrors as they are and turns SQLite failures into StoreErrors, busy ones retriable. */
export function toStoreError(error: unknown, during: string): StoreError {
  if (error instanceof StoreError) return error;
  if (isBusy(error)) {
    return new StoreError(
      StoreErrorCode.busy,
      `The live store file is locked by another process while ${during}; retry, or raise busyTimeoutMs.`,
      { retriable: true, cause: error },
    );
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    // better-sqlite3 rejects values it cannot bind (a boolean, an object) with a TypeError.
    return new StoreError(
      StoreErrorCode.badArgument,
      `Invalid value while ${during}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  return new StoreError(StoreErrorCode.storage, `SQLite failed while ${during}: ${errorMessage(error)}`, {
    cause: error,
  });
}

/** Why the store file did not open, as a StoreError. */
export function openFailure(failure: SqliteOpenFailure, path: string): StoreError {
  switch (failure.reason) {
    case "badOption":
      return new StoreError(StoreErrorCode.badArgument, `EmbeddedLiveStore ${failure.message}.`);
    case "cannotOpen":
      return new StoreError(StoreErrorCode.storage, `The live store: ${failure.message}.`, {
        cause: failure.cause,
      });
    case "schemaTooNew":
      return new StoreError(StoreErrorCode.schemaTooNew, `The live store file ${failure.message}.`);
    case "failed":
      return toStoreError(failure.cause, `opening the live store ${path}`);
  }
}
