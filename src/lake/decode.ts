// Reading the raw lake back: each row holds its event as the log held it, a Confluent frame.
import type { AvroType } from "../contracts/schemas.ts";
import type { AvroSerde } from "../serde/avro-serde.ts";
import type { RawEventRow } from "./index.ts";
import { asBuffer } from "../bytes.ts";

/** The first byte of a row stored as JSON text (before the lake kept frames); a frame starts with 0. */
const JSON_OBJECT = 0x7b; // "{"

/**
 * The event a raw-lake row holds: its frame decoded with the writer schema from the registry, resolved
 * into `readerType` when given (the stream job reads with the topic's contract type, so the result is
 * the event the job aggregated); a row stored as JSON text is parsed.
 */
export async function decodeRawEvent<T = unknown>(
  serde: AvroSerde,
  row: RawEventRow,
  readerType?: AvroType,
): Promise<T> {
  const value = row.value;
  if (value[0] === JSON_OBJECT) {
    return JSON.parse(asBuffer(value).toString("utf8")) as T;
  }
  return serde.decode<T>(value, readerType);
}
