// The registry on a Kafka topic runs the registry conformance suite over the embedded log here;
// test/services/registry-kafka.test.ts runs it on the real broker.

import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { KafkaSchemaRegistry } from "../../src/registry/kafka/registry.ts";
import { runRegistryConformance } from "../conformance/registry.ts";

runRegistryConformance("KafkaSchemaRegistry over the embedded log", async (ctx) => {
  const log = EmbeddedLog.open({ path: ":memory:" });
  const registry = KafkaSchemaRegistry.open({ log });
  // Cleanups run in reverse order: the registry closes before its log.
  ctx.onTestFinished(() => log.close());
  ctx.onTestFinished(() => registry.close());
  return registry;
});
