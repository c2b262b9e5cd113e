// `pulse produce activity` (simulator) end to end: summary, topics, dead letters in the log file, schemas, determinism.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { SchemasReport } from "../../src/cli/commands/schemas.ts";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";
import type { DeadLetter, UserActivityV2 } from "../../src/contracts/types.ts";
import { ValidationCode } from "../../src/contracts/validate.ts";
import { runPulseJson, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { countBy, readTopic } from "../helpers/topics.ts";

const COUNT = 100_000;
const SEED = "7";
const TIMEOUT_MS = 120_000;

function produceArgs(dataDir: string): string[] {
  return ["produce", "activity", "--count", String(COUNT), "--seed", SEED, "--json", "--data-dir", dataDir];
}

function messagesOn(report: TopicsReport, topic: string): number {
  const found = report.topics.find((t) => t.name === topic);
  if (found === undefined)
    throw new Error(
      `topic ${topic} missing from pulse topics: ${report.topics.map((t) => t.name).join(", ")}`,
    );
  return found.messages;
}

describe("pulse produce activity --count 100000 --seed 7", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let summary: ProduceSummary;
  let topics: TopicsReport;

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    summary = await runPulseJson<ProduceSummary>(produceArgs(dataDir));
    topics = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir]);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("sends every record once and lands each on user-activity or its DLQ", () => {
    expect(summary.topic).toBe("user-activity");
    expect(summary.source).toBe("simulator");
    expect(summary.sent).toBe(COUNT);
    const byKind = summary.by_kind!;
    expect(Object.keys(byKind).sort()).toEqual(["duplicate", "malformed", "out_of_order", "valid"]);
    expect(byKind.valid! + byKind.out_of_order! + byKind.duplicate! + byKind.malformed!).toBe(COUNT);
    expect(summary.produced + summary.dead_lettered).toBe(COUNT);
    // Every well-formed kind is accepted; only malformed records may be dead-lettered.
    expect(summary.produced).toBeGreaterThanOrEqual(byKind.valid! + byKind.out_of_order! + byKind.duplicate!);
    expect(summary.dead_lettered).toBeGreaterThan(0);
    expect(summary.dead_lettered).toBeLessThanOrEqual(byKind.malformed!);
  });

  it("produces exactly valid + out_of_order + duplicate and dead-letters exactly the malformed", () => {
    const byKind = summary.by_kind!;
    expect(summary.produced).toBe(byKind.valid! + byKind.out_of_order! + byKind.duplicate!);
    expect(summary.dead_lettered).toBe(byKind.malformed!);
  });

  it("pulse topics counts the same records as the summary", () => {
    expect(messagesOn(topics, "user-activity")).toBe(summary.produced);
    expect(messagesOn(topics, "user-activity.dlq")).toBe(summary.dead_lettered);
    expect(messagesOn(topics, "user-activity") + messagesOn(topics, "user-activity.dlq")).toBe(COUNT);
    expect(messagesOn(topics, "wikimedia.recentchange")).toBe(0);
    expect(messagesOn(topics, "wikimedia.recentchange.dlq")).toBe(0);
    for (const topic of topics.topics) {
      expect(topic.partitions).toBe(6);
      expect(topic.low_watermarks).toEqual([0, 0, 0, 0, 0, 0]);
      expect(topic.high_watermarks.reduce((a, b) => a + b, 0)).toBe(topic.messages);
    }
    expect(topics.groups).toEqual([]);
  });

  it(
    "every dead letter in the log file decodes with the dead-letter schema and names the rule it broke",
    async () => {
      const letters = await readTopic<DeadLetter>(dataDir, "user-activity.dlq");
      expect(letters).toHaveLength(summary.dead_lettered);
      const validationCodes = new Set<string>(Object.values(ValidationCode));
      for (const { key, value } of letters) {
        expect(key).toBeNull();
        expect(value.source_topic).toBe("user-activity");
        expect(value.error_code).toMatch(/^PULSE_[A-Z_]+$/);
        expect(validationCodes.has(value.error_code)).toBe(true);
        expect(value.error_message).toContain(value.error_code);
        expect(Buffer.isBuffer(value.raw)).toBe(true);
        expect(value.failed_at).toBeGreaterThan(0);
      }
      // Each simulated defect maps to a rule; several rules must show up among ~500 letters.
      expect(Object.keys(countBy(letters, (l) => l.value.error_code)).length).toBeGreaterThanOrEqual(4);
    },
    TIMEOUT_MS,
  );

  it(
    "every record on user-activity decodes and is keyed by its user_id",
    async () => {
      const records = await readTopic<UserActivityV2>(dataDir, "user-activity");
      expect(records).toHaveLength(summary.produced);
      for (const { key, value } of records) expect(key).toBe(value.user_id);
      // The simulator's duplicates are exact copies, so they repeat an event_id already on the topic.
      const distinctIds = new Set(records.map((r) => r.value.event_id)).size;
      expect(distinctIds).toBeLessThanOrEqual(summary.produced - summary.by_kind!.duplicate!);
    },
    TIMEOUT_MS,
  );

  it("pulse schemas lists both user-activity subjects at version 1, with the ids found on the wire", async () => {
    const report = await runPulseJson<SchemasReport>(["schemas", "--json", "--data-dir", dataDir]);
    const subjectOf = (name: string) => {
      const found = report.subjects.find((s) => s.subject === name);
      if (found === undefined) throw new Error(`subject ${name} missing: ${JSON.stringify(report)}`);
      return found;
    };
    const value = subjectOf("user-activity-value");
    const deadLetter = subjectOf("user-activity.dlq-value");
    expect(value.versions).toHaveLength(1);
    expect(deadLetter.versions).toHaveLength(1);
    expect(value.versions[0]!.version).toBe(1);
    expect(deadLetter.versions[0]!.version).toBe(1);
    expect(Number.isInteger(value.versions[0]!.id) && value.versions[0]!.id > 0).toBe(true);
    expect(Number.isInteger(deadLetter.versions[0]!.id) && deadLetter.versions[0]!.id > 0).toBe(true);
    expect(value.versions[0]!.id).not.toBe(deadLetter.versions[0]!.id);

    const [firstValue] = await readTopic<unknown>(dataDir, "user-activity", { limit: 1 });
    const [firstLetter] = await readTopic<unknown>(dataDir, "user-activity.dlq", { limit: 1 });
    expect(firstValue!.schemaId).toBe(value.versions[0]!.id);
    expect(firstLetter!.schemaId).toBe(deadLetter.versions[0]!.id);
  });

  it(
    "the same seed in another data folder gives the same counts",
    async () => {
      const again = await runPulseJson<ProduceSummary>(produceArgs(tempDir(cleanups.add)));
      expect(again.by_kind).toEqual(summary.by_kind);
      expect(again.sent).toBe(summary.sent);
      expect(again.produced).toBe(summary.produced);
      expect(again.dead_lettered).toBe(summary.dead_lettered);
    },
    TIMEOUT_MS,
  );
});
