// How the PostgreSQL warehouse reports failures: server errors with their SQLSTATE, a server out of reach retriable, never the URL's password.
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { classifyPostgresFailure } from "../../postgres/failures.ts";

/**
 * Keeps WarehouseErrors as they are; turns pg and server failures into WarehouseErrors. `url` is the
 * warehouse URL as messages show it (connection.ts: without its password); `during` says what Pulse was
 * doing ("running a query", "appending to raw.user_activity").
 */
export function toWarehouseError(error: unknown, during: string, url: string): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const failure = classifyPostgresFailure(error);
  switch (failure.kind) {
    case "refused":
      return new WarehouseError(
        WarehouseErrorCode.unavailable,
        `The PostgreSQL warehouse at ${url} refused the session while ${during}: ${failure.text} (SQLSTATE ${failure.sqlstate}). Check the server, the user and the database in the warehouse URL; retrying may succeed.`,
        { retriable: true, cause: error, details: failure.details },
      );
    case "statement":
      return new WarehouseError(
        WarehouseErrorCode.queryFailed,
        `PostgreSQL refused the statement while ${during}: ${failure.text} (SQLSTATE ${failure.sqlstate}).`,
        { retriable: failure.retriable, cause: error, details: failure.details },
      );
    case "unreachable":
      return new WarehouseError(
        WarehouseErrorCode.unavailable,
        `The PostgreSQL warehouse at ${url} cannot be reached while ${during}: ${failure.text}. Start the server (scripts/services/postgres.sh start) or fix the warehouse URL; retrying may succeed.`,
        { retriable: true, cause: error, details: failure.details },
      );
    default:
      return new WarehouseError(
        WarehouseErrorCode.queryFailed,
        `The PostgreSQL warehouse at ${url} failed while ${during}: ${failure.text}`,
        { cause: error },
      );
  }
}
