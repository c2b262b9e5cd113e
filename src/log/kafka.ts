// The Log over a real Apache Kafka cluster, through @platformatic/kafka (pure TypeScript, maintained, Kafka 3.5-4.1).

import {
  Admin,
  type API,
  type Broker,
  ConfigResourceTypes,
  type Connection,
  Consumer,
  compressionsAlgorithms,
  compressionsAlgorithmsByBitmask,
  createAPI,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  crc32c as clientCrc32c,
  GenericError,
  kGetApi,
  kGetConnection,
  MultipleErrors,
  NetworkError,
  Producer,
  type ProducerInfo,
  produceV9,
  produceV10,
  produceV11,
  type Reader,
  type RequestCreator,
  ResponseError,
  TimeoutError,
  Writer,
} from "@platformatic/kafka";
import { createRequire } from "node:module";
import { LogError, LogErrorCode } from "../errors.ts";
import { decompress as zstdDecompress } from "fzstd";
import { errorMessage } from "../sqlite/open-file.ts";
import {
  type FetchOptions,
  type GroupMember,
  type GroupTopicLag,
  type JoinGroupOptions,
  KAFKA_COMPRESSIONS,
  type KafkaCompression,
  type Log,
  type LogRecord,
  NO_HEADERS,
  type PartitionLag,
  type PartitionOffsets,
  type ProduceRecord,
  type RecordHeaders,
  type RecordPosition,
  type RetentionPolicy,
  type TopicInfo,
  type TopicSpec,
} from "./index.ts";
import { headerName, LastHeaders } from "./header-names.ts";
import { partitionForKey, StickyPartitioner } from "./partitioner.ts";
import { checkGroup, checkPartition, checkRecordBytes, validateTopicSpec } from "./validate.ts";
import { uvarintSize, writeUvarint, zigzag } from "./varint.ts";
import { asBuffer } from "../bytes.ts";

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
/**
 * Records and bytes of one partition's batch in a produce request, bounded so it stays far below the
 * broker's max.message.bytes (1 MiB by default); one request carries a batch for each partition.
 */
const MAX_SEND_RECORDS = 2_000;
const MAX_SEND_BYTES = 512 * 1024;
/** Bytes of one produce request over all its partitions. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** Produce response parsers by version; 9 to 11 share one request layout (createProduceRequest). */
const PRODUCE_PARSERS: Readonly<Record<number, ProduceApiParser>> = {
  9: produceV9.parseResponse,
  10: produceV10.parseResponse,
  11: produceV11.parseResponse,
};
/** Errors after which the producer id's sequence numbers no longer line up: start a new producer id. */
const SEQUENCE_RESET_ERRORS = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
  "PRODUCER_FENCED",
]);
/**
 * A record stores its timestamp as a varint delta from its batch's first timestamp. The client's
 * 64-bit varint writer (@platformatic/dynamic-buffer 0.3.1) mis-encodes deltas of 2^31 ms (24.8 days)
 * or more, so a send never puts records further apart than that into one partition's batch.
 */
const MAX_TIMESTAMP_DELTA_MS = 2 ** 31 - 1;
/**
 * Most bytes one Fetch answers with for a partition: Kafka's consumer default (max.partition.fetch.bytes).
 * Records are views into the answer, so an answer stays in memory while any of its records is referenced
 * (read ahead, or in a batch not yet committed): with 4 MiB a partition and 16 MiB an answer, a drain of
 * 300k events peaked at 370–420 MB RSS; with 1 MiB and 8 MiB at 280–330 MB, as fast.
 */
