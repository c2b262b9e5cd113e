// Wires the parts every command shares: log, registry, serde and the two contract producers.

import { fileURLToPath } from "node:url";
import { openLog, openRegistry, type RegistryBackend } from "../config/backends.ts";
import type { PulseConfig } from "../config/index.ts";
import { TOPICS, type UserActivityV2, type WikimediaRecentChange } from "../contracts/types.ts";
import {
  type ValidationCodeValue,
  type ValidationResult,
  validateActivity,
  validateRecentChange,
} from "../contracts/validate.ts";
import { ContractProducer } from "../ingest/producer.ts";
import { mapRecentChange } from "../ingest/wikimedia/mapping.ts";
import type { Log, RetentionPolicy } from "../log/index.ts";
import { AvroSerde } from "../serde/index.ts";

/** The recorded sample shipped with Pulse (see fixtures/wikimedia/SOURCES.md). */
export const BUNDLED_WIKIMEDIA_SAMPLE = fileURLToPath(new URL("../../fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson", import.meta.url));

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
  if (config.topics.retention_mb > 0) retention.maxSizeBytes = Math.round(config.topics.retention_mb * 1_048_576);
  return retention;
}

/** Raw EventStreams JSON → the contract, then its semantic rules; a mapping failure is a validation failure. */
export function validateRawRecentChange(raw: unknown, nowMs: number, maxFutureSkewMs: number): ValidationResult<WikimediaRecentChange> {
  const mapped = mapRecentChange(raw);
  if (!mapped.ok) return { ok: false, errors: [{ code: mapped.code as ValidationCodeValue, field: "$", message: mapped.message }] };
  return validateRecentChange(mapped.value, { nowMs, maxFutureSkewMs });
}

export async function openPlatform(config: PulseConfig, options: OpenPlatformOptions): Promise<Platform> {
  const log = openLog(config);
  let registry: RegistryBackend | undefined;
  try {
    registry = openRegistry(config);
    const serde = new AvroSerde(registry.client);
    const maxFutureSkewMs = config.validation.max_future_skew_sec * 1000;
    const activity = new ContractProducer<UserActivityV2>({
      log,
      serde,
      topic: TOPICS.activity,
      source: options.source,
      keyOf: (event) => event.user_id,
      validate: (raw) => validateActivity(raw, { nowMs: Date.now(), maxFutureSkewMs }),
    });
    const wikimedia = new ContractProducer<WikimediaRecentChange>({
      log,
      serde,
      topic: TOPICS.wikimedia,
      source: options.source,
      keyOf: (change) => change.wiki,
      validate: (raw) => validateRawRecentChange(raw, Date.now(), maxFutureSkewMs),
    });
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
