// The batch layer's parts from the config: the raw lake (read alone), the registry's serde and the warehouse, for pulse load and pulse query.

import type { PulseConfig } from "../config/index.ts";
import type { OpenedRawLake } from "../lake/index.ts";
import { type LoadProgress, type LoadResult, loadRaw } from "../load/index.ts";
import type { RegistryBackend } from "../registry/open.ts";
import { AvroSerde } from "../serde/index.ts";
import { openLake } from "../store/open.ts";
import type { QueryResult, SqlValue, Warehouse } from "../warehouse/index.ts";
import { openRegistry, openWarehouse } from "./backends.ts";

export interface LoadRunOptions {
  /** Topics to load (every raw table's by default). */
  topics?: readonly string[];
  /** Event-time days to reload, YYYY-MM-DD. */
  reloadDays?: readonly string[];
  pageRows?: number;
  onProgress?: (progress: LoadProgress) => void;
}

/** Loads the raw lake of the configured store into the configured warehouse (src/load/loader.ts). */
export async function runLoad(config: PulseConfig, options: LoadRunOptions = {}): Promise<LoadResult> {
  return withWarehouse(config, async (warehouse) => {
    const lake: OpenedRawLake = await openLake(config.store, { dataDir: config.data_dir });
    let registry: RegistryBackend | undefined;
    try {
      registry = await openRegistry(config);
      return await loadRaw({
        lake,
        serde: new AvroSerde(registry.client),
        warehouse,
        topics: options.topics,
        reloadDays: options.reloadDays,
        pageRows: options.pageRows,
        onProgress: options.onProgress,
      });
    } finally {
      registry?.close();
      await lake.close();
    }
  });
}

/** Runs one SQL statement on the configured warehouse. */
export function runQuery(
  config: PulseConfig,
  sql: string,
  params: readonly SqlValue[] = [],
): Promise<QueryResult> {
  return withWarehouse(config, (warehouse) => warehouse.query(sql, params));
}

/** Opens the configured warehouse for `work` and closes it after. */
export async function withWarehouse<T>(
  config: PulseConfig,
  work: (warehouse: Warehouse) => Promise<T>,
): Promise<T> {
  const warehouse = await openWarehouse(config);
  try {
    return await work(warehouse);
  } finally {
    await warehouse.close();
  }
}
