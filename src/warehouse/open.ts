// Opens the warehouse a URL names: embedded:<file> (DuckDB, relative to the data folder) or a PostgreSQL or BigQuery URL.

import { ConfigError } from "../errors.ts";
import { embeddedPath } from "../paths.ts";
import type { Warehouse } from "./index.ts";

export interface OpenWarehouseOptions {
  /** The folder an `embedded:<file>` URL is relative to. */
  dataDir: string;
  /** DuckDB's worker threads (embedded only); one per core when unset. */
  threads?: number;
  /** Open an embedded (DuckDB) file read-only: many readers at once, none while a writer holds it; other backends ignore it. */
  readOnly?: boolean;
}

/**
 * The warehouse `url` names. Each backend's client loads only for its own URL: DuckDB for embedded:,
 * pg for postgres://, the BigQuery client for bigquery://.
 */
export async function open(url: string, options: OpenWarehouseOptions): Promise<Warehouse> {
  const path = embeddedPath(url, options.dataDir);
  if (path !== undefined) {
    const { openDuckDbWarehouse } = await import("./duckdb/index.ts");
    return openDuckDbWarehouse({ path, threads: options.threads, readOnly: options.readOnly });
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { openPostgresWarehouse } = await import("./postgres/index.ts");
    return openPostgresWarehouse({ url });
  }
  if (url.startsWith("bigquery:")) {
    const { openBigQueryWarehouse, parseBigQueryUrl } = await import("./bigquery/index.ts");
    return openBigQueryWarehouse(parseBigQueryUrl(url));
  }
  throw new ConfigError(
    `warehouse '${redactUrl(url)}': not a warehouse URL; use warehouse: embedded:<file> (the default, embedded:warehouse.duckdb, a DuckDB file in data_dir), postgres://user@host:port/db or bigquery://project/dataset.`,
  );
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