const FETCH_PARTITION_MAX_BYTES = 1024 * 1024;
/** Most bytes one Fetch answers with, over all its partitions (the broker always sends the first batch). */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** A partition this log read within this long is read ahead on when another partition is fetched. */
const READ_AHEAD_RECENT_MS = 10_000;
/** Fetch isolation level: records of open or aborted transactions stay hidden, as before. */
const READ_COMMITTED = 1;
/** Fetch request writers by version; 13 to 17 share one response layout (topic ids, not names). */
const FETCH_REQUESTS: Readonly<Record<number, RequestCreator>> = {
  13: fetchV13.createRequest,
  14: fetchV14.createRequest,
  15: fetchV15.createRequest,
  16: fetchV16.createRequest,
  17: fetchV17.createRequest,
};
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
    return asBuffer(out);
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
  /** Where each broker listens, by node id, from the last metadata read. */
  readonly #brokers = new Map<number, Broker>();
  /** Per topic: the partitions this log has read, each with its read position and records fetched ahead. */
  readonly #reads = new Map<string, { topicId: string; partitions: Map<number, PartitionReadState> }>();
  readonly #fetchApiMemo = new Memo<FetchApi>();
  readonly #produceApiMemo = new Memo<ProduceApi>();
  /** The idempotent producer's id and epoch, and the next sequence number of each partition it wrote. */
  readonly #producerInfo = new Memo<ProducerInfo>();
  readonly #sequences = new Map<string, number>();
  /** Produce calls run one at a time, so positions follow call order per partition. */
  #sending: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #compression: KafkaCompression;

  private constructor(options: KafkaLogOptions) {
    if (options.brokers.length === 0) {
      throw new LogError(
        LogErrorCode.badArgument,
        "KafkaLog needs at least one bootstrap broker (host:port).",
      );
    }
    this.brokers = [...options.brokers];
    const compression = options.compression ?? "none";
    const unavailable = compressionUnavailable(compression);
    if (unavailable !== undefined) throw new LogError(LogErrorCode.badArgument, `KafkaLog: ${unavailable}.`);
    this.#compression = compression;
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
    // An unknown topic is an answer for the admin (ensureTopic asks before creating one, and polls for a
    // new one itself): retried at the client's 250 ms, each such question took 1.25 s.
    this.#admin = new Admin({
      ...base,
      retryDelay: (_client, _operation, _attempt, _retries, error) =>
        isUnknownTopic(error) ? 0 : base.retryDelay,
    });
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
    // Per partition in the request being filled: first timestamp, records and bytes.
    const firstTimestamp = new Map<number, number>();
    const counts = new Map<number, number>();
    const sizes = new Map<number, number>();
    let start = 0;
    while (start < records.length) {
      let end = start;
      let requestBytes = 0;
      firstTimestamp.clear();
      counts.clear();
      sizes.clear();
      while (end < records.length) {
        const partition = placed[end];
        const timestamp = records[end].timestampMs ?? now;
        const bytes = recordBytes(records[end]);
        const count = counts.get(partition) ?? 0;
        const size = sizes.get(partition) ?? 0;
        const first = firstTimestamp.get(partition);
        if (
          end > start &&
          (count >= MAX_SEND_RECORDS ||
            (count > 0 && size + bytes > MAX_SEND_BYTES) ||
            requestBytes + bytes > MAX_REQUEST_BYTES ||
            (first !== undefined && Math.abs(timestamp - first) > MAX_TIMESTAMP_DELTA_MS))
        ) {
          break;
        }
        if (first === undefined) firstTimestamp.set(partition, timestamp);
        counts.set(partition, count + 1);
        sizes.set(partition, size + bytes);
        requestBytes += bytes;
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
    const byPartition = new Map<number, number[]>();
    for (let i = start; i < end; i++) {
      const indexes = byPartition.get(placed[i]);
      if (indexes === undefined) byPartition.set(placed[i], [i]);
      else indexes.push(i);
    }
    // A retry sends the same batches with the same sequence numbers, so the broker keeps each once.
    const baseOffsets = await this.#retrying(async () => {
      try {
        return await this.#sendBatches(topic, records, byPartition, nowMs);
      } catch (error) {
        throw this.#failure(`produce to "${topic}"`, error);
      }
    });
    for (const [partition, indexes] of byPartition) {
      const base = baseOffsets.get(partition);
      if (base === undefined) {
        throw new LogError(
          LogErrorCode.storage,
          `Kafka acknowledged the produce to "${topic}" without an offset for partition ${partition}.`,
        );
      }
      for (let k = 0; k < indexes.length; k++) positions[indexes[k]] = { partition, offset: base + k };
    }
  }

  /**
   * One record batch per partition, one Produce request per leader, as the idempotent producer: each
   * batch carries the producer id and the partition's next sequence number, which move on only once
   * every request of the call is acknowledged. Answers each partition's base offset.
   */
  async #sendBatches(
    topic: string,
    records: readonly ProduceRecord[],
    byPartition: ReadonlyMap<number, readonly number[]>,
    nowMs: number,
  ): Promise<Map<number, number>> {
    const meta = await this.#meta(topic);
    const [api, producer] = await Promise.all([this.#produceApi(), this.#idempotentProducer()]);
    const byLeader = new Map<number, { partition: number; bytes: Buffer }[]>();
    for (const [partition, indexes] of byPartition) {
      const leader = meta.leaders[partition]!;
      const batch = encodeRecordBatch(
        records,
        indexes,
        nowMs,
        producer,
        this.#sequences.get(`${topic}:${partition}`) ?? 0,
        this.#compression,
      );
      const batches = byLeader.get(leader);
      if (batches === undefined) byLeader.set(leader, [{ partition, bytes: batch }]);
      else batches.push({ partition, bytes: batch });
    }
    const baseOffsets = new Map<number, number>();
    try {
      await Promise.all(
        [...byLeader].map(async ([leader, batches]) => {
          const connection = await this.#connection(this.#producer, leader);
          const response = await new Promise<ProduceResponse>((resolve, reject) =>
            api(connection, -1, this.#base.timeout, topic, batches, (error, answer) =>
              error ? reject(error) : resolve(answer!),
            ),
          );
          for (const answer of response.responses) {
            for (const p of answer.partitionResponses) baseOffsets.set(p.index, Number(p.baseOffset));
          }
        }),
      );
    } catch (error) {
      if (
        leaves(error).some((e) => e instanceof GenericError && SEQUENCE_RESET_ERRORS.has(String(e.apiId)))
      ) {
        this.#producerInfo.clear();
        this.#sequences.clear();
      }
      throw error;
    }
    for (const [partition, indexes] of byPartition) {
      const key = `${topic}:${partition}`;
      // Sequence numbers wrap at 2^31, as the broker expects.
      this.#sequences.set(key, ((this.#sequences.get(key) ?? 0) + indexes.length) % 2 ** 31);
    }
    return baseOffsets;
  }

  /** The idempotent producer id (InitProducerId), asked for once and again after a sequence reset. */
  #idempotentProducer(): Promise<ProducerInfo> {
    return this.#producerInfo.get(() => this.#producer.initIdempotentProducer({}));
  }

  /** Produce with the version the brokers and the client agree on, written by createProduceRequest. */
  #produceApi(): Promise<ProduceApi> {
    return this.#produceApiMemo.get(() =>
      this.#negotiated(
        this.#producer,
        "Produce",
        "writes with versions 9 to 11 (Kafka 2.8 or later)",
        (version) => {
          const parse = PRODUCE_PARSERS[version];
          return parse === undefined ? undefined : createAPI(0, version, createProduceRequest, parse);
        },
      ),
    );
  }

  /**
   * An API of `client` in the version the brokers and the client agree on, built by `build`; a version
   * Pulse has no encoder or parser for (undefined) is refused with what Pulse supports.
   */
  #negotiated<T>(
    client: Producer | Consumer,
    name: "Produce" | "Fetch",
    supported: string,
    build: (version: number) => T | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      client[kGetApi](name, (error, api) => {
        if (error) {
          reject(error);
          return;
        }
        const built = build(api!.version);
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
  #connection(client: Producer | Consumer, node: number): Promise<Connection> {
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
    const state = this.#readState(meta, partition);
    const out: LogRecord[] = [];
    // Records an earlier Fetch brought along serve the call first, when they cover where it starts.
    let from = takeAhead(state, offset, maxRecords, out);
    // A broker may answer with fewer batches than are there; ask again until the page is full or
    // reaches the high watermark, a bounded number of times.
    for (let round = 0; round < 8 && out.length < maxRecords; round++) {
      const answer = await this.#fetchOnce(meta, state, from);
      if (answer === undefined) break;
      const { records } = answer;
      const exhausted = records.take(out, maxRecords);
      from = records.start;
      if (!exhausted) {
        // The page is full: keep the rest for the next call, which usually starts right there.
        state.ahead = records;
        break;
      }
      from = Math.max(from, records.end);
      if (from >= answer.highWatermark) break;
    }
    state.nextOffset = from;
    state.usedAtMs = Date.now();
    return out;
  }

  position(topic: string, partition: number): number | undefined {
    const offset = this.#reads.get(topic)?.partitions.get(partition)?.nextOffset;
    return offset === undefined || offset < 0 ? undefined : offset;
  }

  /** This log's read position on a partition, and the records fetched ahead for it. */
  #readState(meta: TopicMeta, partition: number): PartitionReadState {
    let states = this.#reads.get(meta.name);
    if (states === undefined || states.topicId !== meta.id) {
      // A new topic under this name (deleted and created again): nothing read before applies.
      states = { topicId: meta.id, partitions: new Map() };
      this.#reads.set(meta.name, states);
    }
    let state = states.partitions.get(partition);
    if (state === undefined) {
      state = { partition, nextOffset: -1, usedAtMs: 0, ahead: undefined };
      states.partitions.set(partition, state);
    }
    return state;
  }

  /**
   * One Fetch of a partition from `from`: its records at `from` or later and its high watermark, with
   * `start` moved up to the low watermark when retention deleted `from`; undefined when `from` is at or
   * past the high watermark. The same request reads ahead on the topic's other partitions this log has
   * read lately (and holds nothing fetched for), so a reader going round the partitions pays one round
   * trip for all of them, as Kafka's own consumers do.
   */
  async #fetchOnce(
    meta: TopicMeta,
    state: PartitionReadState,
    from: number,
  ): Promise<{ records: FetchedRecords; highWatermark: number } | undefined> {
    const partition = state.partition;
    for (let attempt = 0; attempt < 3; attempt++) {
      const leader = meta.leaders[partition]!;
      const ahead = this.#readAheadCandidates(meta, partition, leader);
      const aheadFrom = ahead.map((s) => s.nextOffset);
      let answer: FetchAnswer;
      try {
        answer = await this.#fetchRequest(leader, [
          {
            topicId: meta.id,
            partitions: [partition, ...ahead.map((s) => s.partition)].map((p, i) => ({
              partition: p,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(i === 0 ? from : aheadFrom[i - 1]!),
              lastFetchedEpoch: -1,
              partitionMaxBytes: FETCH_PARTITION_MAX_BYTES,
            })),
          },
        ]);
      } catch (error) {
        if (isStaleMetadata(error) && attempt < 2) {
          Object.assign(meta, await this.#meta(meta.name, { refresh: true }));
          continue;
        }
        throw this.#failure(`fetch "${meta.name}" partition ${partition} at offset ${from}`, error);
      }
      const fetched = answer.topics.find((t) => t.topicId === meta.id)?.partitions ?? [];
      for (let i = 0; i < ahead.length; i++) {
        const other = ahead[i]!;
        const start = aheadFrom[i]!;
        const data = fetched.find((d) => d.partition === other.partition);
        // Only when nothing moved that partition meanwhile (a concurrent call on it).
        if (data === undefined || data.errorCode !== 0) continue;
        if (other.ahead !== undefined || other.nextOffset !== start) continue;
        const records = new FetchedRecords(meta.name, other.partition, data, start);
        if (records.end > start) other.ahead = records;
      }
      const data = fetched.find((d) => d.partition === partition);
      if (data === undefined) return undefined;
      if (data.errorCode !== 0) {
        const error = new ResponseError(
          1,
          answer.version,
          { [`/responses/0/partitions/${partition}`]: [data.errorCode, null] },
          answer,
        );
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
      return {
        records: new FetchedRecords(meta.name, partition, data, from),
        highWatermark: data.highWatermark,
      };
    }
    return undefined;
  }

  /** The topic's other partitions worth reading ahead on with a Fetch of `partition` from `leader`. */
  #readAheadCandidates(meta: TopicMeta, partition: number, leader: number): PartitionReadState[] {
    const states = this.#reads.get(meta.name);
    if (states === undefined || states.topicId !== meta.id) return [];
    const recentMs = Date.now() - READ_AHEAD_RECENT_MS;
    const out: PartitionReadState[] = [];
    for (const state of states.partitions.values()) {
      if (
        state.partition !== partition &&
        state.ahead === undefined &&
        state.nextOffset >= 0 &&
        state.usedAtMs >= recentMs &&
        state.partition < meta.partitions &&
        meta.leaders[state.partition] === leader
      ) {
        out.push(state);
      }
    }
    return out;
  }

  /**
   * Sends one Fetch to `node` and answers with each partition's record bytes undecoded. The client's own
   * fetch decodes every record of the answer into objects through its chunked buffer, which cost more
   * than the rest of `pulse stream` together (docs: bench/README.md); here the bytes stay one Buffer and
   * FetchedRecords reads them.
   */
  async #fetchRequest(node: number, topics: FetchRequestTopic[]): Promise<FetchAnswer> {
    const api = await this.#fetchApi();
    const connection = await this.#connection(this.#reader, node);
    return new Promise<FetchAnswer>((resolve, reject) =>
      api(
        connection,
        this.#fetchMaxWaitMs,
        1,
        FETCH_MAX_BYTES,
        READ_COMMITTED,
        0,
        0,
        topics,
        [],
        "",
        (error: Error | null, answer?: FetchAnswer) => (error ? reject(error) : resolve(answer!)),
      ),
    );
  }

  /** Fetch with the version the brokers and the client agree on, answering with undecoded record bytes. */
  #fetchApi(): Promise<FetchApi> {
    return this.#fetchApiMemo.get(() =>
      this.#negotiated(
        this.#reader,
        "Fetch",
        "reads with versions 13 to 17 (Kafka 3.1 or later)",
        (version) => {
          const createRequest = FETCH_REQUESTS[version];
          return createRequest === undefined
            ? undefined
            : createAPI(1, version, createRequest, parseFetchResponse);
        },
      ),
    );
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

  async enforceRetention(nowMs: number = Date.now(), topics?: readonly string[]): Promise<number> {
    this.#checkOpen();
    let deleted = 0;
    try {
      deleted = await this.#enforceRetention(nowMs, topics === undefined ? undefined : new Set(topics));
    } finally {
      // Records fetched ahead may lie below the new low watermarks.
      this.#reads.clear();
    }
    return deleted;
  }

  async #enforceRetention(nowMs: number, only: ReadonlySet<string> | undefined): Promise<number> {
    let deleted = 0;
    for (const info of await this.listTopics()) {
      if (only !== undefined && !only.has(info.name)) continue;
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
    if (isTransient(error) || isUnparsable(error)) {
      // A broker restarting or a leader moving: the metadata is stale; ask again after a pause. The
      // client cannot parse some error answers a restarting Kafka 4 broker sends to Produce (its reader
      // runs out of bounds); they come and go with the restart, so they are treated the same way.
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
 * assignment arrives, so a reader stops touching partitions that may move. When the client gives up
 * rejoining the group (its retries spent), the membership is lost: ready() rejects with the reason
 * instead of waiting for an assignment that will not come. Exported for its unit tests.
 */
export class KafkaGroupMember implements GroupMember {
  readonly group: string;
  #generation = 0;
  #assignment = new Map<string, number[]>();
  #left = false;
  #lost: LogError | undefined;
  #whenReady: Deferred;
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
    // The client emits "error" when rejoining the group failed for good; unheard, it would crash the process.
    consumer.on("error", (error: unknown) => this.#lose(error));
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
    return this.#lost === undefined ? this.#whenReady.promise : Promise.reject(this.#lost);
  }

  #lose(error: unknown): void {
    if (this.#left || this.#lost !== undefined) return;
    const reason = this.#failure(`rejoin consumer group "${this.group}"`, error);
    this.#lost = new LogError(
      LogErrorCode.unavailable,
      `This process lost its membership of consumer group "${this.group}" and could not rejoin it: ${reason.message} Restart it; its partitions resume from their checkpoints.`,
      { cause: error },
    );
    this.#assignment = new Map();
    this.#generation++;
    this.#whenReady.reject(this.#lost);
    // Nobody may be waiting yet: the rejection is also returned by every later ready().
    this.#whenReady.promise.catch(() => undefined);
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

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve = () => {};
  let reject = (_error: Error) => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type ProduceApiParser = (
  correlationId: number,
  apiKey: number,
  apiVersion: number,
  reader: Reader,
) => ProduceResponse;
type ProduceResponse = produceV11.ProduceResponse;
type ProduceApi = API<
  [acks: number, timeoutMs: number, topic: string, batches: { partition: number; bytes: Buffer }[]],
  ProduceResponse
>;

/*
 * Produce request, versions 9 to 11 (flexible: compact strings and arrays, tagged fields after each):
 *   transactional_id:compact_nullable_string acks:i16 timeout_ms:i32
 *   [name:compact_string [index:i32 records:compact_bytes]]
 * Each partition's records are one record batch from encodeRecordBatch, appended as it is.
 */
function createProduceRequest(
  acks: number,
  timeoutMs: number,
  topic: string,
  batches: { partition: number; bytes: Buffer }[],
): Writer {
  return Writer.create()
    .appendString(null)
    .appendInt16(acks)
    .appendInt32(timeoutMs)
    .appendArray([topic], (w, name) => {
      w.appendString(name).appendArray(batches, (w, batch) => {
        w.appendInt32(batch.partition)
          .appendUnsignedVarInt(batch.bytes.length + 1)
          .append(batch.bytes);
      });
    })
    .appendTaggedFields();
}

/** Header names as UTF-8, encoded once per name. */
const headerNameBytes = new Map<string, Buffer>();

function nameBytes(name: string): Buffer {
  let bytes = headerNameBytes.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name);
    if (headerNameBytes.size < 1024) headerNameBytes.set(name, bytes);
  }
  return bytes;
}

/**
 * One record batch (the magic-2 layout above FetchedRecords) of `records[indexes]`, written into
 * one Buffer: sizes first, then every field in place, then, compressed, the records region replaced by
 * its codec's block (attributes naming the codec), then the CRC-32C of attributes…end.
 */
export function encodeRecordBatch(
  records: readonly ProduceRecord[],
  indexes: readonly number[],
  nowMs: number,
  producer: ProducerInfo,
  baseSequence: number,
  compression: KafkaCompression = "none",
): Buffer {
  const count = indexes.length;
  const baseTimestampMs = records[indexes[0]!]!.timestampMs ?? nowMs;
  let maxTimestampMs = baseTimestampMs;
  const bodySizes = new Array<number>(count);
  let total = BATCH_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    const record = records[indexes[k]!]!;
    const timestampMs = record.timestampMs ?? nowMs;
    if (timestampMs > maxTimestampMs) maxTimestampMs = timestampMs;
    let size = 1 + uvarintSize(zigzag(timestampMs - baseTimestampMs)) + uvarintSize(zigzag(k));
    size += record.key === null ? 1 : uvarintSize(zigzag(record.key.length)) + record.key.length;
    size += record.value === null ? 1 : uvarintSize(zigzag(record.value.length)) + record.value.length;
    const headers = record.headers;
    let headerCount = 0;
    if (headers !== undefined) {
      for (const name in headers) {
        const nameLength = nameBytes(name).length;
        const valueLength = headers[name].length;
        size += uvarintSize(zigzag(nameLength)) + nameLength + uvarintSize(zigzag(valueLength)) + valueLength;
        headerCount++;
      }
    }
    size += uvarintSize(zigzag(headerCount));
    bodySizes[k] = size;
    total += uvarintSize(zigzag(size)) + size;
  }
  const out = Buffer.allocUnsafe(total);
  out.writeBigInt64BE(0n, 0);
  out.writeInt32BE(total - 12, BATCH_LENGTH_AT);
  out.writeInt32BE(-1, 12);
  out.writeInt8(2, BATCH_MAGIC_AT);
  out.writeInt16BE(0, BATCH_ATTRIBUTES_AT);
  out.writeInt32BE(count - 1, BATCH_LAST_OFFSET_DELTA_AT);
  out.writeBigInt64BE(BigInt(baseTimestampMs), BATCH_BASE_TIMESTAMP_AT);
  out.writeBigInt64BE(BigInt(maxTimestampMs), BATCH_BASE_TIMESTAMP_AT + 8);
  out.writeBigInt64BE(producer.producerId, BATCH_PRODUCER_ID_AT);
  out.writeInt16BE(producer.producerEpoch, BATCH_PRODUCER_ID_AT + 8);
  out.writeInt32BE(baseSequence, BATCH_PRODUCER_ID_AT + 10);
  out.writeInt32BE(count, BATCH_RECORD_COUNT_AT);
  let at = BATCH_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    const record = records[indexes[k]!]!;
    at = writeUvarint(out, at, zigzag(bodySizes[k]!));
    out[at++] = 0;
    at = writeUvarint(out, at, zigzag((record.timestampMs ?? nowMs) - baseTimestampMs));
    at = writeUvarint(out, at, zigzag(k));
    at = writeBytes(out, at, record.key);
    at = writeBytes(out, at, record.value);
    const headers = record.headers;
    if (headers === undefined) {
      out[at++] = 0;
      continue;
    }
    const names = Object.keys(headers);
    at = writeUvarint(out, at, zigzag(names.length));
    for (const name of names) {
      at = writeBytes(out, at, nameBytes(name));
      at = writeBytes(out, at, headers[name]);
    }
  }
  const batch = compression === "none" ? out : compressRecords(out, compression);
  batch.writeUInt32BE(crc32c(batch.subarray(BATCH_ATTRIBUTES_AT)), BATCH_CRC_AT);
  return batch;
}

