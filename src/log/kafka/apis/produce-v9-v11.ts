// Produce, versions 9 to 11: a request carrying Pulse's own record batches, and the client's parsers.

import { type API, createAPI, produceV9, produceV10, produceV11, Writer } from "@platformatic/kafka";

/** The versions this file speaks, as said to a user whose brokers speak none of them. */
export const PRODUCE_SUPPORT = "writes with versions 9 to 11 (Kafka 2.8 or later)";

export type ProduceResponse = produceV11.ProduceResponse;
/** One partition's record batch, as encodeRecordBatch wrote it. */
export interface ProduceBatch {
  partition: number;
  bytes: Buffer;
}
export type ProduceApi = API<
  [acks: number, timeoutMs: number, topic: string, batches: ProduceBatch[]],
  ProduceResponse
>;
/** Produce by version: 9 to 11 share one request layout (createProduceRequest), each with the client's parser. */
export const PRODUCE_APIS: Readonly<Record<number, ProduceApi>> = {
  9: createAPI(0, 9, createProduceRequest, produceV9.parseResponse),
  10: createAPI(0, 10, createProduceRequest, produceV10.parseResponse),
  11: createAPI(0, 11, createProduceRequest, produceV11.parseResponse),
};

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
  batches: ProduceBatch[],
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
