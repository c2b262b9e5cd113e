// The Log over a real Apache Kafka cluster, through @platformatic/kafka (pure TypeScript, maintained, Kafka 3.5-4.1).

import {
  Admin,
  ConfigResourceTypes,
  Consumer,
  compressionsAlgorithms,
  GenericError,
  MultipleErrors,
  NetworkError,
  Producer,
  type RecordsBatch,
  TimeoutError,
} from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../errors.ts";
import { decompress as zstdDecompress } from "fzstd";
import { errorMessage } from "../sqlite/open-file.ts";
import type {
  FetchOptions,
  GroupMember,
  GroupTopicLag,
  JoinGroupOptions,
  Log,
  LogRecord,
  PartitionLag,
  PartitionOffsets,
  ProduceRecord,
  RecordHeaders,
  RecordPosition,
  RetentionPolicy,
  TopicInfo,
  TopicSpec,
} from "./index.ts";
import { partitionForKey, StickyPartitioner } from "./partitioner.ts";
import { checkGroup, checkPartition, checkRecordBytes, validateTopicSpec } from "./validate.ts";

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
}

export interface KafkaTopicOptions {
  /**
   * Topic configs for a topic this call creates, on top of Pulse's (and winning over them), e.g.
   * `cleanup.policy: "compact"`. An existing topic keeps the configs it has.
   */
  configs?: Readonly<Record<string, string>>;
}

interface TopicMeta {
  name: string;
  id: string;
  partitions: number;
  leaders: number[];
  sticky: StickyPartitioner;
  /** The topic's retention configs, read once per topic id (describeTopic runs every stream batch). */
  retention?: RetentionPolicy;
}

/** Kafka's Long.MAX_VALUE as a config string: "no limit". */
const NO_LIMIT = "9223372036854775807";
/** Records per produce request; bounded so one partition's batch stays far below max.message.bytes. */
const MAX_SEND_RECORDS = 2_000;
const MAX_SEND_BYTES = 512 * 1024;
/**
 * A record stores its timestamp as a varint delta from its batch's first timestamp. The client's
 * 64-bit varint writer (@platformatic/dynamic-buffer 0.3.1) mis-encodes deltas of 2^31 ms (24.8 days)
 * or more, so a send never puts records further apart than that into one partition's batch.
 */
const MAX_TIMESTAMP_DELTA_MS = 2 ** 31 - 1;
const FETCH_PARTITION_MAX_BYTES = 4 * 1024 * 1024;
const DEFAULT_FETCH_RECORDS = 1_000;
/** Control batches (transaction markers) carry no user records. */
const CONTROL_BATCH = 0x20;
const TIMESTAMP_EARLIEST = -2n;
const TIMESTAMP_LATEST = -1n;

/*
 * Record batches compressed with zstd (the Java client's and librdkafka's common choice) must be readable
 * on Node 20 too. The client decompresses with node:zlib, which has zstd only from Node 22.15; below that
 * its zstd entry throws, so Pulse plugs in fzstd, a pure-JavaScript zstd decoder, for reading. Producing
 * with zstd still needs a Node with zlib zstd; Pulse's producer does not compress.
 */