/** The batch with its records region (after the 61-byte header) compressed with `compression`. */
function compressRecords(batch: Buffer, compression: Exclude<KafkaCompression, "none">): Buffer {
  const algorithm = compressionsAlgorithms[compression];
  const block = algorithm.compressSync(batch.subarray(BATCH_HEADER_BYTES));
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + block.length);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  out.set(block, BATCH_HEADER_BYTES);
  out.writeInt32BE(out.length - 12, BATCH_LENGTH_AT);
  out.writeInt16BE(algorithm.bitmask, BATCH_ATTRIBUTES_AT);
  return out;
}

function writeBytes(out: Buffer, at: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    out[at] = 1;
    return at + 1;
  }
  at = writeUvarint(out, at, zigzag(bytes.length));
  out.set(bytes, at);
  return at + bytes.length;
}

/** A partition this log reads: where the last fetch ended, and records the broker sent ahead of time. */
interface PartitionReadState {
  partition: number;
  /** The offset after the last fetch's page; -1 before the first. */
  nextOffset: number;
  usedAtMs: number;
  /**
   * An earlier answer not all handed out: it holds every record the partition has from its `start` to
   * its `end` (exclusive; control and aborted batches skipped), in offset order.
   */
  ahead: FetchedRecords | undefined;
}

