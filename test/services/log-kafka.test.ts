// KafkaLog: the Log contract against the real broker started by scripts/services/kafka.sh.
import { describe, expect, it } from "vitest";
import { LogError, LogErrorCode } from "../../src/errors.ts";
import { KafkaLog, kafkaBrokers } from "../../src/log/kafka/index.ts";
import { withTopicPrefix } from "../../src/log/prefixed.ts";
import { runLogContract } from "../conformance/log.ts";
import { KAFKA_URL } from "./services.ts";

runLogContract("KafkaLog", async () => {
  const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL), clientId: "pulse-contract" });
  return { log, capabilities: { retentionNow: true }, cleanup: () => log.close() };
});

// The same contract through topics.prefix: the broker holds the prefixed topics and groups see them.
runLogContract("KafkaLog with a topic prefix", async () => {
  const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL), clientId: "pulse-contract-prefixed" });
  return {
    log: withTopicPrefix(log, `prefix-${Date.now()}.`),
    capabilities: { retentionNow: true },
    cleanup: () => log.close(),
  };
});

describe("KafkaLog", () => {
  it("parses kafka:// URLs into bootstrap brokers, port 9092 by default", () => {
    expect(kafkaBrokers("kafka://127.0.0.1:9092")).toEqual(["127.0.0.1:9092"]);
    expect(kafkaBrokers("kafka://a:1, b ,c:3/")).toEqual(["a:1", "b:9092", "c:3"]);
  });

  it("keeps record timestamps years apart intact within one produce call", async () => {
    const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
    try {
      const topic = `timestamps-${Date.now()}`;
      await log.ensureTopic({ name: topic, partitions: 1 });
      // Far past, far future (beyond the broker's default 1 h limit) and in between, interleaved.
      const timestamps = [
        Date.UTC(2019, 9, 1),
        Date.UTC(2031, 0, 1),
        Date.UTC(2024, 5, 1),
        0,
        Date.UTC(2019, 9, 2),
      ];
      await log.produce(
        topic,
        timestamps.map((timestampMs, i) => ({
          key: null,
          value: Buffer.from(String(i)),
          partition: 0,
          timestampMs,
        })),
      );
      const fetched = await log.fetch(topic, 0, 0);
      expect(fetched.map((r) => r.timestampMs)).toEqual(timestamps);
      expect(fetched.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await log.close();
    }
  });

  it("splits a topic's partitions between two group members and moves them when one leaves", async () => {
    const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
    try {
      const topic = `members-${Date.now()}`;
      const group = `group-${topic}`;
      await log.ensureTopic({ name: topic, partitions: 4 });
      const first = await log.joinGroup(group, [topic], { sessionTimeoutMs: 6_000 });
      await first.ready();
      expect(first.assigned(topic)).toEqual([0, 1, 2, 3]);
      const second = await log.joinGroup(group, [topic], { sessionTimeoutMs: 6_000 });
      await second.ready();
      // The first member learns of the rebalance from its next heartbeat and rejoins.
      await waitFor(
        () =>
          first.assigned(topic).length + second.assigned(topic).length === 4 &&
          first.assigned(topic).length > 0,
      );
      const split = [...first.assigned(topic), ...second.assigned(topic)].sort();
      expect(split).toEqual([0, 1, 2, 3]);
      expect(second.assigned(topic).length).toBe(2);

      await first.commit(
        topic,
        first.assigned(topic).map((partition) => ({ partition, offset: 0 })),
      );
      await second.leave();
      await waitFor(() => first.assigned(topic).length === 4);
      expect(first.assigned(topic)).toEqual([0, 1, 2, 3]);
      await first.leave();
    } finally {
      await log.close();
    }
  });

  it("joins a group through a topic prefix: the broker assigns the prefixed topic, the member answers by its own name", async () => {
    const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
    try {
      const prefix = `team-${Date.now()}.`;
      const prefixed = withTopicPrefix(log, prefix);
      await prefixed.ensureTopic({ name: "events", partitions: 3 });
      expect((await log.describeTopic(`${prefix}events`)).partitions).toBe(3);
      const member = await prefixed.joinGroup!(`group-${prefix}`, ["events"], { sessionTimeoutMs: 6_000 });
      await member.ready();
      expect(member.assigned("events")).toEqual([0, 1, 2]);
      await prefixed.produce("events", [{ key: null, value: Buffer.from("x"), partition: 2 }]);
      await member.commit("events", [{ partition: 2, offset: 1 }]);
      expect(await log.committed(`group-${prefix}`, `${prefix}events`)).toEqual(new Map([[2, 1]]));
      const lag = await prefixed.lag(`group-${prefix}`);
      expect(lag.map((l) => [l.topic, l.totalLag])).toEqual([["events", 0]]);
      await member.leave();
    } finally {
      await log.close();
    }
  });

  it("never cuts a compacted topic: it reports no retention and enforceRetention leaves it whole", async () => {
    const log = KafkaLog.open({ brokers: kafkaBrokers(KAFKA_URL) });
    try {
      const topic = `compacted-${Date.now()}`;
      await log.ensureTopic(
        { name: topic, partitions: 1 },
        { configs: { "cleanup.policy": "compact", "retention.ms": "604800000" } },
      );
      await log.produce(topic, [
        { key: Buffer.from("k"), value: Buffer.from("old"), partition: 0, timestampMs: Date.UTC(2020, 0, 1) },
      ]);
      expect((await log.describeTopic(topic)).retention).toEqual({});
      await log.enforceRetention();
      expect((await log.describeTopic(topic)).offsets).toEqual([
        { partition: 0, lowWatermark: 0, highWatermark: 1 },
      ]);
    } finally {
      await log.close();
    }
  });

  it("an unreachable broker is a retriable PULSE_LOG_UNAVAILABLE that names it", async () => {
    const log = KafkaLog.open({
      brokers: ["127.0.0.1:1"],
      requestTimeoutMs: 1_000,
      retries: 0,
      unavailableRetryMs: 0,
    });
    try {
      const error = await log.listTopics().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LogError);
      expect((error as LogError).code).toBe(LogErrorCode.unavailable);
      expect((error as LogError).retriable).toBe(true);
      expect((error as LogError).message).toContain("127.0.0.1:1");
    } finally {
      await log.close();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
