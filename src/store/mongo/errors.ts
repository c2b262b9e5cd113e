// How the MongoDB live store reports failures: driver and server errors as StoreErrors, a server going away retriable, never the URL's password.
import {
  BSON,
  MongoBulkWriteError,
  MongoError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";

/**
 * The failure behind a driver error. A bulk write (insertMany, bulkWrite) that fails for any other reason
 * than its write errors (the connection closed, a socket timeout, a command error) throws a
 * MongoBulkWriteError, a MongoServerError, holding the original failure as its errorResponse.
 */
function driverFailure(error: unknown): unknown {
  return error instanceof MongoBulkWriteError && error.errorResponse instanceof Error
    ? error.errorResponse
    : error;
}

/** Socket error codes of a connection that broke: the server went away, or the network between. */
const SOCKET_FAILURES = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
]);

/**
 * A socket error the driver passes on as it is, not as a MongoNetworkError: a command larger than the
 * socket buffer waits for "drain", and the socket's EPIPE or ECONNRESET while it waits rejects that wait.
 */
function isSocketFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof MongoError) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && SOCKET_FAILURES.has(code);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Server codes of an operation cut short by a shutdown, a failover or the network, which MongoDB drivers
 * retry (the retryable-writes specification's list): HostUnreachable, HostNotFound, NetworkTimeout,
 * ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit, SocketException, NotWritablePrimary,
 * InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
 */
const INTERRUPTED_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * An operation the server gave up on because it is going away, not because of the request. FerretDB 1.x
 * answers one its shutdown cancelled with InternalError (1) "… context canceled", without a label.
 */
function isInterrupted(failure: MongoServerError): boolean {
  return (
    INTERRUPTED_CODES.has(Number(failure.code)) ||
    (failure.code === 1 && failure.message.includes("context canceled"))
  );
}

/** Keeps StoreErrors as they are; turns driver and server failures into StoreErrors naming the URL, not its password. */
export function toStoreError(
  error: unknown,
  during: string,
  url: string,
  redact: (text: string) => string,
): StoreError {
  if (error instanceof StoreError) return error;
  const detail = redact(errorText(error));
  const failure = driverFailure(error);
  if (error instanceof MongoParseError || error instanceof MongoInvalidArgumentError) {
    return new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${url} is not usable while ${during}: ${detail}`,
      { cause: error },
    );
  }
  if (
    failure instanceof MongoServerSelectionError ||
    failure instanceof MongoNetworkError ||
    failure instanceof MongoOperationTimeoutError ||
    failure instanceof MongoTopologyClosedError ||
    isSocketFailure(failure) ||
    (failure instanceof MongoServerError && isInterrupted(failure))
  ) {
    return new StoreError(
      StoreErrorCode.unavailable,
      `The MongoDB live store at ${url} cannot be reached while ${during}: ${detail}. Start the server (FerretDB: scripts/services/ferretdb.sh start) or fix the store URL; retrying may succeed.`,
      { retriable: true, cause: error },
    );
  }
  if (failure instanceof MongoServerError) {
    const retriable =
      failure.hasErrorLabel("RetryableWriteError") ||
      failure.hasErrorLabel("TransientTransactionError") ||
      failure.hasErrorLabel("ResetPool");
    return new StoreError(
      StoreErrorCode.storage,
      `The MongoDB live store at ${url} failed while ${during}: ${detail} (server code ${String(failure.code)}).`,
      { retriable, cause: error },
    );
  }
  if (error instanceof MongoError) {
    return new StoreError(
      StoreErrorCode.storage,
      `The MongoDB live store at ${url} failed while ${during}: ${detail}`,
      { retriable: error.hasErrorLabel("RetryableWriteError"), cause: error },
    );
  }
  if (error instanceof BSON.BSONError || error instanceof TypeError || error instanceof RangeError) {
    return new StoreError(StoreErrorCode.badArgument, `Invalid value while ${during}: ${detail}`, {
      cause: error,
    });
  }
  return new StoreError(
    StoreErrorCode.storage,
    `The MongoDB live store at ${url} failed while ${during}: ${detail}`,
    { cause: error },
  );
}
