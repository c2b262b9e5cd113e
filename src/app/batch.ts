// The batch layer from the config: pulse load (raw lake → warehouse), pulse query, and pulse batch (load, then build the project).

import type { PulseConfig } from "../config/index.ts";
import type { OpenedRawLake } from "../lake/index.ts";
import { type LoadProgress, type LoadResult, loadRaw } from "../load/index.ts";
import { type ModelsOptions, type ModelsRun, runModels } from "../models/index.ts";
import type { RegistryBackend } from "../registry/open.ts";
import { AvroSerde } from "../serde/index.ts";
import { openLake } from "../store/open.ts";
import type { QueryResult, SqlValue, Warehouse } from "../warehouse/index.ts";
import { openRegistry, withWarehouse } from "./backends.ts";
import { resolveProjectDir } from "./models.ts";

export interface BatchRunOptions extends LoadRunOptions {
  /** The dbt project's folder (resolveProjectDir's default when unset). */
  projectDir?: string;
  threads?: number;
  /** Where the project's artifacts go (ModelsOptions.targetPath). */
  targetPath?: string;
  onEvent?: ModelsOptions["onEvent"];
}

export interface BatchRun {
  load: LoadResult;
  models: ModelsRun;
}

/**
 * pulse batch: the raw lake loaded into the warehouse, then the project built on it (models and tests, as
 * dbt build), on one warehouse connection. The incremental marts rebuild the days whose rows changed.
 */
export async function runBatch(config: PulseConfig, options: BatchRunOptions = {}): Promise<BatchRun> {
  return withWarehouse(config, async (warehouse) => {
    const load = await loadInto(config, warehouse, options);
    const models = await runModels({
      command: "build",
      projectDir: resolveProjectDir(options.projectDir),
      warehouse,
      threads: options.threads,
      targetPath: options.targetPath,
      onEvent: options.onEvent,
    });
    return { load, models };
  });
}

export interface LoadRunOptions {
  /** Topics to load (every raw table's by default). */
  topics?: readonly string[];
  /** Event-time days to reload, YYYY-MM-DD. */
  reloadDays?: readonly string[];
  pageRows?: number;
  onProgress?: (progress: LoadProgress) => void;
}

/** Loads the raw lake of the configured store into the configured warehouse (src/load/loader.ts). */
export function runLoad(config: PulseConfig, options: LoadRunOptions = {}): Promise<LoadResult> {
  return withWarehouse(config, (warehouse) => loadInto(config, warehouse, options));
}

async function loadInto(
  config: PulseConfig,
  warehouse: Warehouse,
  options: LoadRunOptions,
): Promise<LoadResult> {
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
      retentionDays: config.retention.warehouse_days,
    });
  } finally {
    registry?.close();
    await lake.close();
  }
}

/** Runs one SQL statement on the configured warehouse. */
export function runQuery(
  config: PulseConfig,
  sql: string,
  params: readonly SqlValue[] = [],
): Promise<QueryResult> {
  return withWarehouse(config, (warehouse) => warehouse.query(sql, params));
}