type FetchRequestTopic = fetchV17.FetchRequestTopic;

/** One partition of a Fetch answer, its records still bytes. */
export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[];
  /** The partition's record batches as the broker sent them; the last one may be cut short. */
  records: Buffer | undefined;
}

interface FetchAnswer {
  version: number;
  topics: { topicId: string; partitions: FetchedPartition[] }[];
}

type FetchApi = API<
  [
    maxWaitMs: number,
    minBytes: number,
    maxBytes: number,
    isolationLevel: number,
    sessionId: number,
    sessionEpoch: number,
    topics: FetchRequestTopic[],
    forgottenTopicsData: [],
    rackId: string,
  ],
  FetchAnswer
>;

/**
 * Hands out the records fetched ahead for a partition from `from` on, when they cover `from`; drops
 * them when the read went elsewhere. Returns where the call goes on reading.
 */
function takeAhead(state: PartitionReadState, from: number, maxRecords: number, out: LogRecord[]): number {
  const ahead = state.ahead;
  if (ahead === undefined) return from;
  if (from < ahead.start || from > ahead.end) {
    state.ahead = undefined;
    return from;
  }
  ahead.start = from;
  const exhausted = ahead.take(out, maxRecords);
  from = ahead.start;
  if (exhausted) {
    state.ahead = undefined;
    from = Math.max(from, ahead.end);
  }
  return from;
}