if (!compressionsAlgorithms.zstd.available) {
  const zstd = compressionsAlgorithms.zstd as {
    decompressSync: (data: Buffer | { buffer: Buffer }) => Buffer;
  };
  zstd.decompressSync = (data) => {
    const out = zstdDecompress(Buffer.isBuffer(data) ? data : data.buffer);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  };
}

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
  readonly #admin: Admin;
  readonly #producer: Producer;
  readonly #reader: Consumer;
  readonly #fetchMaxWaitMs: number;
  readonly #unavailableRetryMs: number;
  readonly #topics = new Map<string, TopicMeta>();
  readonly #base: {
    clientId: string;
    bootstrapBrokers: string[];
    timeout: number;
    retries: number;
    retryDelay: number;
  };
  readonly #members = new Set<KafkaGroupMember>();
  /** Produce calls run one at a time, so positions follow call order per partition. */
  #sending: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(options: KafkaLogOptions) {
    if (options.brokers.length === 0) {
      throw new LogError(
        LogErrorCode.badArgument,
        "KafkaLog needs at least one bootstrap broker (host:port).",
      );
    }
    this.brokers = [...options.brokers];
    const base = {
      clientId: options.clientId ?? "pulse",
      bootstrapBrokers: [...options.brokers],
      timeout: options.requestTimeoutMs ?? 10_000,
      retries: options.retries ?? 5,
      retryDelay: 250,
    };
    this.#base = base;
    this.#fetchMaxWaitMs = options.fetchMaxWaitMs ?? 0;
    this.#unavailableRetryMs = options.unavailableRetryMs ?? 60_000;
    this.#admin = new Admin(base);
    this.#producer = new Producer({ ...base, idempotent: true, acks: -1, autocreateTopics: false });
    // Only its fetch, metadata and offset calls are used; it never joins the group it is named after.
    this.#reader = new Consumer({ ...base, groupId: `${base.clientId}-reader` });
  }

  /** Connects lazily: the first call opens the connections. */
  static open(options: KafkaLogOptions): KafkaLog {
    return new KafkaLog(options);
  }

  ensureTopic(spec: TopicSpec, options: KafkaTopicOptions = {}): Promise<TopicInfo> {
    return this.#retrying(() => this.#ensureTopic(spec, options));
  }

  async #ensureTopic(spec: TopicSpec, options: KafkaTopicOptions): Promise<TopicInfo> {
    this.#checkOpen();
    validateTopicSpec(spec);
    const existing = await this.#meta(spec.name, { missingOk: true });
    if (existing === undefined) {
      const retention = spec.retention ?? {};
      const configs: Record<string, string> = {
        "retention.ms": String(retention.maxAgeMs ?? -1),
        "retention.bytes": String(retention.maxSizeBytes ?? -1),
        "message.timestamp.after.max.ms": NO_LIMIT,
        ...options.configs,
      };
      try {
        await this.#admin.createTopics({
          topics: [spec.name],
          partitions: spec.partitions,
          replicas: -1,
          configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
        });
      } catch (error) {
        // Another process created it first: fall through to the partition-count check.
        if (!hasApiError(error, "TOPIC_ALREADY_EXISTS"))
          throw this.#failure(`create topic "${spec.name}"`, error);
      }
    }
    const meta = existing ?? (await this.#awaitTopic(spec.name));
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
    return this.#retrying(() => this.#listTopics());
  }

  async #listTopics(): Promise<TopicInfo[]> {
    this.#checkOpen();
    let names: string[];
    try {
      names = await this.#admin.listTopics({ includeInternals: false });
    } catch (error) {
      throw this.#failure("list topics", error);
    }
    const infos: TopicInfo[] = [];
    for (const name of names.sort()) {
      const meta = await this.#meta(name, { missingOk: true, refresh: true });
      if (meta !== undefined) infos.push(await this.#describe(meta));
    }
    return infos;
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.#retrying(() => this.#describeTopic(topic));
  }

  async #describeTopic(topic: string): Promise<TopicInfo> {
    this.#checkOpen();
    return this.#describe(await this.#meta(topic, { refresh: true }));
  }

  produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    const run = this.#sending.then(() => this.#produce(topic, records));
    this.#sending = run.catch(() => undefined);
    return run;
  }

  async #produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    this.#checkOpen();
    const meta = await this.#meta(topic);
    if (records.length === 0) return [];
    // Validate and place the whole batch before sending any of it.
    const placed = new Array<number>(records.length);
    let stickyPartition = -1;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record.key !== null) checkRecordBytes(record.key, "key", topic);
      if (record.value !== null) checkRecordBytes(record.value, "value", topic);
      let partition = record.partition;
      if (partition !== undefined) checkPartition(topic, meta.partitions, partition);
      else if (record.key !== null) partition = partitionForKey(record.key, meta.partitions);
      else {
        if (stickyPartition < 0) stickyPartition = meta.sticky.nextBatchPartition(meta.partitions);
        partition = stickyPartition;
      }
      placed[i] = partition;
    }
    const positions: RecordPosition[] = new Array(records.length);
    const now = Date.now();
    const firstTimestamp = new Map<number, number>();
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      firstTimestamp.clear();
      while (
        end < records.length &&
        end - start < MAX_SEND_RECORDS &&
        (bytes < MAX_SEND_BYTES || end === start)
      ) {
        const timestamp = records[end].timestampMs ?? now;
        const first = firstTimestamp.get(placed[end]);
        if (first === undefined) firstTimestamp.set(placed[end], timestamp);
        else if (Math.abs(timestamp - first) > MAX_TIMESTAMP_DELTA_MS) break;
        bytes += recordBytes(records[end]);
        end++;
      }
      await this.#send(topic, records, placed, start, end, now, positions);
      start = end;
    }
    return positions;
  }

  async #send(
    topic: string,
    records: readonly ProduceRecord[],
    placed: readonly number[],
    start: number,
    end: number,
    nowMs: number,
    positions: RecordPosition[],
  ): Promise<void> {
    const now = BigInt(nowMs);
    const messages = [];
    for (let i = start; i < end; i++) {
      const record = records[i];
      const headers = new Map<Buffer, Buffer>();
      if (record.headers !== undefined) {
        for (const name of Object.keys(record.headers)) {
          headers.set(Buffer.from(name), asBuffer(record.headers[name]));
        }
      }
      messages.push({
        topic,
        partition: placed[i],
        key: record.key === null ? undefined : asBuffer(record.key),
        value: record.value === null ? undefined : asBuffer(record.value),
        headers,
        timestamp: record.timestampMs === undefined ? now : BigInt(record.timestampMs),
      });
    }
    const result = await this.#retryingSend(topic, messages);
    const next = new Map<number, number>();
    for (const { partition, offset } of result.offsets ?? []) next.set(partition, Number(offset));
    for (let i = start; i < end; i++) {
      const partition = placed[i];
      const offset = next.get(partition);
      if (offset === undefined) {
        throw new LogError(
          LogErrorCode.storage,
          `Kafka acknowledged the produce to "${topic}" without an offset for partition ${partition}.`,
        );
      }
      positions[i] = { partition, offset };
      next.set(partition, offset + 1);
    }
  }

  fetch(topic: string, partition: number, offset: number, options: FetchOptions = {}): Promise<LogRecord[]> {
    return this.#retrying(() => this.#fetch(topic, partition, offset, options));
  }

  async #fetch(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions,
  ): Promise<LogRecord[]> {
    this.#checkOpen();
    const meta = await this.#meta(topic);
    checkPartition(topic, meta.partitions, partition);
    const maxRecords = options.maxRecords ?? DEFAULT_FETCH_RECORDS;
    if (!Number.isInteger(offset) || offset < 0) {
      throw new LogError(
        LogErrorCode.badArgument,
        `fetch offset must be a non-negative integer, got ${offset}.`,
      );
    }
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw new LogError(
        LogErrorCode.badArgument,
        `fetch maxRecords must be a positive integer, got ${maxRecords}.`,
      );
    }
    const out: LogRecord[] = [];
    let from = offset;
    // A broker may answer with fewer batches than are there; ask again until the page is full or
    // reaches the high watermark, a bounded number of times.
    for (let round = 0; round < 8 && out.length < maxRecords; round++) {
      const answer = await this.#fetchOnce(meta, partition, from);
      if (answer === undefined) break;
      const { batches, highWatermark } = answer;
      from = answer.from;
      for (const batch of batches) {
        if ((batch.attributes & CONTROL_BATCH) !== 0) {
          from = Math.max(from, Number(batch.firstOffset) + batch.lastOffsetDelta + 1);
          continue;
        }
        const base = Number(batch.firstOffset);
        for (const record of batch.records) {
          const recordOffset = base + record.offsetDelta;
          if (recordOffset < from) continue;
          out.push({
            topic,
            partition,
            offset: recordOffset,
            key: record.key,
            value: record.value,
            headers: headersOf(record.headers),
            timestampMs: Number(batch.firstTimestamp + record.timestampDelta),
          });
          from = recordOffset + 1;
          if (out.length === maxRecords) return out;
        }
      }
      if (from >= highWatermark) break;
    }
    return out;
  }

  /**
   * One Fetch of a partition from `from`: its batches and high watermark, with `from` moved up to the low
   * watermark when retention deleted it; undefined when `from` is at or past the high watermark.
   */
  async #fetchOnce(
    meta: TopicMeta,
    partition: number,
    from: number,
  ): Promise<{ batches: RecordsBatch[]; highWatermark: number; from: number } | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const response = await this.#reader.fetch({
          node: meta.leaders[partition],
          maxWaitTime: this.#fetchMaxWaitMs,
          minBytes: 1,
          maxBytes: FETCH_PARTITION_MAX_BYTES,
          topics: [
            {
              topicId: meta.id,
              partitions: [
                {
                  partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: BigInt(from),
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: FETCH_PARTITION_MAX_BYTES,
                },
              ],
            },
          ],
        });
        const data = response.responses[0]?.partitions[0];
        if (data === undefined) return undefined;
        return { batches: data.records ?? [], highWatermark: Number(data.highWatermark), from };
      } catch (error) {
        if (hasApiError(error, "OFFSET_OUT_OF_RANGE")) {
          const [low, high] = await this.#watermarks(meta, partition);
          if (from < low) {
            from = low;
            continue;
          }
          if (from >= high) return undefined;
        }
        if (isStaleMetadata(error) && attempt < 2) {
          Object.assign(meta, await this.#meta(meta.name, { refresh: true }));
          continue;
        }
        throw this.#failure(`fetch "${meta.name}" partition ${partition} at offset ${from}`, error);
      }
    }
    return undefined;
  }

  commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    return this.#retrying(() => this.#commit(group, topic, offsets));
  }

  async #commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    this.#checkOpen();
    checkGroup(group);
    const meta = await this.#meta(topic);
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
      await this.#admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [
          {
            name: topic,
            partitionOffsets: offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })),
          },
        ],
      });
    } catch (error) {
      throw this.#failure(`commit offsets of group "${group}" on "${topic}"`, error);
    }
  }

  committed(group: string, topic: string): Promise<Map<number, number>> {
    return this.#retrying(() => this.#committed(group, topic));
  }

  async #committed(group: string, topic: string): Promise<Map<number, number>> {
    this.#checkOpen();
    checkGroup(group);
    await this.#meta(topic);
    const committed = new Map<number, number>();
    for (const [name, partition, offset] of await this.#groupOffsets(group)) {
      if (name === topic) committed.set(partition, offset);
    }
    return committed;
  }

  lag(group?: string): Promise<GroupTopicLag[]> {
    return this.#retrying(() => this.#lag(group));
  }

  async #lag(group?: string): Promise<GroupTopicLag[]> {
    this.#checkOpen();
    let groups: string[];
    if (group !== undefined) {
      checkGroup(group);
      groups = [group];
    } else {
      try {
        groups = [...(await this.#admin.listGroups()).keys()];
      } catch (error) {
        throw this.#failure("list consumer groups", error);
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
        const meta = await this.#meta(topic, { missingOk: true });
        if (meta === undefined) continue;
        const committed = byTopic.get(topic) ?? new Map<number, number>();
        const offsets = await this.#offsets(meta);
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

  async enforceRetention(nowMs: number = Date.now()): Promise<number> {
    this.#checkOpen();
    let deleted = 0;
    for (const info of await this.listTopics()) {
      const { maxAgeMs, maxSizeBytes } = info.retention;
      if (maxAgeMs === undefined && maxSizeBytes === undefined) continue;
      const meta = await this.#meta(info.name);
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
        await this.#admin.deleteRecords({ topics: [{ name: info.name, partitions: cutoffs }] });
      } catch (error) {
        throw this.#failure(`delete expired records of "${info.name}"`, error);
      }
    }
    return deleted;
  }

  async joinGroup(
    group: string,
    topics: readonly string[],
    options: JoinGroupOptions = {},
  ): Promise<GroupMember> {
    this.#checkOpen();
    checkGroup(group);
    for (const topic of topics) await this.#meta(topic);
    const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
    const heartbeatInterval = options.heartbeatIntervalMs ?? 1_000;
    const consumer = new Consumer({
      ...this.#base,
      groupId: group,
      sessionTimeout,
      heartbeatInterval,
      rebalanceTimeout: sessionTimeout,
    });
    const member = new KafkaGroupMember(
      group,
      consumer,
      (action, error) => this.#failure(action, error),
      () => this.#members.delete(member),
    );
    for (const topic of topics) consumer.topics.track(topic);
    try {
      await consumer.joinGroup({ sessionTimeout, heartbeatInterval, rebalanceTimeout: sessionTimeout });
    } catch (error) {
      await closeConsumer(consumer);
      throw this.#failure(`join consumer group "${group}"`, error);
    }
    member.joined();
    this.#members.add(member);
    return member;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#members].map((member) => member.leave()));
    await this.#sending;
    await Promise.allSettled([this.#producer.close(), closeConsumer(this.#reader), this.#admin.close()]);
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Runs `operation` again while Kafka is unreachable (a broker restart, a leader moving), backing off
   * from 200 ms to 2 s, for up to `unavailableRetryMs`; then the PULSE_LOG_UNAVAILABLE error surfaces.
   */
  async #retrying<T>(operation: () => Promise<T>): Promise<T> {
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

  /** One producer send, retried while the broker is unreachable; other failures are thrown at once. */
  #retryingSend(
    topic: string,
    messages: Parameters<Producer["send"]>[0]["messages"],
  ): Promise<Awaited<ReturnType<Producer["send"]>>> {
    return this.#retrying(async () => {
      try {
        return await this.#producer.send({ messages });
      } catch (error) {
        throw this.#failure(`produce to "${topic}"`, error);
      }
    });
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new LogError(LogErrorCode.closed, `The Kafka log (${this.brokers.join(",")}) is closed.`);
  }

  async #meta(topic: string, options: { missingOk: true; refresh?: boolean }): Promise<TopicMeta | undefined>;
  async #meta(topic: string, options?: { missingOk?: false; refresh?: boolean }): Promise<TopicMeta>;
  async #meta(
    topic: string,
    options: { missingOk?: boolean; refresh?: boolean } = {},
  ): Promise<TopicMeta | undefined> {
    const cached = this.#topics.get(topic);
    if (cached !== undefined && options.refresh !== true) return cached;
    let metadata: Awaited<ReturnType<Admin["metadata"]>>;
    try {
      metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true });
    } catch (error) {
      if (isUnknownTopic(error)) {
        this.#topics.delete(topic);
        if (options.missingOk === true) return undefined;
        throw unknownTopic(topic, this.brokers);
      }
      throw this.#failure(`read metadata of "${topic}"`, error);
    }
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
  async #awaitTopic(topic: string): Promise<TopicMeta> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const meta = await this.#meta(topic, { missingOk: true, refresh: true });
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

  async #describe(meta: TopicMeta): Promise<TopicInfo> {
    meta.retention ??= await this.#retention(meta);
    return {
      name: meta.name,
      partitions: meta.partitions,
      retention: { ...meta.retention },
      offsets: await this.#offsets(meta),
    };
  }

  /** The retention a topic's configs give; a compacted topic has none, whatever retention.ms says. */
  async #retention(meta: TopicMeta): Promise<RetentionPolicy> {
    let configs: Awaited<ReturnType<Admin["describeConfigs"]>>;
    try {
      configs = await this.#admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: meta.name,
            configurationKeys: ["retention.ms", "retention.bytes", "cleanup.policy"],
          },
        ],
      });
    } catch (error) {
      throw this.#failure(`describe topic "${meta.name}"`, error);
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

  async #offsets(meta: TopicMeta): Promise<PartitionOffsets[]> {
    const [low, high] = await Promise.all([
      this.#listOffsets(meta, TIMESTAMP_EARLIEST),
      this.#listOffsets(meta, TIMESTAMP_LATEST),
    ]);
    return low.map((lowWatermark, partition) => ({
      partition,
      lowWatermark,
      highWatermark: high[partition],
    }));
  }

  async #watermarks(meta: TopicMeta, partition: number): Promise<[number, number]> {
    const offsets = await this.#offsets(meta);
    return [offsets[partition].lowWatermark, offsets[partition].highWatermark];
  }

  async #listOffsets(meta: TopicMeta, timestamp: bigint): Promise<number[]> {
    try {
      const listed = await this.#reader.listOffsets({ topics: [meta.name], timestamp });
      return (listed.get(meta.name) ?? []).map(Number);
    } catch (error) {
      throw this.#failure(`list offsets of "${meta.name}"`, error);
    }
  }

  /** The first offset whose timestamp is at or after `timestampMs` (Kafka's ListOffsets by time), or `high`. */
  async #firstAtOrAfter(
    meta: TopicMeta,
    partition: number,
    timestampMs: number,
    high: number,
  ): Promise<number> {
    try {
      const listed = await this.#admin.listOffsets({
        topics: [
          { name: meta.name, partitions: [{ partitionIndex: partition, timestamp: BigInt(timestampMs) }] },
        ],
      });
      const offset = Number(listed[0]?.partitions[0]?.offset ?? -1);
      return offset < 0 ? high : offset;
    } catch (error) {
      throw this.#failure(`list offsets of "${meta.name}" by time`, error);
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
      const page = await this.fetch(meta.name, partition, offset, { maxRecords: 10_000 });
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

  /** Committed offsets of a group as (topic, partition, offset) triples; none when the group is unknown. */
  async #groupOffsets(group: string): Promise<[string, number, number][]> {
    let listed: Awaited<ReturnType<Admin["listConsumerGroupOffsets"]>>;
    try {
      listed = await this.#admin.listConsumerGroupOffsets({ groups: [group] });
    } catch (error) {
      throw this.#failure(`read committed offsets of group "${group}"`, error);
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

  /** A client failure as a LogError: unreachable brokers are retriable; the broker's own errors are named. */
  #failure(action: string, error: unknown): LogError {
    if (error instanceof LogError) return error;
    const brokers = this.brokers.join(",");
    if (isUnreachable(error)) {
      return new LogError(
        LogErrorCode.unavailable,
        `Kafka at ${brokers} is unreachable (${action}): ${describe(error)}. Check that the broker runs and that the log URL names it.`,
        { cause: error, retriable: true },
      );
    }
    if (isTransient(error)) {
      // A broker restarting or a leader moving: the metadata is stale; ask again after a pause.
      this.#topics.clear();
      return new LogError(
        LogErrorCode.unavailable,
        `Kafka at ${brokers} is not ready (${action}): ${describe(error)}; a broker is starting or a leader is moving.`,
        { cause: error, retriable: true },
      );
    }
    return new LogError(
      LogErrorCode.storage,
      `Kafka at ${brokers} failed to ${action}: ${describe(error)}.`,
      {
        cause: error,
        retriable: isRetriable(error),
      },
    );
  }
}

