// The schema registry in a Kafka topic, on the real broker: it runs the registry conformance suite, several
// registries (as several processes) share one set of ids, and `pulse` on Kafka uses it by default.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Admin, ConfigResourceTypes } from "@platformatic/kafka";
import { describe, expect, it, type TestContext } from "vitest";
import type { SchemasReport } from "../../src/cli/commands/schemas.ts";
import { openRegistry as openConfiguredRegistry } from "../../src/app/backends.ts";
import { loadConfig } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";
import { kafkaBrokers } from "../../src/log/kafka/index.ts";
import { parseAvroSchema } from "../../src/registry/compatibility.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { KafkaSchemaRegistry } from "../../src/registry/kafka/registry.ts";
import { runRegistryConformance } from "../conformance/registry.ts";
import { runPulseJson, startPulse, tempDir } from "../helpers/cli.ts";
import { breaking, rejection, schemaOf, v1, v2 } from "../helpers/registry.ts";
import { KAFKA_URL, resetKafka } from "./services.ts";

const brokers = kafkaBrokers(KAFKA_URL);

/** A topic no other test or run uses. */
function freshTopic(): string {
  return `_schemas-test-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A registry with its own Kafka connections, as a separate process would have; closed after the test. */
function openRegistry(ctx: TestContext, topic: string): KafkaSchemaRegistry {
  const registry = KafkaSchemaRegistry.open({ brokers, topic, clientId: "pulse-registry-test" });
  ctx.onTestFinished(() => registry.close());
  return registry;
}

/** Everything a registry holds, soft-deleted versions included, in a comparable form. */
async function dump(registry: SchemaRegistry | KafkaSchemaRegistry): Promise<unknown> {
  const subjects = [];
  for (const subject of await registry.listSubjects({ includeDeleted: true })) {
    const versions = [];
    for (const version of await registry.listVersions(subject, { includeDeleted: true })) {
      versions.push(await registry.getVersion(subject, version, { includeDeleted: true }));
    }
    const live = await registry.listVersions(subject).catch(() => []);
    subjects.push({ subject, versions, live, level: await registry.getSubjectConfig(subject) });
  }
  return { level: await registry.getConfig(), subjects };
}

async function topicConfigs(topic: string): Promise<Record<string, string | null | undefined>> {
  const admin = new Admin({ clientId: "pulse-registry-test-admin", bootstrapBrokers: brokers });
  try {
    const [described] = await admin.describeConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: topic,
          configurationKeys: ["cleanup.policy", "retention.ms", "retention.bytes"],
        },
      ],
    });
    return Object.fromEntries((described?.configs ?? []).map((c) => [c.name, c.value]));
  } finally {
    await admin.close();
  }
}

// Each case on a topic of its own, so ids and versions start at 1.
runRegistryConformance("KafkaSchemaRegistry on Kafka", async (ctx) => openRegistry(ctx, freshTopic()));

describe("KafkaSchemaRegistry on Kafka", () => {
  it("creates the topic compacted, with one partition and no retention", async (ctx) => {
    const topic = freshTopic();
    const registry = openRegistry(ctx, topic);
    await registry.register("s-value", v1);
    expect(await topicConfigs(topic)).toEqual({
      "cleanup.policy": "compact",
      "retention.ms": "-1",
      "retention.bytes": "-1",
    });
  });

  it("two registries see each other's registrations, deletes and config changes", async (ctx) => {
    const topic = freshTopic();
    const a = openRegistry(ctx, topic);
    const b = openRegistry(ctx, topic);

    const id = await a.register("orders-value", v1);
    expect(id).toBe(1);
    expect(await b.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
    expect(await b.getLatest("orders-value")).toMatchObject({ subject: "orders-value", version: 1, id });
    // The same schema under another subject, from the other process: the same id.
    expect(await b.register("returns-value", v1)).toBe(id);
    expect(await a.getSubjectVersionsForId(id)).toEqual([
      { subject: "orders-value", version: 1 },
      { subject: "returns-value", version: 1 },
    ]);

    // Incompatible: rejected by both, with the embedded registry's error.
    const embedded = SchemaRegistry.open({ path: ":memory:" });
    ctx.onTestFinished(() => embedded.close());
    await embedded.register("orders-value", v1);
    const expected = await rejection(embedded.register("orders-value", breaking));
    for (const registry of [a, b]) {
      const error = await rejection(registry.register("orders-value", breaking));
      expect([error.code, error.httpStatus, error.confluentCode, error.message]).toEqual([
        expected.code,
        expected.httpStatus,
        expected.confluentCode,
        expected.message,
      ]);
    }
    // ...and took no id.
    expect(await b.register("orders-value", v2)).toBe(2);

    // Config: a level set in one governs registrations in the other.
    expect(await a.setConfig("none", "orders-value")).toBe("NONE");
    expect(await b.getConfig("orders-value")).toBe("NONE");
    expect(await b.register("orders-value", breaking)).toBe(3);
    expect(await b.setConfig("FULL")).toBe("FULL");
    expect(await a.getConfig()).toBe("FULL");
    expect(await a.getConfig("returns-value")).toBe("FULL");
    expect(await b.deleteConfig("orders-value")).toBe("NONE");
    expect(await a.getSubjectConfig("orders-value")).toBeUndefined();

    // Deletes: soft in one, permanent in the other.
    expect(await a.deleteVersion("orders-value", 3)).toBe(3);
    expect(await b.listVersions("orders-value")).toEqual([1, 2]);
    expect(await b.deleteSubject("returns-value")).toEqual([1]);
    expect(await a.listSubjects()).toEqual(["orders-value"]);
    expect(await a.deleteSubject("returns-value", true)).toEqual([1]);
    expect(await b.listSubjects({ includeDeleted: true })).toEqual(["orders-value"]);
    await expect(b.getVersion("returns-value", 1, { includeDeleted: true })).rejects.toMatchObject({
      confluentCode: 40401,
    });
    // Registered again after the hard delete: a new version 1 with the schema's old id.
    expect(await b.register("returns-value", v1)).toBe(id);
    expect(await a.getLatest("returns-value")).toMatchObject({ version: 1, id });

    expect(await dump(a)).toEqual(await dump(b));
  });

  it("concurrent registrations from two registries get distinct ids that both agree on", async (ctx) => {
    const topic = freshTopic();
    const a = openRegistry(ctx, topic);
    const b = openRegistry(ctx, topic);
    await Promise.all([a.ready(), b.ready()]);
    const count = 20;
    const schemas = Array.from({ length: count }, (_, i) => schemaOf([{ name: "a", type: "int" }], `E${i}`));
    const ids = await Promise.all(
      schemas.map((schema, i) => (i % 2 === 0 ? a : b).register(`s${i}-value`, schema)),
    );
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    for (const [i, schema] of schemas.entries()) {
      expect(await (i % 2 === 0 ? b : a).register(`s${i}-value`, schema)).toBe(ids[i]);
      expect(await a.getSchemaById(ids[i]!)).toBe(await b.getSchemaById(ids[i]!));
    }
    // One new schema from both at once: one id, one version, whoever wins the race.
    const [x, y] = await Promise.all([a.register("race-value", v1), b.register("race-value", v1)]);
    expect(x).toBe(y);
    expect(await b.listVersions("race-value")).toEqual([1]);
    expect(await dump(a)).toEqual(await dump(b));
  });

  it("a registry opened later, or reopened, rebuilds the same state from the topic", async (ctx) => {
    const topic = freshTopic();
    const a = openRegistry(ctx, topic);
    const ids = [await a.register("x-value", v1), await a.register("x-value", v2)];
    await a.register("y-value", '"string"');
    await a.setConfig("FORWARD", "y-value");
    await a.deleteVersion("x-value", 1);
    await a.register("x-value", breaking).catch(() => undefined);
    const before = await dump(a);
    await a.close();

    const reopened = openRegistry(ctx, topic);
    expect(await dump(reopened)).toEqual(before);
    expect(await reopened.register("x-value", v2)).toBe(ids[1]);
    expect(await reopened.getSchemaById(ids[0]!)).toBe(parseAvroSchema(v1).canonical);
    const third = openRegistry(ctx, topic);
    expect(await dump(third)).toEqual(before);
    // Both go on from the same place.
    const next = await third.register("z-value", '"long"');
    expect(next).toBe(4);
    expect(await reopened.getSchemaById(next)).toBe('"long"');
  });
});

describe("the registry setting", () => {
  it("accepts auto and kafka:<topic>, and a Kafka registry needs a Kafka log", async (ctx) => {
    const cwd = tempDir(ctx.onTestFinished, "pulse-registry-config-");
    const config = (env: Record<string, string>) => loadConfig({ env, cwd });
    expect(config({}).registry).toBe("auto");
    expect(config({ PULSE_REGISTRY: "kafka:_pulse.schemas-1" }).registry).toBe("kafka:_pulse.schemas-1");
    for (const bad of ["kafka:", "kafka://127.0.0.1:9092", "kafka:a/b", "automatic"]) {
      expect(() => config({ PULSE_REGISTRY: bad }), bad).toThrow(/'registry'/);
    }
    // auto on the embedded log: the registry file, as before.
    const embedded = await openConfiguredRegistry(config({}));
    embedded.close();
    expect(existsSync(join(cwd, "data", "registry.db"))).toBe(true);
    await expect(openConfiguredRegistry(config({ PULSE_REGISTRY: "kafka:_schemas" }))).rejects.toThrow(
      ConfigError,
    );
    await expect(openConfiguredRegistry(config({ PULSE_REGISTRY: "kafka:_schemas" }))).rejects.toThrow(
      /set log: kafka:\/\/host:port/,
    );
  });
});

describe("pulse on Kafka with the default registry", () => {
  it("two data folders list the same schema ids, and `pulse serve` serves them", async (ctx) => {
    await resetKafka();
    const env = { PULSE_LOG: KAFKA_URL };
    const first = tempDir(ctx.onTestFinished, "pulse-registry-a-");
    const second = tempDir(ctx.onTestFinished, "pulse-registry-b-");
    await runPulseJson(["produce", "activity", "--count", "20", "--json", "--data-dir", first], {
      env,
      timeoutMs: 120_000,
    });
    const inFirst = await runPulseJson<SchemasReport>(["schemas", "--json", "--data-dir", first], { env });
    const inSecond = await runPulseJson<SchemasReport>(["schemas", "--json", "--data-dir", second], { env });
    expect(inSecond).toEqual(inFirst);
    const activity = inFirst.subjects.find((s) => s.subject === "user-activity-value");
    expect(activity?.versions.length).toBeGreaterThan(0);
    // The registry lives in the topic: neither folder has a registry file.
    expect(existsSync(join(first, "registry.db"))).toBe(false);
    expect(existsSync(join(second, "registry.db"))).toBe(false);

    // The second folder's server answers the Confluent API from the same topic.
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", second], {
      env,
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: ctx.onTestFinished,
      timeoutMs: 60_000,
    });
    const url = serve.match[1]!;
    const latest = (await (
      await fetch(`${url}/registry/subjects/user-activity-value/versions/latest`)
    ).json()) as {
      id: number;
      version: number;
    };
    expect({ version: latest.version, id: latest.id }).toEqual(activity!.versions.at(-1));
    // A schema registered over HTTP in the second is seen by `pulse schemas` in the first.
    const subject = `registry-test-${Date.now()}-value`;
    const posted = await fetch(`${url}/subjects/${subject}/versions`, {
      method: "POST",
      headers: { "Content-Type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ schema: schemaOf([{ name: "at", type: "long" }], "RegistryTest") }),
    });
    const { id } = (await posted.json()) as { id: number };
    const after = await runPulseJson<SchemasReport>(["schemas", "--json", "--data-dir", first], { env });
    expect(after.subjects.find((s) => s.subject === subject)?.versions).toEqual([{ version: 1, id }]);
  });
});
