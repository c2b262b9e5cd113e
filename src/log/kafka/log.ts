// The Log over a real Apache Kafka cluster, through @platformatic/kafka (Kafka 3.5 to 4.1).

import type {
  FetchOptions,
  GroupMember,
  GroupTopicLag,
  JoinGroupOptions,
  Log,
  LogRecord,
  ProduceRecord,
  RecordPosition,
  TopicInfo,
  TopicSpec,
} from "../index.ts";
import { KafkaCluster } from "./cluster.ts";
import { ConsumerGroups } from "./groups.ts";
import { type KafkaLogOptions, type KafkaTopicOptions, kafkaLogSettings } from "./options.ts";
import { IdempotentProducer } from "./producer.ts";
import { PartitionReader } from "./reader.ts";
import { TopicAdmin } from "./topics.ts";

/**
 * Semantics next to the embedded log:
 * - produce: acks=all with the idempotent producer, so a retried request never duplicates or reorders a
 *   partition's records. One call is atomic per partition (one record batch), not across partitions:
 *   Kafka offers that only with transactions.
 * - Topics are created with retention.ms/retention.bytes from the spec (-1, "keep", when unset) and
 *   message.timestamp.after.max.ms = no limit, because record timestamps are event times, which the
 *   stream job, not the broker, judges.
 * - enforceRetention applies the policy at once with DeleteRecords (what `kafka-delete-records` does):
 *   by age through ListOffsets(timestamp), by size by reading the partition's record sizes. The broker
 *   also applies the same topic configs by itself, segment by segment.
 * - Consumer-group offsets go through the group coordinator (OffsetCommit/OffsetFetch), so Kafka's own
 *   tools (kafka-consumer-groups) see the same offsets and lag.
 */
export class KafkaLog implements Log {
  readonly brokers: readonly string[];
  readonly #cluster: KafkaCluster;
  readonly #topics: TopicAdmin;
  readonly #producer: IdempotentProducer;
  readonly #reader: PartitionReader;
  readonly #groups: ConsumerGroups;

  private constructor(options: KafkaLogOptions) {
    const settings = kafkaLogSettings(options);
    this.brokers = settings.brokers;
    this.#cluster = new KafkaCluster(settings);
    this.#reader = new PartitionReader(this.#cluster, settings.fetchMaxWaitMs);
    this.#topics = new TopicAdmin(this.#cluster, this.#reader);
    this.#producer = new IdempotentProducer(this.#cluster, settings.compression);
    this.#groups = new ConsumerGroups(this.#cluster);
  }

  /** Connects lazily: the first call opens the connections. */
  static open(options: KafkaLogOptions): KafkaLog {
    return new KafkaLog(options);
  }

  ensureTopic(spec: TopicSpec, options: KafkaTopicOptions = {}): Promise<TopicInfo> {
    return this.#topics.ensureTopic(spec, options);
  }

  listTopics(): Promise<TopicInfo[]> {
    return this.#topics.listTopics();
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.#topics.describeTopic(topic);
  }

  produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    return this.#producer.produce(topic, records);
  }

  fetch(topic: string, partition: number, offset: number, options: FetchOptions = {}): Promise<LogRecord[]> {
    return this.#reader.fetch(topic, partition, offset, options);
  }

  position(topic: string, partition: number): number | undefined {
    return this.#reader.position(topic, partition);
  }

  commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    return this.#groups.commit(group, topic, offsets);
  }

  committed(group: string, topic: string): Promise<Map<number, number>> {
    return this.#groups.committed(group, topic);
  }

  lag(group?: string): Promise<GroupTopicLag[]> {
    return this.#groups.lag(group);
  }

  enforceRetention(nowMs: number = Date.now(), topics?: readonly string[]): Promise<number> {
    return this.#topics.enforceRetention(nowMs, topics);
  }

  joinGroup(group: string, topics: readonly string[], options: JoinGroupOptions = {}): Promise<GroupMember> {
    return this.#groups.joinGroup(group, topics, options);
  }

  async close(): Promise<void> {
    if (this.#cluster.closed) return;
    this.#cluster.markClosed();
    await this.#groups.leaveAll();
    await this.#producer.idle();
    await this.#cluster.close();
  }
}
