// Fetch, versions 13 to 17: the client's request writers and a parser that keeps the records as bytes.

import {
  type API,
  createAPI,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  type Reader,
  ResponseError,
} from "@platformatic/kafka";

/** The versions this file speaks, as said to a user whose brokers speak none of them. */
export const FETCH_SUPPORT = "reads with versions 13 to 17 (Kafka 3.1 or later)";

export type FetchRequestTopic = fetchV17.FetchRequestTopic;

/** One partition of a Fetch answer, its records still bytes. */
export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[];
  /** The partition's record batches as the broker sent them; the last one may be cut short. */
  records: Buffer | undefined;
}

export interface FetchAnswer {
  version: number;
  topics: { topicId: string; partitions: FetchedPartition[] }[];
}

export type FetchApi = API<
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

/** Fetch by version: 13 to 17 share one response layout (topic ids, not names), read by parseFetchResponse. */
export const FETCH_APIS: Readonly<Record<number, FetchApi>> = {
  13: createAPI(1, 13, fetchV13.createRequest, parseFetchResponse),
  14: createAPI(1, 14, fetchV14.createRequest, parseFetchResponse),
  15: createAPI(1, 15, fetchV15.createRequest, parseFetchResponse),
  16: createAPI(1, 16, fetchV16.createRequest, parseFetchResponse),
  17: createAPI(1, 17, fetchV17.createRequest, parseFetchResponse),
};

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
