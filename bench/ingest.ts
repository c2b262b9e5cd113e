// Benchmark: simulator → contract validation → Avro → embedded log, end to end through ContractProducer.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { activityProducer } from "../src/ingest/producer.ts";
import { pump } from "../src/ingest/pump.ts";
import { simulateActivity, startBefore } from "../src/ingest/simulator.ts";
import { EmbeddedLog } from "../src/log/embedded/index.ts";
import { SchemaRegistry } from "../src/registry/embedded/registry.ts";
import { AvroSerde } from "../src/serde/index.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const EVENTS = 500_000;
const BATCH = 5_000;

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-ingest-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db") });
  const registry = SchemaRegistry.open({ path: join(dir, "registry.db") });
  try {
    const producer = activityProducer({
      log,
      serde: new AvroSerde(registry),
      source: "bench",
      maxBatch: BATCH,
    });
    await producer.ensureTopics(6);
    await producer.ready();
    const events = simulateActivity({
      seed: 1,
      count: EVENTS,
      // All in the past: events in the future would be dead-lettered (clock skew) and measure that path.
      startTimeMs: startBefore(Date.now(), EVENTS, 50),
      ratePerSec: 50,
      outOfOrderShare: 0.02,
      duplicateShare: 0.01,
      malformedShare: 0.005,
    });
    const raws = (function* () {
      for (const e of events) yield e.event;
    })();
    const startMs = performance.now();
    await pump(raws, async (batch) => void (await producer.send(batch)), { ratePerSec: 0, maxBatch: BATCH });
    const seconds = (performance.now() - startMs) / 1000;
    const { accepted, rejected } = producer.counters;
    return [
      {
        name: "ingest.simulator_to_log",
        value: Math.round(EVENTS / seconds),
        unit: "events/s",
        detail: `${EVENTS} simulated events (${accepted} on the topic, ${rejected} dead-lettered), validate + Avro + embedded log, ${BATCH}-event batches, 6 partitions`,
      },
    ];
  } finally {
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
