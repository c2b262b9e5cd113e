// Consumer groups on Kafka: committed offsets through the group coordinator, lag, and group membership.

import { type Admin, Consumer } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { GroupMember, GroupTopicLag, JoinGroupOptions, PartitionLag, RecordPosition } from "../index.ts";
import { checkGroup, checkPartition } from "../validate.ts";
import type { KafkaCluster } from "./cluster.ts";
import { closeConsumer, KafkaGroupMember } from "./group-member.ts";

/**
 * A log's consumer groups. Offsets go through the group coordinator (OffsetCommit/OffsetFetch), so
 * Kafka's own tools (kafka-consumer-groups) see the same offsets and lag.
 */
export class ConsumerGroups {
  readonly #cluster: KafkaCluster;
  readonly #members = new Set<KafkaGroupMember>();

  constructor(cluster: KafkaCluster) {
    this.#cluster = cluster;
  }

  commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    return this.#cluster.retrying(() => this.#commit(group, topic, offsets));
  }

  async #commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    this.#cluster.checkOpen();
    checkGroup(group);
    const meta = await this.#cluster.meta(topic);
    for (const { partition, offset } of offsets) {
      checkPartition(topic, meta.partitions, partition);
      if (!Number.isInteger(offset) || offset < 0) {
        throw new LogError(
          LogErrorCode.badArgument,
          `commit offset must be a non-negative integer, got ${offset}.`,
        );
      }
    }
    if (offsets.length === 0) return;
    try {
      await this.#cluster.admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [
          {
            name: topic,
            partitionOffsets: offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })),
          },
        ],
      });
    } catch (error) {
      throw this.#cluster.failure(`commit offsets of group "${group}" on "${topic}"`, error);
    }
  }

  committed(group: string, topic: string): Promise<Map<number, number>> {
    return this.#cluster.retrying(() => this.#committed(group, topic));
  }

  async #committed(group: string, topic: string): Promise<Map<number, number>> {
    this.#cluster.checkOpen();
    checkGroup(group);
    await this.#cluster.meta(topic);
    const committed = new Map<number, number>();
    for (const [name, partition, offset] of await this.#groupOffsets(group)) {
      if (name === topic) committed.set(partition, offset);
    }
    return committed;
  }

  lag(group?: string): Promise<GroupTopicLag[]> {
    return this.#cluster.retrying(() => this.#lag(group));
  }

  async #lag(group?: string): Promise<GroupTopicLag[]> {
    this.#cluster.checkOpen();
    let groups: string[];
    if (group !== undefined) {
      checkGroup(group);
      groups = [group];
    } else {
      try {
        groups = [...(await this.#cluster.admin.listGroups()).keys()];
      } catch (error) {
        throw this.#cluster.failure("list consumer groups", error);
      }
    }
    const result: GroupTopicLag[] = [];
    for (const name of groups.sort()) {
      const byTopic = new Map<string, Map<number, number>>();
      for (const [topic, partition, offset] of await this.#groupOffsets(name)) {
        const partitions = byTopic.get(topic) ?? new Map<number, number>();
        partitions.set(partition, offset);
        byTopic.set(topic, partitions);
      }
      for (const topic of [...byTopic.keys()].sort()) {
        const meta = await this.#cluster.meta(topic, { missingOk: true });
        if (meta === undefined) continue;
        const committed = byTopic.get(topic) ?? new Map<number, number>();
        const offsets = await this.#cluster.offsets(meta);
        const partitions: PartitionLag[] = offsets.map(({ partition, lowWatermark, highWatermark }) => {
          const at = committed.get(partition);
          return {
            partition,
            committed: at ?? null,
            highWatermark,
            lag: Math.max(0, highWatermark - (at ?? lowWatermark)),
          };
        });
        result.push({
          group: name,
          topic,
          partitions,
          totalLag: partitions.reduce((sum, p) => sum + p.lag, 0),
        });
      }
    }
    return result;
  }

  async joinGroup(
    group: string,
    topics: readonly string[],
    options: JoinGroupOptions = {},
  ): Promise<GroupMember> {
    this.#cluster.checkOpen();
    checkGroup(group);
    for (const topic of topics) await this.#cluster.meta(topic);
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const heartbeatInterval = options.heartbeatIntervalMs ?? 1_000;
    const consumer = new Consumer({
      ...this.#cluster.client,
      groupId: group,
      sessionTimeout,
      heartbeatInterval,
      rebalanceTimeout: sessionTimeout,
    });
    const member = new KafkaGroupMember(
      group,
      consumer,
      (action, error) => this.#cluster.failure(action, error),
      () => this.#members.delete(member),
    );
    for (const topic of topics) consumer.topics.track(topic);
    try {
      await consumer.joinGroup({ sessionTimeout, heartbeatInterval, rebalanceTimeout: sessionTimeout });
    } catch (error) {
      await closeConsumer(consumer);
      throw this.#cluster.failure(`join consumer group "${group}"`, error);
    }
    member.joined();
    this.#members.add(member);
    return member;
  }

  /** Every membership this log holds leaves its group. */
  async leaveAll(): Promise<void> {
    await Promise.allSettled([...this.#members].map((member) => member.leave()));
  }

  /** Committed offsets of a group as (topic, partition, offset) triples; none when the group is unknown. */
  async #groupOffsets(group: string): Promise<[string, number, number][]> {
    let listed: Awaited<ReturnType<Admin["listConsumerGroupOffsets"]>>;
    try {
      listed = await this.#cluster.admin.listConsumerGroupOffsets({ groups: [group] });
    } catch (error) {
      throw this.#cluster.failure(`read committed offsets of group "${group}"`, error);
    }
    const out: [string, number, number][] = [];
    for (const entry of listed) {
      for (const topic of entry.topics) {
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n) out.push([topic.name, p.partitionIndex, Number(p.committedOffset)]);
        }
      }
    }
    return out;
  }
}
