// Reads a Pulse data folder directly: every record of a topic, decoded through the registry file.
import { join } from "node:path";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde, readSchemaId } from "../../src/serde/index.ts";
import { asBuffer } from "../../src/bytes.ts";

const FETCH_BATCH = 10_000;

export interface DecodedRecord<T> {
  partition: number;
  offset: number;
  /** The key as UTF-8 text, or null for a keyless record. */
  key: string | null;
  /** The registry id in the value's wire-format header. */
  schemaId: number;
  value: T;
}

export interface ReadTopicOptions {
  /** Stop after this many records (partition by partition). */
  limit?: number;
}

/** Every record of `topic` in `<dataDir>/log.db`, decoded with the writer schemas in `<dataDir>/registry.db`. */
export async function readTopic<T>(
  dataDir: string,
  topic: string,
  options: ReadTopicOptions = {},
): Promise<DecodedRecord<T>[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const log = EmbeddedLog.open({ path: join(dataDir, "log.db") });
  const registry = SchemaRegistry.open({ path: join(dataDir, "registry.db") });
  try {
    const serde = new AvroSerde(registry);
    const info = await log.describeTopic(topic);
    const records: DecodedRecord<T>[] = [];
    for (const { partition, lowWatermark, highWatermark } of info.offsets) {
      let next = lowWatermark;
      while (next < highWatermark && records.length < limit) {
        const batch = await log.fetch(topic, partition, next, { maxRecords: FETCH_BATCH });
        if (batch.length === 0)
          throw new Error(`${topic}[${partition}]: no records at ${next} below ${highWatermark}`);
        for (const record of batch) {
          if (records.length >= limit) break;
          records.push({
            partition,
            offset: record.offset,
            key: record.key === null ? null : asBuffer(record.key).toString("utf8"),
            schemaId: readSchemaId(record.value),
            value: await serde.decode<T>(record.value),
          });
        }
        next = batch[batch.length - 1]!.offset + 1;
      }
    }
    return records;
  } finally {
    await log.close();
    registry.close();
  }
}

/** Counts of `keyOf(item)` over `items`, as a plain object with sorted keys (so toEqual diffs read well). */
export function countBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Record<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
