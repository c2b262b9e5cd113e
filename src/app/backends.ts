// The settings → parts step: reads PulseConfig and opens the log, registry, live store and warehouse each names by URL.

import type { PulseConfig } from "../config/index.ts";
import type { KafkaCompression, Log, RetentionPolicy } from "../log/index.ts";
import { open as openLogAt } from "../log/open.ts";
import { open as openRegistryAt, type RegistryBackend } from "../registry/open.ts";
import type { LiveStore } from "../store/index.ts";
import { open as openStoreAt } from "../store/open.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { open as openWarehouseAt } from "../warehouse/open.ts";

/** The log named by `log`, its topics under `topics.prefix`; embedded files checkpoint on a worker thread. */
export function openLog(config: PulseConfig): Promise<Log> {
  return openLogAt(config.log, {
    dataDir: config.data_dir,
    backgroundCheckpoints: true,
    compression: config.producer.compression as KafkaCompression,
    clientId: "pulse",
    topicPrefix: config.topics.prefix,
  });
}

/** The registry named by `registry` (auto: on the Kafka log when the log is Kafka, else embedded:registry.db). */
export function openRegistry(
  config: PulseConfig,
  onUnavailable?: (message: string) => void,
): Promise<RegistryBackend> {
  return openRegistryAt(config.registry, {
    dataDir: config.data_dir,
    log: config.log,
    topicPrefix: config.topics.prefix,
    onUnavailable,
  });
}

/** The live store named by `store`; embedded files checkpoint on a worker thread. */
export function openStore(config: PulseConfig): Promise<LiveStore> {
  return openStoreAt(config.store, { dataDir: config.data_dir, backgroundCheckpoints: true });
}

/** The warehouse named by `warehouse` (embedded: a DuckDB file in data_dir). */
export function openWarehouse(config: PulseConfig): Promise<Warehouse> {
  return openWarehouseAt(config.warehouse, { dataDir: config.data_dir });
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

/** The retention of the topics Pulse creates: topics.retention_hours and topics.retention_mb, 0 for none. */
export function retentionOf(config: PulseConfig): RetentionPolicy {
  const retention: RetentionPolicy = {};
  if (config.topics.retention_hours > 0) retention.maxAgeMs = config.topics.retention_hours * 3_600_000;
  if (config.topics.retention_mb > 0)
    retention.maxSizeBytes = Math.round(config.topics.retention_mb * 1_048_576);
  return retention;
}
