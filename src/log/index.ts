// The Log seam: a durable, partitioned, replayable record log with consumer-group offsets (SQLite embedded, Kafka at scale).

/** Header values are raw bytes on the wire, as in Kafka. */
export type RecordHeaders = Record<string, Buffer>;

/** The headers of a fetched record that has none: one frozen object, not one per record. */
export const NO_HEADERS: RecordHeaders = Object.freeze({});

/** Kafka's record batch codecs, for what Pulse produces to Kafka (config producer.compression). */
export const KAFKA_COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export interface ProduceRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeaders;
  /** Event or create time in ms since the epoch; defaults to the append time. */
  timestampMs?: number;
  /** Explicit partition; when absent the key picks it with Kafka's murmur2 default partitioner. */
  partition?: number;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: number;
  /**
   * Key and value are views into the fetched bytes: plain Uint8Arrays, which cost a third of a Buffer
   * view to make (two a record). asBuffer (src/bytes.ts) gives a Buffer over the same memory.
   */
  key: Uint8Array | null;
  value: Uint8Array | null;
  /**
   * Frozen: records fetched together whose headers are the same bytes share one object (NO_HEADERS when
   * they have none). Copy it to change it.
   */
  headers: RecordHeaders;
  timestampMs: number;
}

export interface RecordPosition {
  partition: number;
  offset: number;
}

export interface RetentionPolicy {
  /** Delete records older than this (by record timestamp). Kafka: retention.ms. */
  maxAgeMs?: number;
  /** Keep each partition under this many bytes of key+value+headers, dropping the oldest. Kafka: retention.bytes. */
  maxSizeBytes?: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  retention?: RetentionPolicy;
}

export interface PartitionOffsets {
  partition: number;
  /** First offset still in the log (after retention). */
  lowWatermark: number;
  /** Offset the next record will get; equals the record count ever appended. */
  highWatermark: number;
}

export interface TopicInfo {
  name: string;
  partitions: number;
  retention: RetentionPolicy;
  offsets: PartitionOffsets[];
}

export interface PartitionLag {
  partition: number;
  committed: number | null;
  highWatermark: number;
  /** highWatermark − committed (or − lowWatermark when nothing is committed). */
  lag: number;
}

export interface GroupTopicLag {
  group: string;
  topic: string;
  partitions: PartitionLag[];
  totalLag: number;
}

export interface FetchOptions {
  /** Most records returned by one call. */
  maxRecords?: number;
}

/**
 * This process's membership of a consumer group: the group coordinator splits the topics' partitions
 * among the members and moves them when a member joins, leaves or stops heartbeating (Kafka's group
 * protocol). Assignments change in the background; readers check `generation` between batches.
 */
export interface GroupMember {
  readonly group: string;
  /** Changes whenever the assignment may have changed (a rebalance completed). */
  readonly generation: number;
  /** The partitions of `topic` this member owns now, ascending. */
  assigned(topic: string): number[];
  /** Resolves once the member holds an assignment of the current group generation. */
  ready(): Promise<void>;
  /** Commits offsets as this member (fenced by the group generation, as Kafka consumers do). */
  commit(topic: string, offsets: readonly RecordPosition[]): Promise<void>;
  /** Leaves the group, so its partitions move to the other members at once. Idempotent. */
  leave(): Promise<void>;
}

export interface JoinGroupOptions {
  /** A member that sends no heartbeat for this long is dropped and its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  /** Heartbeat period (default 1 s). */
  heartbeatIntervalMs?: number;
}

export interface Log {
  /** Creates the topic, or checks an existing one has the same partition count. Idempotent. */
  ensureTopic(spec: TopicSpec): Promise<TopicInfo>;
  listTopics(): Promise<TopicInfo[]>;
  describeTopic(topic: string): Promise<TopicInfo>;
  /**
   * Appends a batch atomically; resolves once the batch is durable, with one position per record in order.
   * Calls made while earlier ones are pending append in call order.
   */
  produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]>;
  /** Records of one partition from `offset` on (an offset below the low watermark starts at the low watermark). */
  fetch(topic: string, partition: number, offset: number, options?: FetchOptions): Promise<LogRecord[]>;
  /**
   * Where the next fetch of `partition` goes on after this log's last one (Kafka's consumer position):
   * past the last record it returned, and past records no reader sees that follow it (Kafka's
   * transaction markers and aborted records), so a reader at the end of such a partition is at its high
   * watermark. Undefined before a fetch of it. A log whose every offset holds a record a reader sees
   * leaves this out: there the offset after the last record returned is the position.
   */
  position?(topic: string, partition: number): number | undefined;
  /** Stores the next offset to read per partition, as Kafka does. */
  commit(group: string, topic: string, offsets: readonly RecordPosition[]): Promise<void>;
  committed(group: string, topic: string): Promise<Map<number, number>>;
  /** Lag of every group (or one) on every topic it has committed for. */
  lag(group?: string): Promise<GroupTopicLag[]>;
  /**
   * Applies each topic's retention policy now, or only those of `topics` when given (names the log
   * does not hold are skipped); returns how many records were deleted.
   */
  enforceRetention(nowMs?: number, topics?: readonly string[]): Promise<number>;
  /**
   * Joins a consumer group over `topics`, for logs with a group coordinator (Kafka). A log without one
   * leaves this out, and a reader owns every partition.
   */
  joinGroup?(group: string, topics: readonly string[], options?: JoinGroupOptions): Promise<GroupMember>;
  close(): Promise<void>;
}
