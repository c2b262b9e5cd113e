// A Log whose topics carry a prefix in the backend: `acme.user-activity` on the broker, `user-activity` above it.
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
} from "./index.ts";

/**
 * The Log `log` with every topic name prefixed by `prefix` on the way in and unprefixed on the way out,
 * so one Kafka cluster can hold several Pulse deployments (or other teams' topics named `alerts`) side
 * by side, as Kafka Streams prefixes its internal topics with the application id. Everything above the
 * log (contracts, checkpoints, the raw lake, the batch layer) keeps the names it knows; only the broker
 * sees the prefixed ones. Topics without the prefix are invisible: listTopics, lag and enforceRetention
 * cover this deployment's topics only. The empty prefix gives `log` itself.
 */
export function withTopicPrefix(log: Log, prefix: string): Log {
  return prefix === "" ? log : new PrefixedLog(log, prefix);
}

class PrefixedLog implements Log {
  readonly #log: Log;
  readonly #prefix: string;
  readonly joinGroup?: (
    group: string,
    topics: readonly string[],
    options?: JoinGroupOptions,
  ) => Promise<GroupMember>;
  readonly position?: (topic: string, partition: number) => number | undefined;

  constructor(log: Log, prefix: string) {
    this.#log = log;
    this.#prefix = prefix;
    const position = log.position?.bind(log);
    if (position !== undefined) this.position = (topic, partition) => position(this.#inner(topic), partition);
    const join = log.joinGroup?.bind(log);
    if (join !== undefined) {
      this.joinGroup = async (group, topics, options) =>
        new PrefixedMember(
          await join(
            group,
            topics.map((t) => this.#inner(t)),
            options,
          ),
          prefix,
        );
    }
  }

  #inner(topic: string): string {
    return this.#prefix + topic;
  }

  #info(info: TopicInfo): TopicInfo {
    return { ...info, name: info.name.slice(this.#prefix.length) };
  }

  #own(name: string): boolean {
    return name.startsWith(this.#prefix) && name.length > this.#prefix.length;
  }

  async ensureTopic(spec: TopicSpec): Promise<TopicInfo> {
    return this.#info(await this.#log.ensureTopic({ ...spec, name: this.#inner(spec.name) }));
  }

  async listTopics(): Promise<TopicInfo[]> {
    return (await this.#log.listTopics()).filter((t) => this.#own(t.name)).map((t) => this.#info(t));
  }

  async describeTopic(topic: string): Promise<TopicInfo> {
    return this.#info(await this.#log.describeTopic(this.#inner(topic)));
  }

  produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    return this.#log.produce(this.#inner(topic), records);
  }

  async fetch(
    topic: string,
    partition: number,
    offset: number,
    options?: FetchOptions,
  ): Promise<LogRecord[]> {
    const records = await this.#log.fetch(this.#inner(topic), partition, offset, options);
    // Each fetch hands out records of its own, so naming them here changes nothing the backend keeps.
    for (const record of records) record.topic = topic;
    return records;
  }

  commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    return this.#log.commit(group, this.#inner(topic), offsets);
  }

  committed(group: string, topic: string): Promise<Map<number, number>> {
    return this.#log.committed(group, this.#inner(topic));
  }

  async lag(group?: string): Promise<GroupTopicLag[]> {
    return (await this.#log.lag(group))
      .filter((l) => this.#own(l.topic))
      .map((l) => ({ ...l, topic: l.topic.slice(this.#prefix.length) }));
  }

  async enforceRetention(nowMs?: number, topics?: readonly string[]): Promise<number> {
    const names = topics ?? (await this.listTopics()).map((t) => t.name);
    return this.#log.enforceRetention(
      nowMs,
      names.map((t) => this.#inner(t)),
    );
  }

  close(): Promise<void> {
    return this.#log.close();
  }
}

class PrefixedMember implements GroupMember {
  readonly #member: GroupMember;
  readonly #prefix: string;

  constructor(member: GroupMember, prefix: string) {
    this.#member = member;
    this.#prefix = prefix;
  }

  get group(): string {
    return this.#member.group;
  }

  get generation(): number {
    return this.#member.generation;
  }

  assigned(topic: string): number[] {
    return this.#member.assigned(this.#prefix + topic);
  }

  ready(): Promise<void> {
    return this.#member.ready();
  }

  commit(topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    return this.#member.commit(this.#prefix + topic, offsets);
  }

  leave(): Promise<void> {
    return this.#member.leave();
  }
}
