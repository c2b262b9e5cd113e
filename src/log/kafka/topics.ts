// Topic admin on Kafka: create, list and describe topics (retention, offsets), and apply retention now.

import { type Admin, ConfigResourceTypes } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { LogRecord, RetentionPolicy, TopicInfo, TopicSpec } from "../index.ts";
import { validateTopicSpec } from "../validate.ts";
import type { KafkaCluster, TopicMeta } from "./cluster.ts";
import { hasApiError } from "./errors.ts";
import type { KafkaTopicOptions } from "./options.ts";
import type { PartitionReader } from "./reader.ts";

/** Kafka's Long.MAX_VALUE as a config string: "no limit". */
const NO_LIMIT = "9223372036854775807";

/**
 * Creates, lists and describes a log's topics, and applies their retention at once with DeleteRecords
 * (what `kafka-delete-records` does): by age through ListOffsets(timestamp), by size by reading the
 * partition's record sizes. The broker also applies the same topic configs by itself, segment by segment.
 */
export class TopicAdmin {
  readonly #cluster: KafkaCluster;
  /** Reads partitions for retention by size, and forgets what it read once records are deleted. */
  readonly #reader: PartitionReader;

  constructor(cluster: KafkaCluster, reader: PartitionReader) {
    this.#cluster = cluster;
    this.#reader = reader;
  }

  ensureTopic(spec: TopicSpec, options: KafkaTopicOptions = {}): Promise<TopicInfo> {
    return this.#cluster.retrying(() => this.#ensureTopic(spec, options));
  }

