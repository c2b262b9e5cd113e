// The DuckDB warehouse backend, the embedded default: a database file in the data folder, or in memory.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import type { Warehouse } from "../index.ts";
import { duckdbError } from "./errors.ts";
import { DuckDbWarehouse } from "./warehouse.ts";

export interface DuckDbWarehouseOptions {
  /** The database file, created when missing (its folder too); ":memory:" for a database in memory. */
  path: string;
  /** DuckDB's worker threads; DuckDB's default (one per core) when unset. */
  threads?: number;
  /**
   * Opens the file for reading only (DuckDB's access_mode READ_ONLY): many readers may hold it at once, but
   * not while a writer does (PULSE_WAREHOUSE_LOCKED), and a missing file is an error, not created.
   */
  readOnly?: boolean;
}

/** Opens the DuckDB database at `path`. Only one process may hold a file open for writing (PULSE_WAREHOUSE_LOCKED). */
export async function openDuckDbWarehouse(options: DuckDbWarehouseOptions): Promise<Warehouse> {
  if (options.path !== ":memory:" && options.readOnly !== true)
    mkdirSync(dirname(options.path), { recursive: true });
  const config: Record<string, string> = {};
  if (options.threads !== undefined) config.threads = String(options.threads);
  if (options.readOnly === true) config.access_mode = "READ_ONLY";
  try {
    const instance = await DuckDBInstance.create(options.path, config);
    return new DuckDbWarehouse(instance);
  } catch (error) {
    throw duckdbError(error, `open the DuckDB warehouse ${options.path}`);
  }
}
