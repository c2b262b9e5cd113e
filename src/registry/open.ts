// Opens the schema registry a URL names: embedded:<file>, kafka:<topic> on the Kafka log, a Confluent-API http(s):// URL, or auto.

import { ConfigError } from "../errors.ts";
import { embeddedPath } from "../paths.ts";
import { HttpRegistryClient } from "./http/client.ts";
import { DEFAULT_REGISTRY_TOPIC, type SchemaRegistryApi, type SchemaRegistryClient } from "./index.ts";
import { SchemaRegistry } from "./embedded/registry.ts";

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

export interface OpenRegistryOptions {
  /** The folder an `embedded:<file>` URL is relative to. */
  dataDir: string;
  /** The log's URL: a `kafka:<topic>` registry lives on it, and `auto` picks by it. */
  log: string;
  /** The log's topic prefix (config topics.prefix), put before the topic `auto` picks on Kafka. */
  topicPrefix?: string;
  /** Told while an http(s):// registry does not answer yet (its requests retry for up to 60 s). */
  onUnavailable?: (message: string) => void;
}

/**
 * The registry `url` names; `auto` is the Kafka topic _schemas (after the topic prefix) on a Kafka log,
 * else embedded:registry.db. A `kafka:<topic>` registry names its topic in full. The Kafka client is
 * loaded only for a registry on Kafka.
 */
export async function open(url: string, options: OpenRegistryOptions): Promise<RegistryBackend> {
  const onKafka = options.log.startsWith("kafka://");
  const resolved =
    url !== "auto"
      ? url
      : onKafka
        ? `kafka:${options.topicPrefix ?? ""}${DEFAULT_REGISTRY_TOPIC}`
        : "embedded:registry.db";
  const path = embeddedPath(resolved, options.dataDir);
  if (path !== undefined) {
    const registry = SchemaRegistry.open({ path });
    return { client: registry, embedded: registry, close: () => registry.close() };
  }
  if (resolved.startsWith("kafka:")) {
    if (!onKafka) {
      throw new ConfigError(
        `registry '${resolved}': a registry in a Kafka topic lives on the Kafka log, but log is '${options.log}'; set log: kafka://host:port, or registry: embedded:registry.db.`,
      );
    }
    const { KafkaSchemaRegistry } = await import("./kafka/registry.ts");
    const { kafkaBrokers } = await import("../log/kafka/index.ts");
    const registry = KafkaSchemaRegistry.open({
      brokers: kafkaBrokers(options.log),
      topic: resolved.slice("kafka:".length),
    });
    // RegistryBackend.close is synchronous for its callers; close() never rejects.
    return { client: registry, embedded: registry, close: () => void registry.close() };
  }
  return {
    client: new HttpRegistryClient({ url: resolved, onUnavailable: options.onUnavailable }),
    embedded: undefined,
    close: () => undefined,
  };
}