/*
 * Fetch response, versions 13 to 17 (flexible: compact arrays, tagged fields after each element):
 *   throttle_time_ms:i32 error_code:i16 session_id:i32 [topic_id:uuid [partition_index:i32 error_code:i16
 *   high_watermark:i64 last_stable_offset:i64 log_start_offset:i64 [producer_id:i64 first_offset:i64]
 *   preferred_read_replica:i32 records:compact_bytes]]
 * The client's own parser for it, minus decoding the records.
 */
function parseFetchResponse(
  _correlationId: number,
  apiKey: number,
  apiVersion: number,
  reader: Reader,
): FetchAnswer {
  reader.readInt32();
  const errorCode = reader.readInt16();
  reader.readInt32();
  const topics = reader.readArray((r) => ({
    topicId: r.readUUID(),
    partitions: r.readArray((r): FetchedPartition => {
      const partition = r.readInt32();
      const errorCode = r.readInt16();
      const highWatermark = Number(r.readInt64());
      r.readInt64();
      r.readInt64();
      const abortedTransactions = r.readArray((r) => ({
        producerId: r.readInt64(),
        firstOffset: r.readInt64(),
      }));
      r.readInt32();
      const size = r.readUnsignedVarInt() - 1;
      let records: Buffer | undefined;
      if (size > 0) {
        // One Buffer: a view when the bytes arrived in one socket chunk, else one copy.
        records = r.buffer.slice(r.position, r.position + size);
        r.skip(size);
      }
      return { partition, errorCode, highWatermark, abortedTransactions, records };
    }),
  }));
  if (errorCode !== 0) throw new ResponseError(apiKey, apiVersion, { "": [errorCode, null] }, { errorCode });
  return { version: apiVersion, topics };
}

