// The Kafka log's produce path: records placed on partitions and sent as Kafka's idempotent producer.

import type { ProducerInfo } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { KafkaCompression, ProduceRecord, RecordPosition } from "../index.ts";
import { partitionForKey } from "../partitioner.ts";
import { checkPartition, checkRecordBytes } from "../validate.ts";
import {
  PRODUCE_APIS,
  PRODUCE_SUPPORT,
  type ProduceApi,
  type ProduceBatch,
  type ProduceResponse,
} from "./apis/produce-v9-v11.ts";
import { type KafkaCluster, Memo } from "./cluster.ts";
import { needsNewProducerId } from "./errors.ts";
import { encodeRecordBatch } from "./record-batch-writer.ts";

/**
 * Records and bytes of one partition's batch in a produce request, bounded so it stays far below the
 * broker's max.message.bytes (1 MiB by default); one request carries a batch for each partition.
 */
const MAX_SEND_RECORDS = 2_000;
const MAX_SEND_BYTES = 512 * 1024;
/** Bytes of one produce request over all its partitions. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/**
 * A record stores its timestamp as a varint delta from its batch's first timestamp. The client's
 * 64-bit varint writer (@platformatic/dynamic-buffer 0.3.1) mis-encodes deltas of 2^31 ms (24.8 days)
 * or more, so a send never puts records further apart than that into one partition's batch.
 */
const MAX_TIMESTAMP_DELTA_MS = 2 ** 31 - 1;

/**
 * Writes each produce call as one record batch per partition, one Produce request per leader, with the
 * producer id and per-partition sequence numbers of Kafka's idempotent producer (acks=all), so a retried
 * request never duplicates or reorders a partition's records. Calls run one at a time, so positions
 * follow call order per partition.
 */
export class IdempotentProducer {
  readonly #cluster: KafkaCluster;
  readonly #compression: KafkaCompression;
  readonly #produceApiMemo = new Memo<ProduceApi>();
  /** The idempotent producer's id and epoch, and the next sequence number of each partition it wrote. */
  readonly #producerInfo = new Memo<ProducerInfo>();
  readonly #sequences = new Map<string, number>();
  /** Produce calls run one at a time, so positions follow call order per partition. */
  #sending: Promise<unknown> = Promise.resolve();

  constructor(cluster: KafkaCluster, compression: KafkaCompression) {
    this.#cluster = cluster;
    this.#compression = compression;
  }

  produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    const run = this.#sending.then(() => this.#produce(topic, records));
    this.#sending = run.catch(() => undefined);
    return run;
  }

  async #produce(topic: string, records: readonly ProduceRecord[]): Promise<RecordPosition[]> {
    this.#cluster.checkOpen();
    const meta = await this.#cluster.meta(topic);
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
    const baseOffsets = await this.#cluster.retrying(async () => {
      try {
        return await this.#sendBatches(topic, records, byPartition, nowMs);
      } catch (error) {
        throw this.#cluster.failure(`produce to "${topic}"`, error);
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
    const meta = await this.#cluster.meta(topic);
    const [api, producer] = await Promise.all([this.#produceApi(), this.#idempotentProducer()]);
    const byLeader = new Map<number, ProduceBatch[]>();
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
          const connection = await this.#cluster.connection(this.#cluster.producer, leader);
          const response = await new Promise<ProduceResponse>((resolve, reject) =>
            api(connection, -1, this.#cluster.client.timeout, topic, batches, (error, answer) =>
              error ? reject(error) : resolve(answer!),
            ),
          );
          for (const answer of response.responses) {
            for (const p of answer.partitionResponses) baseOffsets.set(p.index, Number(p.baseOffset));
          }
        }),
      );
    } catch (error) {
      if (needsNewProducerId(error)) {
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
    return this.#producerInfo.get(() => this.#cluster.producer.initIdempotentProducer({}));
  }

  /** Produce with the version the brokers and the client agree on (apis/produce-v9-v11.ts). */
  #produceApi(): Promise<ProduceApi> {
    return this.#produceApiMemo.get(() =>
      this.#cluster.negotiated(this.#cluster.producer, "Produce", PRODUCE_SUPPORT, PRODUCE_APIS),
    );
  }

  /** Settles once every produce call begun so far has. */
  idle(): Promise<unknown> {
    return this.#sending;
  }
}

function recordBytes(record: ProduceRecord): number {
  let bytes = 64 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  if (record.headers !== undefined) {
    for (const name of Object.keys(record.headers)) bytes += name.length + record.headers[name].length;
  }
  return bytes;
}
