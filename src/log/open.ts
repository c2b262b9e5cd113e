// Opens the log a URL names: embedded:<file> (SQLite, relative to the data folder) or kafka://host:port[,host:port].

import { ConfigError } from "../errors.ts";
import { embeddedPath } from "../paths.ts";
import { EmbeddedLog } from "./embedded/index.ts";
import type { KafkaCompression, Log } from "./index.ts";
import { withTopicPrefix } from "./prefixed.ts";

export interface OpenLogOptions {
  /** The folder an `embedded:<file>` URL is relative to. */
  dataDir: string;
  /** Embedded: run the WAL checkpoints on a worker thread (src/sqlite/wal-checkpointer.ts). */
  backgroundCheckpoints?: boolean;
  /** Kafka: the codec of produced record batches. Default "none". */
  compression?: KafkaCompression;
  /** Kafka: the client id the brokers see. Default "pulse". */
  clientId?: string;
  /** Put before every topic name (config topics.prefix); "" for none. */
  topicPrefix?: string;
}

/**
 * The log `url` names. The Kafka client is loaded only for a kafka:// URL: it takes a few hundred ms to
 * load, which every command on the embedded log would otherwise pay.
 */
export async function open(url: string, options: OpenLogOptions): Promise<Log> {
  return withTopicPrefix(await openBackend(url, options), options.topicPrefix ?? "");
}

async function openBackend(url: string, options: OpenLogOptions): Promise<Log> {
  const path = embeddedPath(url, options.dataDir);
  if (path !== undefined) {
    return EmbeddedLog.open({ path, backgroundCheckpoints: options.backgroundCheckpoints });
  }
  if (url.startsWith("kafka://")) {
    const { compressionUnavailable, KafkaLog, kafkaBrokers } = await import("./kafka/index.ts");
    const brokers = kafkaBrokers(url);
    if (brokers.length === 0) {
      throw new ConfigError(
        `log '${url}': name at least one broker, as in kafka://127.0.0.1:9092[,host2:9092].`,
      );
    }
    const compression = options.compression ?? "none";
    const unavailable = compressionUnavailable(compression);
    if (unavailable !== undefined) {
      throw new ConfigError(`producer.compression (PULSE_COMPRESSION): ${unavailable}.`);
    }
    return KafkaLog.open({ brokers, clientId: options.clientId ?? "pulse", compression });
  }
  throw new ConfigError(`log '${url}': use embedded:<file> (the default) or kafka://host:port[,host:port].`);
}