/*
 * Record batch, magic 2 (integers big-endian; byte positions in brackets):
 *   base_offset:i64[0] batch_length:i32[8] partition_leader_epoch:i32[12] magic:i8[16] crc:u32[17]
 *   attributes:i16[21] last_offset_delta:i32[23] base_timestamp:i64[27] max_timestamp:i64[35]
 *   producer_id:i64[43] producer_epoch:i16[51] base_sequence:i32[53] record_count:i32[57] records[61…]
 * batch_length counts the bytes after itself. attributes & 7 is the codec the records are compressed
 * with (as one block), & 0x10 marks a transactional batch, & 0x20 a control batch (commit/abort markers).
 *   record := length:varint attributes:i8 timestamp_delta:varlong offset_delta:varint
 *             key_length:varint key value_length:varint value header_count:varint
 *             (name_length:varint name value_length:varint value){header_count}
 * varint/varlong are zigzag LEB128; a length of -1 is null. An answer may end in a cut-off batch, which
 * the next fetch gets whole.
 */
const BATCH_HEADER_BYTES = 61;
const BATCH_LENGTH_AT = 8;
const BATCH_MAGIC_AT = 16;
const BATCH_CRC_AT = 17;
const BATCH_ATTRIBUTES_AT = 21;
const BATCH_LAST_OFFSET_DELTA_AT = 23;
const BATCH_BASE_TIMESTAMP_AT = 27;
const BATCH_PRODUCER_ID_AT = 43;
const BATCH_RECORD_COUNT_AT = 57;
const TRANSACTIONAL_BATCH = 0x10;
const COMPRESSION_MASK = 0x07;
const ABORT_MARKER = 0;
const NO_BYTES = Buffer.alloc(0);

