// Benchmark: the Kafka path, `pulse produce` to a real broker and `pulse stream --drain` from it into the embedded and MongoDB live stores.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { resetPulseKafka } from "../test/helpers/kafka-reset.ts";
import { drainResult, type ProduceJson, produceResult, type StreamJson, runPulseMeasured } from "./stream.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const KAFKA_URL = process.env.PULSE_BENCH_KAFKA ?? "kafka://127.0.0.1:9092";
const MONGODB_URL = process.env.PULSE_BENCH_MONGODB ?? "mongodb://127.0.0.1:27017/pulse_bench";
/** Simulated events; PULSE_BENCH_KAFKA_EVENTS overrides it. The default takes well under a minute. */
const EVENTS = Number(process.env.PULSE_BENCH_KAFKA_EVENTS ?? 100_000);
const SEED = 9;
/** The drain's goals, events/s with one stream process: into the embedded store (issue 4), into MongoDB (issue 21). */
const GOAL = 100_000;
const MONGODB_GOAL = 50_000;
/** One consumer group (and store checkpoint key) per drain, so each reads the topic from the start. */
const JOBS = {
  embedded: "pulse-bench-embedded",
  noRawLake: "pulse-bench-embedded-no-raw-lake",
  mongodb: "pulse-bench-mongodb",
} as const;
/** Deletes Pulse's topics and the bench's groups: the bench runs on a broker of its own (see README). */
async function resetKafka(): Promise<void> {
  await resetPulseKafka(KAFKA_URL, Object.values(JOBS), "pulse-bench-reset");
}

/** Drops the bench's MongoDB database, so the drain starts without checkpoints or rows. */
async function resetMongo(): Promise<void> {
  const client = new MongoClient(MONGODB_URL, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
    await client.db().dropDatabase();
  } catch (error) {
    throw new Error(
      `MongoDB at ${MONGODB_URL.replace(/\/\/[^@/]*@/, "//")} is not reachable (${error instanceof Error ? error.message : String(error)}). ` +
        "Start FerretDB with scripts/services/ferretdb.sh start, or point PULSE_BENCH_MONGODB at a server (mongodb://host:port/db).",
    );
  } finally {
    await client.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  await resetKafka();
  await resetMongo();
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-kafka-"));
  try {
    const env = { PULSE_LOG: KAFKA_URL, PULSE_DATA_DIR: dir };
    const drain = ["stream", "--drain", "--topics", "user-activity"];
    const produced = await runPulseMeasured<ProduceJson>(
      ["produce", "activity", "--count", String(EVENTS), "--seed", String(SEED)],
      { env },
    );
    const embedded = await runPulseMeasured<StreamJson>([...drain, "--job", JOBS.embedded], { env });
    const noRawLake = await runPulseMeasured<StreamJson>(
      [...drain, "--job", JOBS.noRawLake, "--no-raw-lake"],
      {
        env,
      },
    );
    const mongodb = await runPulseMeasured<StreamJson>([...drain, "--job", JOBS.mongodb], {
      env: { ...env, PULSE_STORE: MONGODB_URL },
    });
    const endToEnd = (name: string, store: string, drained: { summary: StreamJson }): BenchResult => {
      const seconds = (produced.summary.elapsed_ms + drained.summary.elapsed_ms) / 1000;
      return {
        name,
        value: Math.round(EVENTS / seconds),
        unit: "events/s",
        detail: `simulator → Kafka → pulse stream → ${store}: ${EVENTS} events / (produce ${(produced.summary.elapsed_ms / 1000).toFixed(1)} s + drain ${(drained.summary.elapsed_ms / 1000).toFixed(1)} s), one after the other, so the producer's rate bounds it`,
      };
    };
    return [
      produceResult(
        "kafka.produce",
        `simulator → validate → Avro → Kafka at ${KAFKA_URL} (pulse produce)`,
        produced,
      ),
      withGoal(
        drainResult(
          "kafka.drain.embedded_store",
          "Kafka → pulse stream --drain → embedded live store",
          embedded,
        ),
        GOAL,
      ),
      drainResult("kafka.drain.embedded_store.no_raw_lake", "the same with --no-raw-lake", noRawLake),
      withGoal(
        drainResult(
          "kafka.drain.mongodb_store",
          "Kafka → pulse stream --drain → MongoDB live store",
          mongodb,
        ),
        MONGODB_GOAL,
      ),
      endToEnd("kafka.end_to_end.embedded_store", "embedded live store", embedded),
      endToEnd("kafka.end_to_end.mongodb_store", "MongoDB live store", mongodb),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A goal: events/s through Kafka with one stream process, the drain's own rate. */
function withGoal(result: BenchResult, goal: number): BenchResult {
  const met = result.value >= goal ? "met" : "not met";
  return {
    ...result,
    detail: `${result.detail}; goal ≥ ${goal / 1000}k through Kafka with one stream process: ${met}`,
  };
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
