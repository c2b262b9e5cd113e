// DuckDB's failures as WarehouseError: a held file lock is `locked` (retriable), every other refusal `queryFailed`.

import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";

/** The WarehouseError for a DuckDB failure while doing `what` (a statement's first words, "open"). */
export function duckdbError(error: unknown, what: string): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Could not set lock on file|Conflicting lock/i.test(message))
    return new WarehouseError(
      WarehouseErrorCode.locked,
      `${what}: another process has the DuckDB warehouse file open for writing (${firstLine(message)}); stop it (a running pulse up or pulse batch), or point this one at another file.`,
      { retriable: true, cause: error },
    );
  return new WarehouseError(WarehouseErrorCode.queryFailed, `${what}: ${message}`, { cause: error });
}

/** The first words of a statement, to name it in a message without printing all of it. */
export function statementHead(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? text;
}
