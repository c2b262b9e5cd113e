// The Kafka log's fetch path: read positions, Fetch requests that read ahead, records kept for later.

import { ResponseError } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import type { FetchOptions, LogRecord } from "../index.ts";
import { checkPartition } from "../validate.ts";
import {
  FETCH_APIS,
  FETCH_SUPPORT,
  type FetchAnswer,
  type FetchApi,
  type FetchRequestTopic,
} from "./apis/fetch-v13-v17.ts";
import { type KafkaCluster, Memo, type TopicMeta } from "./cluster.ts";
import { hasApiError, isStaleMetadata } from "./errors.ts";
import { FetchedRecords } from "./record-batch-reader.ts";

/**
 * Most bytes one Fetch answers with for a partition: Kafka's consumer default (max.partition.fetch.bytes).
 * Records are views into the answer, so an answer stays in memory while any of its records is referenced
 * (read ahead, or in a batch not yet committed); larger pages kept more memory alive at the same rate.
 */
const FETCH_PARTITION_MAX_BYTES = 1024 * 1024;
/** Most bytes one Fetch answers with, over all its partitions (the broker always sends the first batch). */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** A partition this log read within this long is read ahead on when another partition is fetched. */
const READ_AHEAD_RECENT_MS = 10_000;
/** Fetch isolation level: records of open or aborted transactions stay hidden, as before. */
const READ_COMMITTED = 1;
const DEFAULT_FETCH_RECORDS = 1_000;

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

/**
 * Reads partitions by offset for one log: where each read got to, and what an earlier Fetch brought
 * ahead of it. Fetch runs at read_committed, so records of open or aborted transactions stay hidden.
 */
export class PartitionReader {
  readonly #cluster: KafkaCluster;
  readonly #fetchMaxWaitMs: number;
  /** Per topic: the partitions this log has read, each with its read position and records fetched ahead. */
  readonly #reads = new Map<string, { topicId: string; partitions: Map<number, PartitionReadState> }>();
  readonly #fetchApiMemo = new Memo<FetchApi>();

  constructor(cluster: KafkaCluster, fetchMaxWaitMs: number) {
    this.#cluster = cluster;
    this.#fetchMaxWaitMs = fetchMaxWaitMs;
  }

  fetch(topic: string, partition: number, offset: number, options: FetchOptions = {}): Promise<LogRecord[]> {
    return this.#cluster.retrying(() => this.#fetch(topic, partition, offset, options));
  }

  async #fetch(
    topic: string,
    partition: number,
    offset: number,
    options: FetchOptions,
  ): Promise<LogRecord[]> {
    this.#cluster.checkOpen();
    const meta = await this.#cluster.meta(topic);
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
          Object.assign(meta, await this.#cluster.meta(meta.name, { refresh: true }));
          continue;
        }
        throw this.#cluster.failure(`fetch "${meta.name}" partition ${partition} at offset ${from}`, error);
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
          const [low, high] = await this.#cluster.watermarks(meta, partition);
          if (from < low) {
            from = low;
            continue;
          }
          if (from >= high) return undefined;
        }
        if (isStaleMetadata(error) && attempt < 2) {
          Object.assign(meta, await this.#cluster.meta(meta.name, { refresh: true }));
          continue;
        }
        throw this.#cluster.failure(`fetch "${meta.name}" partition ${partition} at offset ${from}`, error);
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
    const connection = await this.#cluster.connection(this.#cluster.reader, node);
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

  /** Fetch with the version the brokers and the client agree on (apis/fetch-v13-v17.ts). */
  #fetchApi(): Promise<FetchApi> {
    return this.#fetchApiMemo.get(() =>
      this.#cluster.negotiated(this.#cluster.reader, "Fetch", FETCH_SUPPORT, FETCH_APIS),
    );
  }

  /** Forgets every read position and the records fetched ahead (they may lie below new low watermarks). */
  forgetReads(): void {
    this.#reads.clear();
  }
}

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
