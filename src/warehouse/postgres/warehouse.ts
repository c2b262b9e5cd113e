// The PostgreSQL warehouse: the Warehouse seam on a pg pool, each multi-statement operation in one transaction on one connection.
import type { Pool, PoolClient } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import type {
  Column,
  ColumnInfo,
  Dialect,
  MergeStrategy,
  QueryResult,
  Relation,
  RelationInfo,
  RelationKind,
  SqlValue,
  Warehouse,
  WarehouseSession,
} from "../index.ts";
import { appendRows, checkAppend, rowsPerStatement } from "./append.ts";
import { connectPostgres, type PostgresWarehouseOptions } from "./connection.ts";
import { checkName, postgresDialect } from "./dialect.ts";
import { toWarehouseError } from "./errors.ts";
import { listColumns, listRelations } from "./introspect.ts";
import { checkMerge, mergeIn } from "./merge.ts";
import { replaceTableIn, replaceViewIn } from "./replace.ts";
import { runStatement, TransactionSession } from "./session.ts";

const q = postgresDialect.quoteIdentifier;

/** SQLSTATEs of a CREATE SCHEMA IF NOT EXISTS that lost a race with another one: the schema is there. */
const SCHEMA_RACE = new Set(["23505", "42P06"]);

export class PostgresWarehouse implements Warehouse {
  readonly dialect: Dialect = postgresDialect;
  readonly #pool: Pool;
  readonly #url: string;
  readonly #serverVersion: number;
  #closed = false;

  private constructor(pool: Pool, url: string, serverVersion: number) {
    this.#pool = pool;
    this.#url = url;
    this.#serverVersion = serverVersion;
  }

  /** Connects to the URL's server and database; PULSE_WAREHOUSE_UNAVAILABLE when it cannot. */
  static async open(options: PostgresWarehouseOptions): Promise<PostgresWarehouse> {
    const { pool, url, serverVersion } = await connectPostgres(options);
    return new PostgresWarehouse(pool, url, serverVersion);
  }

  /** The URL as messages show it, without its password. */
  get url(): string {
    return this.#url;
  }