/**
 * A Kafka consumer-group membership (classic protocol, eager rebalancing): heartbeats run in the
 * background; when the coordinator starts a rebalance the member owns nothing until the new
 * assignment arrives, so a reader stops touching partitions that may move.
 */
class KafkaGroupMember implements GroupMember {
  readonly group: string;
  #generation = 0;
  #assignment = new Map<string, number[]>();
  #left = false;
  #whenReady: { promise: Promise<void>; resolve: () => void };
  readonly #consumer: Consumer;
  readonly #failure: (action: string, error: unknown) => LogError;
  readonly #onLeave: () => void;

  constructor(
    group: string,
    consumer: Consumer,
    failure: (action: string, error: unknown) => LogError,
    onLeave: () => void,
  ) {
    this.group = group;
    this.#consumer = consumer;
    this.#failure = failure;
    this.#onLeave = onLeave;
    this.#whenReady = deferred();
    consumer.on("consumer:group:rebalance", () => this.#revokeAll());
    consumer.on("consumer:group:join", () => this.joined());
    consumer.on("consumer:group:leave", () => this.#revokeAll());
  }

  get generation(): number {
    return this.#generation;
  }

  /** Takes the consumer's current assignment (after a join or sync). */
  joined(): void {
    const next = new Map<string, number[]>();
    for (const { topic, partitions } of this.#consumer.assignments ?? []) {
      next.set(
        topic,
        [...partitions].sort((a, b) => a - b),
      );
    }
    this.#assignment = next;
    this.#generation++;
    this.#whenReady.resolve();
  }

  #revokeAll(): void {
    if (this.#assignment.size === 0) return;
    this.#assignment = new Map();
    this.#generation++;
    this.#whenReady = deferred();
  }

  assigned(topic: string): number[] {
    return this.#assignment.get(topic) ?? [];
  }

  ready(): Promise<void> {
    return this.#whenReady.promise;
  }

  async commit(topic: string, offsets: readonly RecordPosition[]): Promise<void> {
    if (this.#left || offsets.length === 0) return;
    try {
      await this.#consumer.commit({
        offsets: offsets.map((o) => ({
          topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      });
    } catch (error) {
      throw this.#failure(`commit offsets of group "${this.group}" on "${topic}"`, error);
    }
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.#assignment = new Map();
    this.#generation++;
    this.#onLeave();
    await new Promise<void>((resolve) => this.#consumer.leaveGroup(true, () => resolve()));
    await closeConsumer(this.#consumer);
  }
}

/** Closes a consumer even with requests in flight; its errors do not matter any more. */
function closeConsumer(consumer: Consumer): Promise<void> {
  return new Promise((resolve) => consumer.close(true, () => resolve()));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
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

function unknownTopic(topic: string, brokers: readonly string[]): LogError {
  return new LogError(
    LogErrorCode.unknownTopic,
    `Topic "${topic}" does not exist on Kafka at ${brokers.join(",")}; create it first with ensureTopic({ name: "${topic}", partitions: N }).`,
    { details: { topic } },
  );
}

function headersOf(entries: readonly [Buffer | null, Buffer | null][]): RecordHeaders {
  const headers: RecordHeaders = {};
  for (const [name, value] of entries) {
    if (name === null) continue;
    headers[name.toString()] = value ?? Buffer.alloc(0);
  }
  return headers;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function recordBytes(record: ProduceRecord): number {
  let bytes = 64 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  if (record.headers !== undefined) {
    for (const name of Object.keys(record.headers)) bytes += name.length + record.headers[name].length;
  }
  return bytes;
}

/** The bytes retention.maxSizeBytes counts, as in the embedded log: key + value + header names and values. */
function storedBytes(record: LogRecord): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const name of Object.keys(record.headers))
    bytes += Buffer.byteLength(name) + record.headers[name].length;
  return bytes;
}

/** Every error the client reports, flattened out of its aggregates. */
function leaves(error: unknown): unknown[] {
  if (error instanceof MultipleErrors || error instanceof AggregateError) {
    return (error as AggregateError).errors.flatMap(leaves);
  }
  return [error];
}

function hasApiError(error: unknown, apiId: string): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.apiId === apiId);
}

function isUnknownTopic(error: unknown): boolean {
  return leaves(error).some(
    (e) =>
      (e instanceof GenericError &&
        (e.apiId === "UNKNOWN_TOPIC_OR_PARTITION" || e.apiId === "UNKNOWN_TOPIC_ID")) ||
      (e instanceof Error && /^Unknown topic /.test(e.message)),
  );
}

function isStaleMetadata(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.hasStaleMetadata === true);
}

function isUnreachable(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof NetworkError || e instanceof TimeoutError);
}

/** Kafka's errors that a restart or a leader election causes and that go away by themselves. */
const TRANSIENT_API_ERRORS = new Set([
  "UNKNOWN_LEADER_EPOCH",
  "FENCED_LEADER_EPOCH",
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_OR_FOLLOWER",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "REQUEST_TIMED_OUT",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "KAFKA_STORAGE_ERROR",
  "NETWORK_EXCEPTION",
  "BROKER_NOT_AVAILABLE",
  "REPLICA_NOT_AVAILABLE",
  "OFFSET_NOT_AVAILABLE",
  "THROTTLING_QUOTA_EXCEEDED",
]);

function isTransient(error: unknown): boolean {
  return leaves(error).some(
    (e) =>
      e instanceof GenericError &&
      ((typeof e.apiId === "string" && TRANSIENT_API_ERRORS.has(e.apiId)) || e.hasStaleMetadata === true),
  );
}

function isRetriable(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.canRetry === true);
}

function describe(error: unknown): string {
  const parts = leaves(error).map((e) => {
    if (e instanceof GenericError && typeof e.apiId === "string")
      return `${e.apiId}${e.serverErrorMessage ? ` (${e.serverErrorMessage})` : ""}`;
    return errorMessage(e).replace(/\.$/, "");
  });
  return [...new Set(parts)].join("; ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
