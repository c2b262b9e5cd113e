// How the PostgreSQL run store reports failures: a server out of reach or refusing the session retriable, a lost lock race busy, never the URL's password.
import { OrchestrateError, OrchestrateErrorCode } from "../../../errors.ts";
import { classifyPostgresFailure } from "../../../postgres/failures.ts";

/** The failure as an OrchestrateError, naming the URL without its password. */
export function toRunStoreError(error: unknown, during: string, url: string): OrchestrateError {
  if (error instanceof OrchestrateError) return error;
  const failure = classifyPostgresFailure(error);
  switch (failure.kind) {
    case "refused":
      return new OrchestrateError(
        OrchestrateErrorCode.unavailable,
        `The run store's PostgreSQL server at ${url} refused the session while ${during}: ${failure.text} (SQLSTATE ${failure.sqlstate}). Check the server, the user and the database in the run store URL; retrying may succeed.`,
        { retriable: true, cause: error, details: failure.details },
      );
    case "unreachable":
      return new OrchestrateError(
        OrchestrateErrorCode.unavailable,
        `The run store's PostgreSQL server at ${url} cannot be reached while ${during}: ${failure.text}. Start the server or fix the run store URL; retrying may succeed.`,
        { retriable: true, cause: error, details: failure.details },
      );
    case "statement":
      return new OrchestrateError(
        failure.retriable ? OrchestrateErrorCode.busy : OrchestrateErrorCode.storage,
        `PostgreSQL refused the run store's statement while ${during}: ${failure.text} (SQLSTATE ${failure.sqlstate}).`,
        { retriable: failure.retriable, cause: error, details: failure.details },
      );
    default:
      return new OrchestrateError(
        OrchestrateErrorCode.storage,
        `The run store at ${url} failed while ${during}: ${failure.text}`,
        { cause: error },
      );
  }
}
