// Which operations of a MongoDB bulk write failed, and whether all of them only on a duplicate key (a row stored already).
import { MongoBulkWriteError, type WriteError } from "mongodb";

/** A bulk write's failed operations (the driver gives one error bare, several as an array). */
export function writeErrorsOf(error: MongoBulkWriteError): readonly WriteError[] {
  const errors = error.writeErrors;
  return Array.isArray(errors) ? errors : [errors as WriteError];
}

export function isOnlyDuplicateKeys(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const errors = writeErrorsOf(error);
  return errors.length > 0 && errors.every((e) => e.code === 11000) && error.err === undefined;
}
