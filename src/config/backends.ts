// Turns backend URLs from the config into implementations; the only place that knows every backend.

import { EmbeddedLog } from "../log/embedded.ts";
import type { KafkaCompression, Log } from "../log/index.ts";
import { withTopicPrefix } from "../log/prefixed.ts";
import { ConfigError } from "../errors.ts";
import { HttpRegistryClient } from "../registry/http-client.ts";
import {
  DEFAULT_REGISTRY_TOPIC,
  type SchemaRegistryApi,
  type SchemaRegistryClient,
} from "../registry/index.ts";
import { SchemaRegistry } from "../registry/registry.ts";
import { EmbeddedLiveStore } from "../store/embedded/index.ts";
import type { LiveStore } from "../store/index.ts";
import { embeddedPath, type PulseConfig } from "./index.ts";

/** The registry operations the CLI uses; the in-process registries and the HTTP client all have them. */
export type RegistryClient = SchemaRegistryClient &
  Pick<SchemaRegistryApi, "listSubjects" | "listVersions" | "getConfig" | "getVersion">;

export interface RegistryBackend {
  client: RegistryClient;
  /**
   * The in-process registry (the SQLite file, or the Kafka topic folded in memory), so the HTTP server
   * can serve its REST API; undefined when the registry is a remote one.
   */
  embedded: SchemaRegistryApi | undefined;
  /** For the Kafka registry, starts closing its connections; the process exits once they are closed. */
  close(): void;
}

// The Kafka and MongoDB clients are loaded only by the configurations that use them: each takes a few
// hundred ms to load, which every command on embedded backends would otherwise pay.

export async function openLog(config: PulseConfig): Promise<Log> {
  return withTopicPrefix(await openBackendLog(config), config.topics.prefix);
}

async function openBackendLog(config: PulseConfig): Promise<Log> {
  const path = embeddedPath(config.log, config.data_dir);
  if (path !== undefined) return EmbeddedLog.open({ path, backgroundCheckpoints: true });
  if (config.log.startsWith("kafka://")) {
    const { compressionUnavailable, KafkaLog, kafkaBrokers } = await import("../log/kafka.ts");
    const brokers = kafkaBrokers(config.log);
    if (brokers.length === 0) {
      throw new ConfigError(
        `log '${config.log}': name at least one broker, as in kafka://127.0.0.1:9092[,host2:9092].`,
      );
    }
    const compression = config.producer.compression as KafkaCompression;
    const unavailable = compressionUnavailable(compression);
    if (unavailable !== undefined) {
      throw new ConfigError(`producer.compression (PULSE_COMPRESSION): ${unavailable}.`);
    }
    return KafkaLog.open({ brokers, clientId: "pulse", compression });
  }
  throw new ConfigError(
    `log '${config.log}': use embedded:<file> (the default) or kafka://host:port[,host:port].`,
  );
}

/**
 * The registry named by `registry`; `auto` is the Kafka topic _schemas (after topics.prefix) on a Kafka
 * log, else embedded:registry.db. A `kafka:<topic>` registry names its topic in full.
 */
export async function openRegistry(config: PulseConfig): Promise<RegistryBackend> {
  const onKafka = config.log.startsWith("kafka://");
  const url =
    config.registry !== "auto"
      ? config.registry
      : onKafka
        ? `kafka:${config.topics.prefix}${DEFAULT_REGISTRY_TOPIC}`
        : "embedded:registry.db";
  const path = embeddedPath(url, config.data_dir);
  if (path !== undefined) {
    const registry = SchemaRegistry.open({ path });
    return { client: registry, embedded: registry, close: () => registry.close() };
  }
  if (url.startsWith("kafka:")) {
    if (!onKafka) {
      throw new ConfigError(
        `registry '${url}': a registry in a Kafka topic lives on the Kafka log, but log is '${config.log}'; set log: kafka://host:port, or registry: embedded:registry.db.`,
      );
    }
    const { KafkaSchemaRegistry } = await import("../registry/kafka-registry.ts");
    const { kafkaBrokers } = await import("../log/kafka.ts");
    const registry = KafkaSchemaRegistry.open({
      brokers: kafkaBrokers(config.log),
      topic: url.slice("kafka:".length),
    });
    // RegistryBackend.close is synchronous for its callers; close() never rejects.
    return { client: registry, embedded: registry, close: () => void registry.close() };
  }
  return { client: new HttpRegistryClient({ url }), embedded: undefined, close: () => undefined };
}

/** The live store named by `store`: the embedded SQLite file, or a MongoDB database (connected, indexed, recovered). */
export async function openStore(config: PulseConfig): Promise<LiveStore> {
  const path = embeddedPath(config.store, config.data_dir);
  if (path !== undefined) return EmbeddedLiveStore.open({ path, backgroundCheckpoints: true });
  if (/^mongodb(\+srv)?:\/\//i.test(config.store)) {
    const { MongoLiveStore } = await import("../store/mongo/index.ts");
    return MongoLiveStore.open({ url: config.store });
  }
  throw new ConfigError(
    `store '${redactUrl(config.store)}': not a live store URL; use store: embedded:<file> (the default, embedded:store.db), mongodb://host:port/db or mongodb+srv://host/db.`,
  );
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
