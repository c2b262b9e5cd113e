// PostgreSQL failures sorted by what the user can do: a server out of reach, a session refused, a statement refused (retriable when it lost to another transaction).
import { DatabaseError } from "pg";

/** Socket error codes of a server that is not there, or a connection that broke. */
const SOCKET_FAILURES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOENT",
]);

/**
 * SQLSTATEs of a server that cannot take the session, rather than a statement it refused: class 08
 * (connection exception), 28 (bad credentials), 3D000 (no such database), 53300 (too many connections),
 * 57P01–57P03 (shutting down, crashed, starting up).
 */
function isUnavailable(sqlstate: string): boolean {
  return (
    sqlstate.startsWith("08") ||
    sqlstate.startsWith("28") ||
    ["3D000", "53300", "57P01", "57P02", "57P03"].includes(sqlstate)
  );
}

/** SQLSTATEs of a statement that lost to another transaction and may succeed when run again. */
const RETRIABLE_STATEMENT = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
]);

/** pg's own messages for a connection that ended or never came up (it throws them as plain Errors). */
const CONNECTION_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended)/;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The server's message with its detail and hint, as one line for the user. */
function serverText(error: DatabaseError): string {
  let text = error.message;
  if (error.detail) text += ` (${error.detail})`;
  if (error.hint) text += `. Hint: ${error.hint}`;
  return text;
}

/** What went wrong with PostgreSQL, for a part to word as its own error (the warehouse, the run store). */
export type PostgresFailure =
  /** The server answered but would not take the session: bad credentials, no such database, shutting down. */
  | { kind: "refused"; sqlstate: string; text: string; details: Record<string, unknown> }
  /** The server cannot be reached, or the connection broke. */
  | { kind: "unreachable"; text: string; details: Record<string, unknown> }
  /** The server refused a statement; `retriable` when it lost to another transaction. */
  | {
      kind: "statement";
      sqlstate: string;
      text: string;
      details: Record<string, unknown>;
      retriable: boolean;
    }
  | { kind: "other"; text: string };

/** Sorts a pg or server failure by what the user can do about it; `text` is the server's words, one line. */
export function classifyPostgresFailure(error: unknown): PostgresFailure {
  if (error instanceof DatabaseError) {
    const sqlstate = error.code ?? "";
    const details: Record<string, unknown> = { sqlstate };
    for (const key of ["detail", "hint", "position", "schema", "table", "column", "constraint"] as const) {
      if (error[key] !== undefined) details[key] = error[key];
    }
    const text = serverText(error);
    if (isUnavailable(sqlstate)) return { kind: "refused", sqlstate, text, details };
    return { kind: "statement", sqlstate, text, details, retriable: RETRIABLE_STATEMENT.has(sqlstate) };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if ((code !== undefined && SOCKET_FAILURES.has(code)) || CONNECTION_MESSAGE.test(errorText(error))) {
    return { kind: "unreachable", text: errorText(error), details: code === undefined ? {} : { code } };
  }
  return { kind: "other", text: errorText(error) };
}