/** Reads one buffer of records; key, value and header values are views into it, not copies. */
class RecordReader {
  buf: Buffer;
  pos: number;

  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }

  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos++]!;
    let raw = b & 0x7f;
    let shift = 7;
    while (b & 0x80) {
      b = buf[this.pos++]!;
      raw |= (b & 0x7f) << shift;
      shift += 7;
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong as a number (exact up to 2^53, e.g. any timestamp delta). */
  varlong(): number {
    const buf = this.buf;
    let raw = 0;
    let scale = 1;
    let b: number;
    do {
      b = buf[this.pos++]!;
      raw += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** view() as a Buffer, for header values and control records. */
  bytes(): Buffer | null {
    const view = this.view();
    return view === null ? null : asBuffer(view);
  }

  /** A nullable bytes field as a plain Uint8Array view, as record keys and values are (see LogRecord). */
  view(): Uint8Array | null {
    const length = this.varint();
    if (length < 0) return null;
    const start = this.pos;
    this.pos += length;
    const buf = this.buf;
    return new Uint8Array(buf.buffer, buf.byteOffset + start, length);
  }
}

/**
 * CRC-32C of a view, as an unsigned number. @node-rs/crc32 (an optional dependency, native, 0.4 ms a
 * MiB here) when it is installed; else the client's (WebAssembly, 1.4 ms a MiB). The client picks the
 * native one too, but copies every input first.
 */
const crc32c: (bytes: Uint8Array) => number = (() => {
  try {
    const native = (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c(input: Uint8Array): number })
      .crc32c;
    return (bytes: Uint8Array) => native(bytes) >>> 0;
  } catch {
    return (bytes: Uint8Array) => clientCrc32c(asBuffer(bytes)) >>> 0;
  }
})();

/** Where the batch at `at` ends, or −1 when no whole batch starts there (the broker may cut the last one short). */
function wholeBatchEnd(buf: Buffer, at: number): number {
  if (buf.length - at < BATCH_HEADER_BYTES) return -1;
  const end = at + 12 + buf.readInt32BE(at + BATCH_LENGTH_AT);
  return end <= buf.length ? end : -1;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
}

/**
 * One partition's fetched batches, decoded into records only as they are handed out. A Fetch brings a
 * page of every partition it reads ahead on, and the stream job takes them a few thousand records at a
 * time over several batches: records decoded up front outlived young-generation collections and were
 * copied into the old one (on a 300k drain the heap grew from 20 to 110 MB between full collections).
 * The answer's bytes stay alive instead, which the collector never scans.
 */
export class FetchedRecords {
  readonly #topic: string;
  readonly #partition: number;
  readonly #buf: Buffer | undefined;
  /** The next batch's position in #buf. */
  #at = 0;
  /** The batch being handed out: its records region, what is left of it, and its base values. */
  #reader: RecordReader | undefined;
  #remaining = 0;
  #baseOffset = 0;
  #baseTimestampMs = 0;
  /** READ_COMMITTED: the answer's aborted transactions by first offset, and the producers now aborted. */
  readonly #aborted: { producerId: bigint; firstOffset: bigint }[];
  #nextAborted = 0;
  readonly #abortedProducers = new Set<bigint>();
  readonly #lastHeaders = new LastHeaders();
  /** The next offset to hand out: records below it are skipped. */
  start: number;
  /** The offset after the last whole batch (past control and aborted batches too): where the next fetch goes on. */
  readonly end: number;

  constructor(topic: string, partition: number, data: FetchedPartition, from: number) {
    this.#topic = topic;
    this.#partition = partition;
    this.#buf = data.records;
    this.start = from;
    this.#aborted =
      data.abortedTransactions.length === 0
        ? []
        : [...data.abortedTransactions].sort((a, b) => Number(a.firstOffset - b.firstOffset));
    let end = from;
    const buf = data.records;
    if (buf !== undefined) {
      let at = 0;
      let batchEnd = wholeBatchEnd(buf, at);
      while (batchEnd >= 0) {
        const lastOffset = readInt64(buf, at) + buf.readInt32BE(at + BATCH_LAST_OFFSET_DELTA_AT);
        if (lastOffset + 1 > end) end = lastOffset + 1;
        at = batchEnd;
        batchEnd = wholeBatchEnd(buf, at);
      }
    }
    this.end = end;
  }

  /**
   * Appends the next records at `start` or later to `out` until it holds `max`, moving `start` past
   * them. Returns true when the answer has no record left.
   */
  take(out: LogRecord[], max: number): boolean {
    const topic = this.#topic;
    const partition = this.#partition;
    while (out.length < max) {
      if (this.#remaining === 0 && !this.#nextBatch()) return true;
      const reader = this.#reader!;
      this.#remaining--;
      const length = reader.varint();
      const recordEnd = reader.pos + length;
      reader.pos++;
      const timestampMs = this.#baseTimestampMs + reader.varlong();
      const offset = this.#baseOffset + reader.varint();
      if (offset < this.start) {
        reader.pos = recordEnd;
        continue;
      }
      const key = reader.view();
      const value = reader.view();
      const headersStart = reader.pos;
      const headerCount = reader.varint();
      const buf = reader.buf;
      let headers = headerCount === 0 ? NO_HEADERS : this.#lastHeaders.match(buf, headersStart, recordEnd);
      if (headers === undefined) {
        const decoded: RecordHeaders = {};
        for (let h = 0; h < headerCount; h++) {
          const nameLength = reader.varint();
          const name = headerName(buf, reader.pos, reader.pos + nameLength);
          reader.pos += nameLength;
          decoded[name] = reader.bytes() ?? NO_BYTES;
        }
        headers = this.#lastHeaders.keep(decoded, buf, headersStart, recordEnd);
      }
      reader.pos = recordEnd;
      out.push({ topic, partition, offset, key, value, headers, timestampMs });
      this.start = offset + 1;
    }
    return this.#remaining === 0 && !this.#hasBatch();
  }

  /** Whether a whole batch follows (it may still hold no record to hand out). */
  #hasBatch(): boolean {
    return this.#buf !== undefined && wholeBatchEnd(this.#buf, this.#at) >= 0;
  }

  /**
   * Kafka's consumers check each batch's CRC-32C before reading it (check.crcs, on by default); so does
   * this. A damaged batch stops the read where it is rather than hand out records that are not the ones
   * written.
   */
  #checkCrc(at: number, batchEnd: number, baseOffset: number, lastOffset: number): void {
    const buf = this.#buf!;
    const stored = buf.readUInt32BE(at + BATCH_CRC_AT);
    const computed = crc32c(buf.subarray(at + BATCH_ATTRIBUTES_AT, batchEnd));
    if (computed === stored) return;
    const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
    throw new LogError(
      LogErrorCode.storage,
      `Kafka sent a damaged record batch on "${this.#topic}" partition ${this.#partition}, offsets ${baseOffset} to ${lastOffset}: its CRC-32C is ${hex(computed)} where the batch says ${hex(stored)}. Check that partition's log segment on the broker (kafka-dump-log.sh --deep-iteration --files <segment>) and recover it from a replica; Pulse reads nothing past a damaged batch.`,
    );
  }

  /** Moves to the next batch with records to hand out; false when none is left. */
  #nextBatch(): boolean {
    const buf = this.#buf;
    if (buf === undefined) return false;
    for (
      let batchEnd = wholeBatchEnd(buf, this.#at);
      batchEnd >= 0;
      batchEnd = wholeBatchEnd(buf, this.#at)
    ) {
      const at = this.#at;
      const magic = buf.readInt8(at + BATCH_MAGIC_AT);
      if (magic !== 2) {
        throw new LogError(
          LogErrorCode.storage,
          `Kafka sent a record batch of message format ${magic} on "${this.#topic}" partition ${this.#partition}; Pulse reads format 2 (Kafka 0.11 or later).`,
        );
      }
      this.#at = batchEnd;
      const baseOffset = readInt64(buf, at);
      const attributes = buf.readInt16BE(at + BATCH_ATTRIBUTES_AT);
      const lastOffset = baseOffset + buf.readInt32BE(at + BATCH_LAST_OFFSET_DELTA_AT);
      if (lastOffset < this.start) continue;
      this.#checkCrc(at, batchEnd, baseOffset, lastOffset);
      // READ_COMMITTED: the broker lists the aborted transactions in range; a producer's batches from
      // the transaction's first offset to its abort marker are skipped (what Kafka's Java consumer does).
      const aborted = this.#aborted;
      if (aborted.length > 0) {
        while (
          this.#nextAborted < aborted.length &&
          Number(aborted[this.#nextAborted]!.firstOffset) <= baseOffset
        ) {
          this.#abortedProducers.add(aborted[this.#nextAborted++]!.producerId);
        }
        const producerId = buf.readBigInt64BE(at + BATCH_PRODUCER_ID_AT);
        if ((attributes & CONTROL_BATCH) !== 0) {
          if (isAbortMarker(buf, at, batchEnd, attributes)) this.#abortedProducers.delete(producerId);
          continue;
        }
        if ((attributes & TRANSACTIONAL_BATCH) !== 0 && this.#abortedProducers.has(producerId)) continue;
      }
      if ((attributes & CONTROL_BATCH) !== 0) continue;
      const count = buf.readInt32BE(at + BATCH_RECORD_COUNT_AT);
      if (count <= 0) continue;
      this.#baseOffset = baseOffset;
      this.#baseTimestampMs = readInt64(buf, at + BATCH_BASE_TIMESTAMP_AT);
      this.#reader = new RecordReader(...recordsOf(buf, at, batchEnd, attributes));
      this.#remaining = count;
      return true;
    }
    return false;
  }
}

/** A batch's records region: a view of the answer, or the block decompressed. */
function recordsOf(buf: Buffer, batchStart: number, batchEnd: number, attributes: number): [Buffer, number] {
  const codec = attributes & COMPRESSION_MASK;
  if (codec === 0) return [buf, batchStart + BATCH_HEADER_BYTES];
  const algorithm = compressionsAlgorithmsByBitmask[codec];
  if (algorithm === undefined) {
    throw new LogError(LogErrorCode.storage, `Kafka sent a record batch with unknown compression ${codec}.`);
  }
  return [algorithm.decompressSync(buf.subarray(batchStart + BATCH_HEADER_BYTES, batchEnd)), 0];
}

/** A control batch's marker record: key = version:i16 type:i16, type 0 = abort, 1 = commit. */
function isAbortMarker(buf: Buffer, batchStart: number, batchEnd: number, attributes: number): boolean {
  const reader = new RecordReader(...recordsOf(buf, batchStart, batchEnd, attributes));
  reader.varint();
  reader.pos++;
  reader.varlong();
  reader.varint();
  const key = reader.bytes();
  return key !== null && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER;
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

/** An async value asked for once and shared; a failure is forgotten, so the next call asks again. */
class Memo<T> {
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

function isUnparsable(error: unknown): boolean {
  return leaves(error).some((e) => (e as { code?: unknown }).code === "OUT_OF_BOUNDS");
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