  #check(): void {
    if (this.#closed) {
      throw new WarehouseError(
        WarehouseErrorCode.closed,
        `The PostgreSQL warehouse at ${this.#url} is closed; open it again to use it.`,
      );
    }
  }

  /** A connection of the pool, for one transaction. */
  async #connect(during: string): Promise<PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw toWarehouseError(error, during, this.#url);
    }
  }

  /**
   * Runs `work` between BEGIN and COMMIT on one connection, ROLLBACK when it throws. `work`'s own errors
   * come back as they are.
   */
  async #inTransaction<T>(during: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    this.#check();
    const client = await this.#connect(during);
    // A connection whose BEGIN or ROLLBACK failed is in no known state: closed, not reused.
    let broken = false;
    try {
      try {
        await client.query("BEGIN");
      } catch (error) {
        broken = true;
        throw toWarehouseError(error, during, this.#url);
      }
      let result: T;
      try {
        result = await work(client);
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw error;
      }
      try {
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw toWarehouseError(error, `${during} (committing)`, this.#url);
      }
      return result;
    } finally {
      client.release(broken);
    }
  }

  /** #inTransaction for the warehouse's own operations: their pg errors as WarehouseErrors. */
  async #operation<T>(during: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.#inTransaction(during, async (client) => {
      try {
        return await work(client);
      } catch (error) {
        throw toWarehouseError(error, during, this.#url);
      }
    });
  }

  /** Runs a statement on any connection of the pool, its failure as a WarehouseError. */
  async #run(sql: string, params: readonly unknown[], during: string) {
    try {
      return await this.#pool.query(sql, params as unknown[]);
    } catch (error) {
      throw toWarehouseError(error, during, this.#url);
    }
  }

  async query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult> {
    this.#check();
    return runStatement(this.#pool, sql, params, this.#url);
  }

  async append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number> {
    this.#check();
    checkAppend(relation, columns, rows);
    if (rows.length === 0) return 0;
    // One statement is atomic by itself; more need a transaction, so a failure leaves none of the rows.
    if (rows.length <= rowsPerStatement(columns.length)) {
      return appendRows(this.#pool, relation, columns, rows, this.#url);
    }
    return this.#inTransaction(`appending to ${postgresDialect.relationName(relation)}`, (client) =>
      appendRows(client, relation, columns, rows, this.#url),
    );
  }

  async transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T> {
    return this.#inTransaction("running a transaction", async (client) => {
      const session = new TransactionSession(client, this.#url);
      try {
        return await work(session);
      } finally {
        session.end();
      }
    });
  }

  async createSchema(schema: string): Promise<void> {
    this.#check();
    checkName(schema, "schema name");
    try {
      await this.#pool.query(`CREATE SCHEMA IF NOT EXISTS ${q(schema)}`);
    } catch (error) {
      // Two sessions creating the same schema at once: one of them fails on the catalog's unique index.
      if (SCHEMA_RACE.has((error as { code?: string }).code ?? "")) return;
      throw toWarehouseError(error, `creating the schema ${q(schema)}`, this.#url);
    }
  }

  async createTable(relation: Relation, columns: readonly Column[]): Promise<void> {
    this.#check();
    const name = postgresDialect.relationName(relation);
    if (columns.length === 0) {
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `The table ${name} needs at least one column.`,
      );
    }
    const definitions = columns.map(
      (column) =>
        `${q(column.name)} ${postgresDialect.typeName(column.type)}${column.nullable === false ? " NOT NULL" : ""}`,
    );
    await this.createSchema(relation.schema);
    await this.#run(`CREATE TABLE IF NOT EXISTS ${name} (${definitions.join(", ")})`, [], `creating ${name}`);
  }

  async replaceTable(relation: Relation, select: string): Promise<number> {
    const name = postgresDialect.relationName(relation);
    return this.#operation(`replacing the table ${name}`, (client) =>
      replaceTableIn(client, relation, select),
    );
  }

  async replaceView(relation: Relation, select: string): Promise<void> {
    const name = postgresDialect.relationName(relation);
    return this.#operation(`replacing the view ${name}`, (client) => replaceViewIn(client, relation, select));
  }

  async mergeInto(
    relation: Relation,
    select: string,
    uniqueKey: readonly string[],
    strategy: MergeStrategy,
  ): Promise<number> {
    const name = postgresDialect.relationName(relation);
    checkMerge(uniqueKey, strategy, this.#serverVersion);
    return this.#operation(`merging into ${name}`, (client) =>
      mergeIn(client, relation, select, uniqueKey, strategy),
    );
  }

  async drop(relation: Relation, kind: RelationKind): Promise<void> {
    this.#check();
    const name = postgresDialect.relationName(relation);
    if (kind !== "table" && kind !== "view") {
      throw new WarehouseError(
        WarehouseErrorCode.badArgument,
        `Cannot drop ${name} as a ${JSON.stringify(kind)}; the kinds are "table" and "view".`,
      );
    }
    await this.#run(`DROP ${kind === "table" ? "TABLE" : "VIEW"} IF EXISTS ${name}`, [], `dropping ${name}`);
  }

  async relations(schema: string): Promise<RelationInfo[]> {
    this.#check();
    checkName(schema, "schema name");
    try {
      return await listRelations(this.#pool, schema);
    } catch (error) {
      throw toWarehouseError(error, `listing the relations of ${q(schema)}`, this.#url);
    }
  }

  async columns(relation: Relation): Promise<ColumnInfo[]> {
    this.#check();
    const name = postgresDialect.relationName(relation);
    try {
      return await listColumns(this.#pool, relation);
    } catch (error) {
      throw toWarehouseError(error, `reading the columns of ${name}`, this.#url);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
