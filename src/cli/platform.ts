// Wires the parts every command shares: log, registry, serde and the two contract producers.

import { fileURLToPath } from "node:url";
import { openLog, openRegistry, type RegistryBackend } from "../config/backends.ts";
import type { PulseConfig } from "../config/index.ts";
import type { UserActivityV2, WikimediaRecentChange } from "../contracts/types.ts";
import { activityProducer, type ContractProducer, recentChangeProducer } from "../ingest/producer.ts";
import type { Log, RetentionPolicy } from "../log/index.ts";
import { projectFile } from "../paths.ts";
import { AvroSerde } from "../serde/index.ts";

/** The recorded sample shipped with Pulse (see fixtures/wikimedia/SOURCES.md). */
export const BUNDLED_WIKIMEDIA_SAMPLE = fileURLToPath(
  projectFile("fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl"),
);

export interface Platform {
  config: PulseConfig;
  log: Log;
  registry: RegistryBackend;
  serde: AvroSerde;
  activity: ContractProducer<UserActivityV2>;
  wikimedia: ContractProducer<WikimediaRecentChange>;
  close(): Promise<void>;
}

export interface OpenPlatformOptions {
  /** Value of the `pulse-source` header on produced records. */
  source: string;
}

export function retentionOf(config: PulseConfig): RetentionPolicy {
  const retention: RetentionPolicy = {};
  if (config.topics.retention_hours > 0) retention.maxAgeMs = config.topics.retention_hours * 3_600_000;
  if (config.topics.retention_mb > 0)
    retention.maxSizeBytes = Math.round(config.topics.retention_mb * 1_048_576);
  return retention;
}

export async function openPlatform(config: PulseConfig, options: OpenPlatformOptions): Promise<Platform> {
  const log = await openLog(config);
  let registry: RegistryBackend | undefined;
  try {
    registry = await openRegistry(config);
    const serde = new AvroSerde(registry.client);
    const producerOptions = {
      log,
      serde,
      source: options.source,
      maxFutureSkewMs: config.validation.max_future_skew_sec * 1000,
    };
    const activity = activityProducer(producerOptions);
    const wikimedia = recentChangeProducer(producerOptions);
    const retention = retentionOf(config);
    await activity.ensureTopics(config.topics.partitions, retention);
    await wikimedia.ensureTopics(config.topics.partitions, retention);
    await Promise.all([activity.ready(), wikimedia.ready()]);
    const opened = registry;
    return {
      config,
      log,
      registry: opened,
      serde,
      activity,
      wikimedia,
      async close() {
        await log.close();
        opened.close();
      },
    };
  } catch (error) {
    await log.close();
    registry?.close();
    throw error;
  }
}
