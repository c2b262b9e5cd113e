// The clients of one Kafka log, what they know of the cluster (brokers, topics, offsets), its retry policy.

import {
  Admin,
  type Broker,
  type Connection,
  Consumer,
  kGetApi,
  kGetConnection,
  Producer,
} from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { PartitionOffsets, RetentionPolicy } from "../index.ts";
import { StickyPartitioner } from "../partitioner.ts";
import { isUnknownTopic, kafkaFailure, unknownTopic } from "./errors.ts";
import { closeConsumer } from "./group-member.ts";
import type { ClientSettings, KafkaLogSettings } from "./options.ts";

/** A topic as this log last read it from the metadata. */
export interface TopicMeta {
  name: string;
  id: string;
  partitions: number;
  leaders: number[];
  sticky: StickyPartitioner;
  /** The topic's retention configs, read once per topic id (describeTopic runs every stream batch). */
  retention?: RetentionPolicy;
}

const TIMESTAMP_EARLIEST = -2n;
const TIMESTAMP_LATEST = -1n;

/**
 * The admin, producer and reader clients of one log, with the broker addresses and topic metadata they
 * last read. Every call of the log retries through `retrying` and turns the client's errors into
 * LogErrors through `failure`.
 */
export class KafkaCluster {
  readonly brokers: readonly string[];
  readonly client: ClientSettings;
  readonly admin: Admin;
  readonly producer: Producer;
  /** Only its fetch, metadata and offset calls are used; it never joins the group it is named after. */
  readonly reader: Consumer;
  readonly #unavailableRetryMs: number;
  readonly #topics = new Map<string, TopicMeta>();
  /** Where each broker listens, by node id, from the last metadata read. */
  readonly #brokers = new Map<number, Broker>();
  #closed = false;

  constructor(settings: KafkaLogSettings) {
    this.brokers = settings.brokers;
    const base = settings.client;
    this.client = base;
    this.#unavailableRetryMs = settings.unavailableRetryMs;
    // An unknown topic is an answer for the admin (ensureTopic asks before creating one, and polls for a
    // new one itself): retried at the client's 250 ms, each such question took 1.25 s.
    this.admin = new Admin({
      ...base,
      retryDelay: (_client, _operation, _attempt, _retries, error) =>
        isUnknownTopic(error) ? 0 : base.retryDelay,
    });
    this.producer = new Producer({ ...base, idempotent: true, acks: -1, autocreateTopics: false });
    this.reader = new Consumer({ ...base, groupId: `${base.clientId}-reader` });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** From now on every call fails with PULSE_LOG_CLOSED and no retry starts again. */
  markClosed(): void {
    this.#closed = true;
  }

  /** Closes the three clients; their errors do not matter any more. */
  async close(): Promise<void> {
    await Promise.allSettled([this.producer.close(), closeConsumer(this.reader), this.admin.close()]);
  }

  /**
   * Runs `operation` again while Kafka is unreachable (a broker restart, a leader moving), backing off
   * from 200 ms to 2 s, for up to `unavailableRetryMs`; then the PULSE_LOG_UNAVAILABLE error surfaces.
   */
  async retrying<T>(operation: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#unavailableRetryMs;
    let delayMs = 200;
    for (;;) {
      try {
        return await operation();
      } catch (error) {
        const retriable = error instanceof LogError && error.code === LogErrorCode.unavailable;
        if (!retriable || this.#closed || Date.now() + delayMs > deadline) throw error;
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, 2_000);
      }
    }
  }

  checkOpen(): void {
    if (this.#closed)
      throw new LogError(LogErrorCode.closed, `The Kafka log (${this.brokers.join(",")}) is closed.`);
  }

  async meta(topic: string, options: { missingOk: true; refresh?: boolean }): Promise<TopicMeta | undefined>;
  async meta(topic: string, options?: { missingOk?: false; refresh?: boolean }): Promise<TopicMeta>;
  async meta(
    topic: string,
    options: { missingOk?: boolean; refresh?: boolean } = {},
  ): Promise<TopicMeta | undefined> {
    const cached = this.#topics.get(topic);
    if (cached !== undefined && options.refresh !== true) return cached;
    let metadata: Awaited<ReturnType<Admin["metadata"]>>;
    try {
      metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
    } catch (error) {
      if (isUnknownTopic(error)) {
        this.#topics.delete(topic);
        if (options.missingOk === true) return undefined;
        throw unknownTopic(topic, this.brokers);
      }
      throw this.failure(`read metadata of "${topic}"`, error);
    }
    for (const [node, broker] of metadata.brokers) this.#brokers.set(node, broker);
    const found = metadata.topics.get(topic);
    if (found === undefined) {
      if (options.missingOk === true) return undefined;
      throw unknownTopic(topic, this.brokers);
    }
    const meta: TopicMeta = {
      name: topic,
      id: found.id,
      partitions: found.partitionsCount,
      leaders: found.partitions.map((p) => p.leader),
      sticky: cached?.sticky ?? new StickyPartitioner(),
      retention: cached?.id === found.id ? cached.retention : undefined,
    };
    this.#topics.set(topic, meta);
    return meta;
  }

  /** A just-created topic, once the broker's metadata shows it with leaders for every partition. */
  async awaitTopic(topic: string): Promise<TopicMeta> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const meta = await this.meta(topic, { missingOk: true, refresh: true });
      if (
        meta !== undefined &&
        meta.leaders.length === meta.partitions &&
        meta.leaders.every((l) => l >= 0)
      ) {
        return meta;
      }
      await sleep(50);
    }
    throw new LogError(
      LogErrorCode.storage,
      `Kafka created topic "${topic}" but its partitions got no leader within 5 s.`,
    );
  }

