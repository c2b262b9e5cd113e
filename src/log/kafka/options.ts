// The Kafka log's options and defaults, the kafka:// URL, and which codecs this Node.js can produce.

import { compressionsAlgorithms } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import { KAFKA_COMPRESSIONS, type KafkaCompression } from "../index.ts";

export interface KafkaLogOptions {
  /** Bootstrap brokers, host:port each. */
  brokers: readonly string[];
  /** Client id the broker logs and quotas see. Default "pulse". */
  clientId?: string;
  /** Per-request timeout in ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** Retries of a failed request (connection, leader change) before the call fails. Default 5. */
  retries?: number;
  /**
   * How long a call keeps retrying while the brokers are unreachable (a restart) before it fails with
   * PULSE_LOG_UNAVAILABLE. Default 60 000; 0 fails at once.
   */
  unavailableRetryMs?: number;
  /** How long fetch waits on the broker for records when none are there yet. Default 0 (answer at once). */
  fetchMaxWaitMs?: number;
  /**
   * Codec of the record batches produce writes (Kafka's compression.type). Default "none". zstd needs a
   * Node.js whose zlib has it (22.15 and later); KafkaLog.open refuses it otherwise.
   */
  compression?: KafkaCompression;
}

/** Why `compression` cannot be produced with here, or undefined when it can. */
export function compressionUnavailable(compression: string): string | undefined {
  if (!(KAFKA_COMPRESSIONS as readonly string[]).includes(compression)) {
    return `unknown compression '${compression}'; use one of ${KAFKA_COMPRESSIONS.join(", ")}`;
  }
  if (compression === "zstd" && !compressionsAlgorithms.zstd.available) {
    return `producing zstd needs a Node.js whose zlib has zstd (22.15 or later), this is ${process.version}; use lz4, snappy or gzip`;
  }
  return undefined;
}

export interface KafkaTopicOptions {
  /**
   * Topic configs for a topic this call creates, on top of Pulse's (and winning over them), e.g.
   * `cleanup.policy: "compact"`. An existing topic keeps the configs it has.
   */
  configs?: Readonly<Record<string, string>>;
}

/** What every client of one log is opened with (the client's own option names). */
export interface ClientSettings {
  clientId: string;
  bootstrapBrokers: string[];
  timeout: number;
  retries: number;
  retryDelay: number;
}

/** KafkaLogOptions checked, with every default filled in. */
export interface KafkaLogSettings {
  brokers: readonly string[];
  client: ClientSettings;
  fetchMaxWaitMs: number;
  unavailableRetryMs: number;
  compression: KafkaCompression;
}

/** The settings `options` give; refuses a log without brokers or with a codec it cannot produce. */
export function kafkaLogSettings(options: KafkaLogOptions): KafkaLogSettings {
  if (options.brokers.length === 0) {
    throw new LogError(LogErrorCode.badArgument, "KafkaLog needs at least one bootstrap broker (host:port).");
  }
  const compression = options.compression ?? "none";
  const unavailable = compressionUnavailable(compression);
  if (unavailable !== undefined) throw new LogError(LogErrorCode.badArgument, `KafkaLog: ${unavailable}.`);
  return {
    brokers: [...options.brokers],
    client: {
      clientId: options.clientId ?? "pulse",
      bootstrapBrokers: [...options.brokers],
      timeout: options.requestTimeoutMs ?? 10_000,
      retries: options.retries ?? 5,
      retryDelay: 250,
    },
    fetchMaxWaitMs: options.fetchMaxWaitMs ?? 0,
    unavailableRetryMs: options.unavailableRetryMs ?? 60_000,
    compression,
  };
}

/** Parses `kafka://host:port[,host:port…]` (port 9092 when omitted) into bootstrap brokers. */
export function kafkaBrokers(url: string): string[] {
  const rest = url.replace(/^kafka:\/\//, "").replace(/\/.*$/, "");
  return rest
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => (/:\d+$/.test(entry) ? entry : `${entry}:9092`));
}
