// Running statements on PostgreSQL: one statement with bound parameters on the pool or on a transaction's connection, and the result as the seam has it.
import type { Pool, PoolClient, QueryResult as PgResult } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type { QueryResult, Relation, Row, SqlValue, WarehouseSession } from "../index.ts";
import { appendRows } from "./append.ts";
import { toWarehouseError } from "./errors.ts";
import { toParams } from "./values.ts";

/** What runs statements: the pool (any free connection) or the one connection of a transaction. */
export type Queryable = Pool | PoolClient;

/**
 * The seam's result of a pg result. A statement without parameters goes over the simple protocol, which
 * runs every statement in the text and answers with one result each; the last one is the statement's.
 */
export function toQueryResult(answer: PgResult | PgResult[]): QueryResult {
  const result = Array.isArray(answer) ? answer[answer.length - 1] : answer;
  if (result === undefined) return { columns: [], rows: [], rowsAffected: 0 };
  const columns = result.fields.map((field) => field.name);
  // pg counts the rows a SELECT returns; the seam counts rows written. A CREATE TABLE AS or SELECT INTO
  // is tagged SELECT too, and is the one with no result columns.
  const rowsAffected = result.command === "SELECT" && columns.length > 0 ? 0 : (result.rowCount ?? 0);
  return { columns, rows: result.rows as Row[], rowsAffected };
}

/** Runs one statement with its parameters bound; failures as WarehouseErrors. */
export async function runStatement(
  db: Queryable,
  sql: string,
  params: readonly SqlValue[] | undefined,
  url: string,
): Promise<QueryResult> {
  const values = params === undefined || params.length === 0 ? undefined : toParams(params);
  try {
    return toQueryResult((await db.query(sql, values)) as PgResult | PgResult[]);
  } catch (error) {
    throw toWarehouseError(error, "running a query", url);
  }
}

/** The session `transaction` hands its work: the transaction's connection, usable until it ends. */
export class TransactionSession implements WarehouseSession {
  #ended = false;
  readonly #client: PoolClient;
  readonly #url: string;

  constructor(client: PoolClient, url: string) {
    this.#client = client;
    this.#url = url;
  }

  /** Called when the transaction commits or rolls back: the connection goes back to the pool. */
  end(): void {
    this.#ended = true;
  }

  #check(): void {
    if (this.#ended) {
      throw new WarehouseError(
        WarehouseErrorCode.closed,
        "This transaction has ended (committed or rolled back); its session cannot be used any more.",
      );
    }
  }

  async query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult> {
    this.#check();
    return runStatement(this.#client, sql, params, this.#url);
  }

  async append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    this.#check();
    return appendRows(this.#client, relation, columns, rows, this.#url);
  }
}
