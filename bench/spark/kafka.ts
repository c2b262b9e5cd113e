// The Spark bench's Kafka variant (both engines reading one topic on a real broker): not written yet, so it reports nothing.
import type { BenchResult } from "../types.ts";

export async function runKafkaVariant(..._args: unknown[]): Promise<BenchResult[]> {
  return [];
}
