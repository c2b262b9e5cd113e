// The parts every way of running Pulse shares: log, registry, serde and the two contract producers.

import type { PulseConfig } from "../config/index.ts";
import type { UserActivityV2, WikimediaRecentChange } from "../contracts/types.ts";
import { ActivityFrame } from "../stream/activity-frame.ts";
import { activityProducer, type ContractProducer, recentChangeProducer } from "../ingest/producer.ts";
import type { Log } from "../log/index.ts";
import type { RegistryBackend } from "../registry/open.ts";
import { AvroSerde } from "../serde/index.ts";
import { openLog, openRegistry, retentionOf } from "./backends.ts";

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
  /** Told while a remote registry does not answer yet (start-up retries it, as Kafka is retried). */
  onRegistryUnavailable?: (message: string) => void;
}

/** Opens the log and the registry, makes the producers' topics and registers their schemas; close() closes both. */
export async function openPlatform(config: PulseConfig, options: OpenPlatformOptions): Promise<Platform> {
  const log = await openLog(config);
  let registry: RegistryBackend | undefined;
  try {
    registry = await openRegistry(config, options.onRegistryUnavailable);
    const serde = new AvroSerde(registry.client);
    const producerOptions = {
      log,
      serde,
      source: options.source,
      maxFutureSkewMs: config.validation.max_future_skew_sec * 1000,
    };
    const frame = new ActivityFrame();
    const activity = activityProducer({
      ...producerOptions,
      // Frames a source encoded itself (the unpaced CSV replay) pass the contract's rules read from the bytes.
      checkEncoded: (bytes, nowMs, maxFutureSkewMs) =>
        frame.read(bytes) && frame.rulesPass({ nowMs, maxFutureSkewMs }),
    });
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
