// Connecting the PostgreSQL warehouse: the pool on a postgres:// URL, each session in UTC with ISO dates, and the URL as messages show it.
import { Pool } from "pg";
import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";
import { displayPostgresUrl, isPostgresUrl } from "../../postgres/url.ts";
import { toWarehouseError } from "./errors.ts";
import { TYPE_PARSERS } from "./values.ts";

export { displayPostgresUrl, isPostgresUrl };

export interface PostgresWarehouseOptions {
  /** postgres:// or postgresql:// connection string (user, password, host, port, database, sslmode, …). */
  url: string;
  /** Connections the pool keeps at most (default 10); a transaction holds one until it ends. */
  maxConnections?: number;
  /** How long opening a connection may take before PULSE_WAREHOUSE_UNAVAILABLE (default 10 s). */
  connectTimeoutMs?: number;
}

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `PostgreSQL warehouse ${what} must be a whole number > 0, got ${value}.`,
    );
  }
  return value;
}

/** An open pool, and what the warehouse learnt of the server when it connected. */
export interface PostgresConnection {
  pool: Pool;
  /** The URL as messages show it. */
  url: string;
  /** server_version_num: 150004 for 15.4. */
  serverVersion: number;
}

/**
 * Opens a pool on the URL and checks the server answers (and which version it is); on failure ends the
 * pool and throws a WarehouseError naming the URL without its password.
 */
export async function connectPostgres(options: PostgresWarehouseOptions): Promise<PostgresConnection> {
  const url = displayPostgresUrl(options.url);
  if (!isPostgresUrl(options.url)) {
    throw new WarehouseError(
      WarehouseErrorCode.badArgument,
      `'${url}' is not a PostgreSQL URL; write postgres://user:password@host:port/database.`,
    );
  }
  const pool = new Pool({
    connectionString: options.url,
    max: positiveInteger(options.maxConnections, DEFAULT_MAX_CONNECTIONS, "maxConnections"),
    connectionTimeoutMillis: positiveInteger(
      options.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
      "connectTimeoutMs",
    ),
    // Seam values are UTC (a timestamp without time zone holds UTC wall-clock time) and values.ts
    // parses ISO dates; set both per session, whatever the server's defaults.
    options: "-c TimeZone=UTC -c DateStyle=ISO,YMD",
    application_name: "pulse",
    types: TYPE_PARSERS,
  });
  // An idle connection the server drops (a restart) is reported here; the next query opens another and
  // fails with PULSE_WAREHOUSE_UNAVAILABLE if the server is still away. Without a listener it would crash
  // the process.
  pool.on("error", () => undefined);
  try {
    const result = await pool.query<{ version: number }>(
      "SELECT current_setting('server_version_num')::int AS version",
    );
    return { pool, url, serverVersion: result.rows[0]!.version };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw toWarehouseError(error, "connecting", url);
  }
}
