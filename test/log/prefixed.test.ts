// withTopicPrefix: the Log contract through the prefix, and what the backend underneath holds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { withTopicPrefix } from "../../src/log/prefixed.ts";
import { runLogContract } from "../conformance/log.ts";

runLogContract("EmbeddedLog with a topic prefix", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pulse-prefixed-"));
  const inner = EmbeddedLog.open({ path: join(dir, "log.db") });
  // A topic of someone else on the same log, which the prefixed log must never show or touch.
  await inner.ensureTopic({ name: "foreign", partitions: 1, retention: { maxAgeMs: 1 } });
  return {
    log: withTopicPrefix(inner, "acme."),
    capabilities: { retentionNow: true },
    cleanup: async () => {
      await inner.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("withTopicPrefix", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function open(): EmbeddedLog {
    const dir = mkdtempSync(join(tmpdir(), "pulse-prefixed-"));
    dirs.push(dir);
    return EmbeddedLog.open({ path: join(dir, "log.db") });
  }

  it("is the log itself for the empty prefix", async () => {
    const log = open();
    expect(withTopicPrefix(log, "")).toBe(log);
    await log.close();
  });

  it("stores topics, records and group offsets under the prefixed names, and shows them unprefixed", async () => {
    const inner = open();
    const log = withTopicPrefix(inner, "team-a.");
    try {
      await inner.ensureTopic({ name: "alerts", partitions: 1 });
      const info = await log.ensureTopic({ name: "alerts", partitions: 2 });
      expect(info.name).toBe("alerts");
      expect(info.partitions).toBe(2);
      expect((await inner.listTopics()).map((t) => [t.name, t.partitions])).toEqual([
        ["alerts", 1],
        ["team-a.alerts", 2],
      ]);
      expect((await log.listTopics()).map((t) => t.name)).toEqual(["alerts"]);
      expect((await log.describeTopic("alerts")).partitions).toBe(2);

      await log.produce("alerts", [{ key: null, value: Buffer.from("mine"), partition: 1 }]);
      await inner.produce("alerts", [{ key: null, value: Buffer.from("theirs"), partition: 0 }]);
      const mine = await log.fetch("alerts", 1, 0);
      expect(mine.map((r) => [r.topic, Buffer.from(r.value!).toString()])).toEqual([["alerts", "mine"]]);
      const underneath = await inner.fetch("team-a.alerts", 1, 0);
      expect(underneath.map((r) => [r.topic, Buffer.from(r.value!).toString()])).toEqual([
        ["team-a.alerts", "mine"],
      ]);
      expect(await log.fetch("alerts", 0, 0)).toEqual([]);

      await log.commit("readers", "alerts", [{ partition: 1, offset: 1 }]);
      await inner.commit("readers", "alerts", [{ partition: 0, offset: 0 }]);
      expect(await inner.committed("readers", "team-a.alerts")).toEqual(new Map([[1, 1]]));
      expect(await log.committed("readers", "alerts")).toEqual(new Map([[1, 1]]));
      const lag = await log.lag("readers");
      expect(lag.map((l) => [l.topic, l.totalLag])).toEqual([["alerts", 0]]);
      expect((await inner.lag("readers")).map((l) => l.topic).sort()).toEqual(["alerts", "team-a.alerts"]);
    } finally {
      await inner.close();
    }
  });

  it("applies retention to its own topics only", async () => {
    const inner = open();
    const log = withTopicPrefix(inner, "a.");
    try {
      const old = { key: null, value: Buffer.from("old"), partition: 0, timestampMs: 1_000 };
      for (const name of ["a.events", "events"]) {
        await inner.ensureTopic({ name, partitions: 1, retention: { maxAgeMs: 60_000 } });
        await inner.produce(name, [old, old]);
      }
      expect(await log.enforceRetention(10_000_000)).toBe(2);
      expect((await log.describeTopic("events")).offsets[0]!.lowWatermark).toBe(2);
      expect((await inner.describeTopic("events")).offsets[0]!.lowWatermark).toBe(0);
      // Named topics go through the prefix too.
      await inner.produce("a.events", [old]);
      expect(await log.enforceRetention(10_000_000, ["events"])).toBe(1);
      expect((await inner.describeTopic("events")).offsets[0]!.lowWatermark).toBe(0);
    } finally {
      await inner.close();
    }
  });

  it("takes its prefix from topics.prefix or PULSE_TOPIC_PREFIX, Kafka's topic characters only", () => {
    const cwd = mkdtempSync(join(tmpdir(), "pulse-prefixed-config-"));
    dirs.push(cwd);
    expect(loadConfig({ cwd, env: {} }).topics.prefix).toBe("");
    expect(loadConfig({ cwd, env: { PULSE_TOPIC_PREFIX: "acme.prod_1-" } }).topics.prefix).toBe(
      "acme.prod_1-",
    );
    for (const bad of ["acme/", "a b", "x".repeat(201)]) {
      expect(() => loadConfig({ cwd, env: { PULSE_TOPIC_PREFIX: bad } })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ cwd, env: { PULSE_TOPIC_PREFIX: "acme/" } })).toThrow(
      /topics\.prefix.*letters, digits/s,
    );
  });
});
