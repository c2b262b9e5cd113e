// GET /api/ops/dead-letters: the newest records of a `<topic>.dlq` with their reason code and the rejected payload decoded where possible.

import { asBuffer } from "../../bytes.ts";
import type { DeadLetter } from "../../contracts/types.ts";
import { LogError } from "../../errors.ts";
import type { Log, LogRecord } from "../../log/index.ts";
import { HttpError, sendJson } from "../http.ts";
import { badParam, getRoute, type Query, type Route } from "../route.ts";

/** What the route reads of the log, and of the serde (Avro in the Confluent wire format). */
export interface DeadLettersOptions {
  log: Pick<Log, "describeTopic" | "fetch">;
  serde: { decode(bytes: Uint8Array | null): Promise<unknown> };
}

/** How a rejected payload is shown: Avro decoded through the registry, JSON, text, or base64 bytes. */
export interface DecodedPayload {
  format: "avro" | "json" | "text" | "base64" | "empty";
  value: unknown;
  /** The registry id in the wire-format header, for Avro. */
  schema_id?: number;
  /** The bytes were longer than MAX_PAYLOAD_BYTES and only their start is shown (as text or base64). */
  truncated?: boolean;
}

export interface DeadLetterEntry {
  partition: number;
  offset: number;
  timestamp_ms: number;
  /** The reason code (a catalog code such as PULSE_VALIDATION_NEGATIVE_AMOUNT); null when the record is not a DeadLetter. */
  error_code: string | null;
  error_message: string;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: number | null;
  failed_at: number | null;
  raw_bytes: number;
  payload: DecodedPayload;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
/** A payload is shown whole up to this size; the dead-letter browser is for reading, not for export. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const DLQ_SUFFIX = ".dlq";

/**
 * GET /api/ops/dead-letters?topic=<name>.dlq[&limit=N][&partition=P[&before=OFFSET]]: the newest `limit`
 * dead letters over every partition, newest first (by record time, then partition, then offset); with a
 * partition, the `limit` records of that partition before offset `before` (default: its end), for paging.
 */
export function deadLettersRoute(options: DeadLettersOptions): Route {
  return getRoute("/api/ops/dead-letters", {
    "": {
      params: ["topic", "limit", "partition", "before"],
      run: async (query, _req, res) => {
        const topic = query.get("topic");
        if (topic === undefined || !topic.endsWith(DLQ_SUFFIX) || topic.length === DLQ_SUFFIX.length) {
          throw badParam(
            `topic must name a dead-letter topic, <topic>${DLQ_SUFFIX}; got ${JSON.stringify(topic ?? "")}`,
          );
        }
        const limit = whole(query, "limit", 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
        const info = await options.log.describeTopic(topic).catch((error: unknown) => {
          if (error instanceof LogError && error.code === "PULSE_LOG_UNKNOWN_TOPIC") {
            throw new HttpError(404, "PULSE_HTTP_NOT_FOUND", `topic ${JSON.stringify(topic)} does not exist`);
          }
          throw error;
        });
        const partition = whole(query, "partition", 0, info.partitions - 1);
        const before = whole(query, "before", 0, Number.MAX_SAFE_INTEGER);
        if (before !== undefined && partition === undefined) {
          throw badParam("before pages one partition: give partition too");
        }
        const ranges = info.offsets
          .filter((p) => partition === undefined || p.partition === partition)
          .map((p) => {
            const end = Math.min(before ?? p.highWatermark, p.highWatermark);
            return { partition: p.partition, from: Math.max(p.lowWatermark, end - limit), end };
          });
        const records = (await Promise.all(ranges.map((r) => readRange(options.log, topic, r)))).flat();
        records.sort(
          (a, b) => b.timestampMs - a.timestampMs || a.partition - b.partition || b.offset - a.offset,
        );
        const letters = await Promise.all(records.slice(0, limit).map((r) => entryOf(options.serde, r)));
        sendJson(res, 200, {
          topic,
          partitions: info.offsets.map((p) => ({
            partition: p.partition,
            low: p.lowWatermark,
            high: p.highWatermark,
          })),
          letters,
        });
      },
    },
  });
}

async function readRange(
  log: DeadLettersOptions["log"],
  topic: string,
  range: { partition: number; from: number; end: number },
): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let next = range.from;
  while (next < range.end) {
    const batch = await log.fetch(topic, range.partition, next, { maxRecords: range.end - next });
    if (batch.length === 0) break;
    for (const record of batch) if (record.offset < range.end) out.push(record);
    next = batch.at(-1)!.offset + 1;
  }
  return out;
}

async function entryOf(serde: DeadLettersOptions["serde"], record: LogRecord): Promise<DeadLetterEntry> {
  const base = { partition: record.partition, offset: record.offset, timestamp_ms: record.timestampMs };
  let letter: DeadLetter;
  try {
    letter = (await serde.decode(record.value)) as DeadLetter;
  } catch (error) {
    return {
      ...base,
      error_code: null,
      error_message: `not a DeadLetter record: ${(error as Error).message}`,
      source_topic: null,
      source_partition: null,
      source_offset: null,
      failed_at: null,
      raw_bytes: record.value?.length ?? 0,
      payload: await decodePayload(serde, record.value ?? new Uint8Array()),
    };
  }
  return {
    ...base,
    error_code: letter.error_code,
    error_message: letter.error_message,
    source_topic: letter.source_topic,
    source_partition: letter.source_partition,
    source_offset: letter.source_offset,
    failed_at: letter.failed_at,
    raw_bytes: letter.raw.length,
    payload: await decodePayload(serde, letter.raw),
  };
}

/**
 * The rejected bytes, as readable as they get: a Confluent wire-format frame (magic byte 0, 4-byte
 * schema id) decoded through the registry; else UTF-8 JSON (what the collector received); else UTF-8
 * text; else base64. Bytes past MAX_PAYLOAD_BYTES are cut, and then not parsed.
 */
export async function decodePayload(
  serde: DeadLettersOptions["serde"],
  raw: Uint8Array,
): Promise<DecodedPayload> {
  if (raw.length === 0) return { format: "empty", value: null };
  if (raw.length > MAX_PAYLOAD_BYTES) {
    const head = asBuffer(raw).subarray(0, MAX_PAYLOAD_BYTES);
    const text = utf8(head);
    return text === undefined
      ? { format: "base64", value: head.toString("base64"), truncated: true }
      : { format: "text", value: text, truncated: true };
  }
  if (raw[0] === 0 && raw.length >= 5) {
    try {
      const value = await serde.decode(raw);
      return { format: "avro", value: jsonSafe(value), schema_id: asBuffer(raw).readUInt32BE(1) };
    } catch {
      // Not a frame the registry can read (that may be why it was dead-lettered): show the bytes.
    }
  }
  const text = utf8(raw);
  if (text === undefined) return { format: "base64", value: asBuffer(raw).toString("base64") };
  try {
    return { format: "json", value: JSON.parse(text) as unknown };
  } catch {
    return { format: "text", value: text };
  }
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Avro values as JSON can carry them: bytes as base64, bigints as strings, maps as objects. */
function jsonSafe(value: unknown): unknown {
  if (value === null || typeof value !== "object")
    return typeof value === "bigint" ? value.toString() : value;
  if (value instanceof Uint8Array) return asBuffer(value).toString("base64");
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v)]));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
}

/** An optional whole-number parameter in [min, max]. */
function whole(query: Query, name: string, min: number, max: number): number | undefined {
  const text = query.get(name);
  if (text === undefined) return undefined;
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max))
    throw badParam(`${name} must be a whole number from ${min} to ${max}; got "${text}"`);
  return value;
}
