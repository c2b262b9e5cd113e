// The Warehouse seam: SQL with bound parameters, bulk loads, atomic replaces, merges and introspection, per dialect.

/*
 * Contract, for every implementation (DuckDB: src/warehouse/duckdb/, the embedded default; PostgreSQL:
 * src/warehouse/postgres/; BigQuery: src/warehouse/bigquery/). test/conformance/warehouse.ts holds it.
 *
 *   - SQL text is the backend's own dialect; parameters are written `$1`, `$2`, … and bound, never spliced
 *     into the text (BigQuery's backend rewrites them to named parameters outside string literals).
 *   - Values cross the seam as plain JS values (SqlValue): text as string; every integer, decimal and
 *     floating-point type as number; boolean; DATE as a 'YYYY-MM-DD' string; TIMESTAMP as a Date (UTC,
 *     millisecond precision); NULL as null. A row is an object keyed by column name, in select order.
 *   - Relations are named by schema ("dataset" on BigQuery) and name; `create*` makes the schema when it is
 *     missing. Names are quoted by the dialect, so any text is a valid name.
 *   - replaceTable builds the new table beside the old one and swaps it in one step: a reader sees the old
 *     table or the new one, never a half-built or missing one. replaceView likewise.
 *   - append writes rows in bulk (DuckDB's appender, PostgreSQL's COPY, BigQuery load jobs), never one
 *     INSERT per row. Inside `transaction` it commits or rolls back with the rest of the transaction.
 *   - transaction runs `work` in one transaction: every statement and append in it is visible together
 *     after it resolves, and none of them after it throws. Statements on the warehouse itself, outside
 *     the session, do not see its uncommitted writes.
 *   - Errors are WarehouseError (src/errors.ts): queryFailed carries the database's message; unavailable
 *     and locked are retriable. A failed statement or append changes nothing and leaves the warehouse
 *     usable; a transaction's session refuses every call once the transaction has ended (closed).
 *   - mergeInto "merge" refuses a select with two rows for one key (queryFailed, nothing changed);
 *     "delete+insert" inserts every row of the select as it is.
 */

/** A value bound to a parameter or read from a row. */
export type SqlValue = string | number | boolean | Date | null;

/** A result row, keyed by column name in select order. */
export type Row = Record<string, SqlValue>;

/** The column types the seam knows, each mapped to one type per dialect (Dialect.typeName). */
export type ColumnType = "string" | "int64" | "float64" | "boolean" | "date" | "timestamp";

export interface Column {
  name: string;
  type: ColumnType;
  /** False: NOT NULL. Default true. */
  nullable?: boolean;
}

/** A table or view: `schema.name` (BigQuery: `dataset.name` in the warehouse's project). */
export interface Relation {
  schema: string;
  name: string;
}

export type RelationKind = "table" | "view";

export interface RelationInfo extends Relation {
  kind: RelationKind;
}

/** A column as the database describes it: its name, the database's own type name and the seam's type. */
export interface ColumnInfo {
  name: string;
  /** The database's type name, as it prints it (VARCHAR, bigint, INT64, …). */
  databaseType: string;
  /** The seam's type for it; undefined for a type the seam does not map (a list, a struct, json). */
  type: ColumnType | undefined;
  nullable: boolean;
}

export interface QueryResult {
  columns: string[];
  rows: Row[];
  /** Rows an INSERT, UPDATE, DELETE, MERGE or CREATE TABLE AS wrote; 0 for a SELECT. */
  rowsAffected: number;
}

/** How a dialect spells names, literals and types. */
export interface Dialect {
  readonly name: "duckdb" | "postgres" | "bigquery";
  /** A quoted identifier: "a""b" on DuckDB and PostgreSQL, `a\`b` on BigQuery. */
  quoteIdentifier(name: string): string;
  /** A SQL literal for `value`: 'it''s', 42, TRUE, NULL, DATE '2026-01-02', TIMESTAMP '…'. */
  quoteLiteral(value: SqlValue): string;
  /** The quoted, qualified name of `relation`. */
  relationName(relation: Relation): string;
  /** The column type's name in this dialect (VARCHAR, TEXT, STRING; BIGINT, INT64; …). */
  typeName(type: ColumnType): string;
}

/** How mergeInto writes the rows of its select. */
export type MergeStrategy = "merge" | "delete+insert";

/** What one session of the warehouse can do: the warehouse itself, or a transaction in it. */
export interface WarehouseSession {
  /** Runs one statement with `$n` parameters bound; returns its rows (none for DDL and DML). */
  query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult>;
  /**
   * Appends rows to an existing table in bulk; `columns` names each row's values in order. Returns the
   * number of rows written.
   */
  append(
    relation: Relation,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
  ): Promise<number>;
}

export interface Warehouse extends WarehouseSession {
  readonly dialect: Dialect;
  /** Runs `work` in one transaction (see the contract above); its result is work's. */
  transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T>;
  /** Makes the schema (BigQuery: dataset) when it is missing. */
  createSchema(schema: string): Promise<void>;
  /** Makes the table when it is missing (and its schema); an existing table is left as it is. */
  createTable(relation: Relation, columns: readonly Column[]): Promise<void>;
  /** Builds a table from `select` and swaps it in for `relation` atomically; returns the rows it holds. */
  replaceTable(relation: Relation, select: string): Promise<number>;
  /** Creates or replaces the view `relation` as `select`. */
  replaceView(relation: Relation, select: string): Promise<void>;
  /**
   * Writes the rows of `select` into the existing table `relation`, keyed by `uniqueKey`: "merge" updates
   * the rows whose key matches and inserts the others; "delete+insert" deletes every row whose key appears
   * in the select, then inserts the select's rows. Atomic: readers see the table before or after. Returns
   * the rows written.
   */
  mergeInto(
    relation: Relation,
    select: string,
    uniqueKey: readonly string[],
    strategy: MergeStrategy,
  ): Promise<number>;
  /** Drops the table or view when it exists. */
  drop(relation: Relation, kind: RelationKind): Promise<void>;
  /** The tables and views in `schema`, sorted by name; [] for a schema that does not exist. */
  relations(schema: string): Promise<RelationInfo[]>;
  /** The columns of a table or view, in order; [] when it does not exist. */
  columns(relation: Relation): Promise<ColumnInfo[]>;
  close(): Promise<void>;
}