  async #ensureTopic(spec: TopicSpec, options: KafkaTopicOptions): Promise<TopicInfo> {
    this.#cluster.checkOpen();
    validateTopicSpec(spec);
    const existing = await this.#cluster.meta(spec.name, { missingOk: true });
    if (existing === undefined) {
      const retention = spec.retention ?? {};
      const configs: Record<string, string> = {
        "retention.ms": String(retention.maxAgeMs ?? -1),
        "retention.bytes": String(retention.maxSizeBytes ?? -1),
        "message.timestamp.after.max.ms": NO_LIMIT,
        ...options.configs,
      };
      try {
        await this.#cluster.admin.createTopics({
          topics: [spec.name],
          partitions: spec.partitions,
          replicas: -1,
          configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
        });
      } catch (error) {
        // Another process created it first: fall through to the partition-count check.
        if (!hasApiError(error, "TOPIC_ALREADY_EXISTS"))
          throw this.#cluster.failure(`create topic "${spec.name}"`, error);
      }
    }
    const meta = existing ?? (await this.#cluster.awaitTopic(spec.name));
    if (meta.partitions !== spec.partitions) {
      throw new LogError(
        LogErrorCode.topicExists,
        `Topic "${spec.name}" already exists on Kafka with ${meta.partitions} partitions, not ${spec.partitions}; ` +
          "use its partition count, or another topic name.",
        { details: { topic: spec.name, partitions: meta.partitions } },
      );
    }
    return this.#describe(meta);
  }

  listTopics(): Promise<TopicInfo[]> {
    return this.#cluster.retrying(() => this.#listTopics());
  }

  async #listTopics(): Promise<TopicInfo[]> {
    this.#cluster.checkOpen();
    let names: string[];
    try {
      names = await this.#cluster.admin.listTopics({ includeInternals: false });
    } catch (error) {
      throw this.#cluster.failure("list topics", error);
    }
    const infos: TopicInfo[] = [];
    for (const name of names.sort()) {
      const meta = await this.#cluster.meta(name, { missingOk: true, refresh: true });
      if (meta !== undefined) infos.push(await this.#describe(meta));
    }
    return infos;
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.#cluster.retrying(() => this.#describeTopic(topic));
  }

  async #describeTopic(topic: string): Promise<TopicInfo> {
    this.#cluster.checkOpen();
    return this.#describe(await this.#cluster.meta(topic, { refresh: true }));
  }

  async enforceRetention(nowMs: number = Date.now(), topics?: readonly string[]): Promise<number> {
    this.#cluster.checkOpen();
    let deleted = 0;
    try {
      deleted = await this.#enforceRetention(nowMs, topics === undefined ? undefined : new Set(topics));
    } finally {
      // Records fetched ahead may lie below the new low watermarks.
      this.#reader.forgetReads();
    }
    return deleted;
  }

  async #enforceRetention(nowMs: number, only: ReadonlySet<string> | undefined): Promise<number> {
    let deleted = 0;
    for (const info of await this.listTopics()) {
      if (only !== undefined && !only.has(info.name)) continue;
      const { maxAgeMs, maxSizeBytes } = info.retention;
      if (maxAgeMs === undefined && maxSizeBytes === undefined) continue;
      const meta = await this.#cluster.meta(info.name);
      const cutoffs: { partition: number; offset: bigint }[] = [];
      for (const { partition, lowWatermark, highWatermark } of info.offsets) {
        let keepFrom = lowWatermark;
        if (maxAgeMs !== undefined)
          keepFrom = Math.max(
            keepFrom,
            await this.#firstAtOrAfter(meta, partition, nowMs - maxAgeMs, highWatermark),
          );
        if (maxSizeBytes !== undefined)
          keepFrom = Math.max(
            keepFrom,
            await this.#firstWithinSize(meta, partition, keepFrom, highWatermark, maxSizeBytes),
          );
        if (keepFrom > lowWatermark) {
          cutoffs.push({ partition, offset: BigInt(keepFrom) });
          deleted += keepFrom - lowWatermark;
        }
      }
      if (cutoffs.length === 0) continue;
      try {
        await this.#cluster.admin.deleteRecords({ topics: [{ name: info.name, partitions: cutoffs }] });
      } catch (error) {
        throw this.#cluster.failure(`delete expired records of "${info.name}"`, error);
      }
    }
    return deleted;
  }

  async #describe(meta: TopicMeta): Promise<TopicInfo> {
    meta.retention ??= await this.#retention(meta);
    return {
      name: meta.name,
      partitions: meta.partitions,
      retention: { ...meta.retention },
      offsets: await this.#cluster.offsets(meta),
    };
  }

  /** The retention a topic's configs give; a compacted topic has none, whatever retention.ms says. */
  async #retention(meta: TopicMeta): Promise<RetentionPolicy> {
    let configs: Awaited<ReturnType<Admin["describeConfigs"]>>;
    try {
      configs = await this.#cluster.admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: meta.name,
            configurationKeys: ["retention.ms", "retention.bytes", "cleanup.policy"],
          },
        ],
      });
    } catch (error) {
      throw this.#cluster.failure(`describe topic "${meta.name}"`, error);
    }
    const retention: RetentionPolicy = {};
    const entries = configs[0]?.configs ?? [];
    // A compacted topic (another application's state, the registry's) has no time or size retention,
    // whatever the broker reports as retention.ms: enforceRetention must never cut it.
    const policy = entries.find((c) => c.name === "cleanup.policy")?.value ?? "delete";
    if (!policy.split(",").includes("delete")) return retention;
    for (const config of entries) {
      const value = config.value === null ? -1 : Number(config.value);
      if (!(value >= 0)) continue;
      if (config.name === "retention.ms") retention.maxAgeMs = value;
      if (config.name === "retention.bytes") retention.maxSizeBytes = value;
    }
    return retention;
  }

  /** The first offset whose timestamp is at or after `timestampMs` (Kafka's ListOffsets by time), or `high`. */
  async #firstAtOrAfter(
    meta: TopicMeta,
    partition: number,
    timestampMs: number,
    high: number,
  ): Promise<number> {
    try {
      const listed = await this.#cluster.admin.listOffsets({
        topics: [
          { name: meta.name, partitions: [{ partitionIndex: partition, timestamp: BigInt(timestampMs) }] },
        ],
      });
      const offset = Number(listed[0]?.partitions[0]?.offset ?? -1);
      return offset < 0 ? high : offset;
    } catch (error) {
      throw this.#cluster.failure(`list offsets of "${meta.name}" by time`, error);
    }
  }

  /** The first offset from which the partition's records (key+value+headers) fit in `maxBytes`. */
  async #firstWithinSize(
    meta: TopicMeta,
    partition: number,
    from: number,
    high: number,
    maxBytes: number,
  ): Promise<number> {
    const sizes: number[] = [];
    let offset = from;
    while (offset < high) {
      const page = await this.#reader.fetch(meta.name, partition, offset, { maxRecords: 10_000 });
      if (page.length === 0) break;
      for (const record of page) sizes.push(storedBytes(record));
      offset = page[page.length - 1].offset + 1;
    }
    let total = 0;
    let keepFrom = from + sizes.length;
    for (let i = sizes.length - 1; i >= 0; i--) {
      if (total + sizes[i] > maxBytes) break;
      total += sizes[i];
      keepFrom = from + i;
    }
    return keepFrom;
  }
}

/** The bytes retention.maxSizeBytes counts, as in the embedded log: key + value + header names and values. */
function storedBytes(record: LogRecord): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const name of Object.keys(record.headers))
    bytes += Buffer.byteLength(name) + record.headers[name].length;
  return bytes;
}