  async offsets(meta: TopicMeta): Promise<PartitionOffsets[]> {
    const [low, high] = await Promise.all([
      this.listOffsets(meta, TIMESTAMP_EARLIEST),
      this.listOffsets(meta, TIMESTAMP_LATEST),
    ]);
    return low.map((lowWatermark, partition) => ({
      partition,
      lowWatermark,
      highWatermark: high[partition],
    }));
  }

  async watermarks(meta: TopicMeta, partition: number): Promise<[number, number]> {
    const offsets = await this.offsets(meta);
    return [offsets[partition].lowWatermark, offsets[partition].highWatermark];
  }

  async listOffsets(meta: TopicMeta, timestamp: bigint): Promise<number[]> {
    try {
      const listed = await this.reader.listOffsets({ topics: [meta.name], timestamp });
      return (listed.get(meta.name) ?? []).map(Number);
    } catch (error) {
      throw this.failure(`list offsets of "${meta.name}"`, error);
    }
  }

  /**
   * The API of `client` in the version the brokers and the client agree on, from `apis` (by version);
   * a version Pulse has no encoder or parser for is refused with what Pulse supports.
   */
  negotiated<T>(
    client: Producer | Consumer,
    name: "Produce" | "Fetch",
    supported: string,
    apis: Readonly<Record<number, T>>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      client[kGetApi](name, (error, api) => {
        if (error) {
          reject(error);
          return;
        }
        const built = apis[api!.version];
        if (built !== undefined) {
          resolve(built);
          return;
        }
        reject(
          new LogError(
            LogErrorCode.storage,
            `Kafka at ${this.brokers.join(",")} answers ${name} only in version ${api!.version}; Pulse ${supported}.`,
          ),
        );
      });
    });
  }

  /** A connection of `client` to broker `node`, by the last metadata read. */
  connection(client: Producer | Consumer, node: number): Promise<Connection> {
    const broker = this.#brokers.get(node);
    if (broker === undefined) {
      return Promise.reject(
        new LogError(LogErrorCode.unavailable, `Kafka's metadata names no broker ${node}.`, {
          retriable: true,
        }),
      );
    }
    return new Promise<Connection>((resolve, reject) =>
      client[kGetConnection](broker, (error, connection) => (error ? reject(error) : resolve(connection!))),
    );
  }

  /** A client failure as a LogError (errors.ts); one that says the metadata is stale forgets it. */
  failure(action: string, error: unknown): LogError {
    return kafkaFailure(action, error, this.brokers, () => this.#topics.clear());
  }
}

/** An async value asked for once and shared; a failure is forgotten, so the next call asks again. */
export class Memo<T> {
  #promise: Promise<T> | undefined;

  get(make: () => Promise<T>): Promise<T> {
    this.#promise ??= make().catch((error: unknown) => {
      this.#promise = undefined;
      throw error;
    });
    return this.#promise;
  }

  clear(): void {
    this.#promise = undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
