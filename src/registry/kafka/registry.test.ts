// The registry fold over any Log (here the embedded one): processes agree on ids, and it fails closed.
// test/services/registry-kafka.test.ts runs it on the real Kafka broker; the registry conformance suite
// runs on it in test/registry/kafka.test.ts.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { breaking, schemaOf, v1, v2 } from "../../../test/helpers/registry.ts";
import { RegistryError } from "../../errors.ts";
import { EmbeddedLog } from "../../log/embedded/index.ts";
import type { Log } from "../../log/index.ts";
import { parseAvroSchema } from "../compatibility.ts";
import { SchemaRegistry } from "../embedded/registry.ts";
import { handleRegistryRequest } from "../../serve/routes/registry.ts";
import { KafkaSchemaRegistry } from "./registry.ts";

function openLog(): Log {
  const log = EmbeddedLog.open({ path: ":memory:" });
  onTestFinished(() => log.close());
  return log;
}

/** A registry over the log, closed before the log (cleanups run in reverse order). */
function openRegistry(log: Log, topic = "_schemas"): KafkaSchemaRegistry {
  const registry = KafkaSchemaRegistry.open({ log, topic });
  onTestFinished(() => registry.close());
  return registry;
}

async function settle(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    return { code: error.code, confluentCode: error.confluentCode, message: error.message };
  }
}

describe("KafkaSchemaRegistry over a log", () => {
  it("answers every call as the embedded registry does, errors included", async () => {
    const embedded = SchemaRegistry.open({ path: ":memory:" });
    onTestFinished(() => embedded.close());
    const shared = openRegistry(openLog());
    type Call = (registry: SchemaRegistry | KafkaSchemaRegistry) => Promise<unknown>;
    const calls: Call[] = [
      (r) => r.register("a-value", v1),
      (r) => r.register("a-value", v1),
      (r) => r.register("b-value", v1),
      (r) => r.register("a-value", breaking),
      (r) => r.register("a-value", '{"type": "recrd"}'),
      (r) => r.register("", v1),
      (r) => r.register("a-value", v2),
      (r) => r.registerVersion("c-value", '"string"'),
      (r) => r.setConfig("none", "a-value"),
      (r) => r.setConfig("sideways"),
      (r) => r.register("a-value", breaking),
      (r) => r.getSubjectConfig("a-value"),
      (r) => r.deleteConfig("b-value"),
      (r) => r.deleteConfig("a-value"),
      (r) => r.setConfig("FULL"),
      (r) => r.getConfig("a-value"),
      (r) => r.deleteVersion("a-value", 1, true),
      (r) => r.deleteVersion("a-value", 1),
      (r) => r.deleteVersion("a-value", "latest"),
      (r) => r.deleteVersion("a-value", 1, true),
      (r) => r.listVersions("a-value", { includeDeleted: true }),
      (r) => r.deleteSubject("b-value", true),
      (r) => r.deleteSubject("b-value"),
      (r) => r.deleteSubject("b-value", true),
      (r) => r.deleteSubject("nope"),
      (r) => r.listSubjects({ includeDeleted: true }),
      (r) => r.getSchemaById(1),
      (r) => r.getSubjectVersionsForId(1, { includeDeleted: true }),
      (r) => r.lookup("a-value", v2, { includeDeleted: true }),
      (r) => r.testCompatibility("c-value", undefined, '"int"'),
      (r) => r.register("b-value", v1),
      (r) => r.deleteConfig(),
      (r) => r.getLatest("b-value"),
    ];
    for (const [index, call] of calls.entries()) {
      expect(await settle(call(shared)), `call ${index}`).toEqual(await settle(call(embedded)));
    }
  });

  it("two processes on one log share ids; concurrent registrations get distinct ids both agree on", async () => {
    const log = openLog();
    const a = openRegistry(log);
    const b = openRegistry(log);
    const schemas = Array.from({ length: 12 }, (_, i) => schemaOf([{ name: "a", type: "int" }], `E${i}`));
    const ids = await Promise.all(
      schemas.map((schema, i) => (i % 2 === 0 ? a : b).register(`s${i}-value`, schema)),
    );
    expect(new Set(ids).size).toBe(12);
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const [i, schema] of schemas.entries()) {
      expect(await a.register(`s${i}-value`, schema)).toBe(ids[i]);
      expect((await b.getLatest(`s${i}-value`)).id).toBe(ids[i]);
    }
    // The same new schema from both at once: one id, one version.
    const [x, y] = await Promise.all([a.register("both-value", v1), b.register("both-value", v1)]);
    expect(x).toBe(y);
    expect(await a.listVersions("both-value")).toEqual([1]);
  });

  it("writes nothing when the schema is already registered", async () => {
    const log = openLog();
    const registry = openRegistry(log);
    await registry.register("s", v1);
    await registry.register("s", v1);
    await openRegistry(log).register("s", v1);
    expect((await log.describeTopic("_schemas")).offsets[0]!.highWatermark).toBe(1);
  });

  it("a failed operation takes no id: the next schema gets the next one everywhere", async () => {
    const log = openLog();
    const a = openRegistry(log);
    expect(await a.register("s", v1)).toBe(1);
    await expect(a.register("s", breaking)).rejects.toMatchObject({ confluentCode: 409 });
    expect(await a.register("t", '"string"')).toBe(2);
    const later = openRegistry(log);
    expect(await later.getSchemaById(2)).toBe('"string"');
    await expect(later.getSchemaById(3)).rejects.toMatchObject({ confluentCode: 40403 });
  });

  it("stops at a record that is not a Pulse operation, naming the offset and the fix", async () => {
    const log = openLog();
    const registry = openRegistry(log);
    await registry.register("s", v1);
    // What a Confluent Schema Registry writes to its own _schemas topic.
    await log.produce("_schemas", [
      { key: Buffer.from('{"keytype":"NOOP","magic":0}'), value: null, partition: 0 },
    ]);
    const error = await registry.listSubjects().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).message).toContain("offset 1");
    expect((error as RegistryError).message).toContain("registry: kafka:");
    // Every later call too: it never derives ids past a record it cannot read.
    await expect(openRegistry(log).getSchemaById(1)).rejects.toThrow(/offset 1/);
  });

  it("stops at an operation from a newer Pulse", async () => {
    const log = openLog();
    await log.ensureTopic({ name: "_schemas", partitions: 1 });
    await log.produce("_schemas", [
      { key: Buffer.from("k"), value: Buffer.from('{"pulse_registry":2,"op":"rename"}'), partition: 0 },
    ]);
    await expect(openRegistry(log).listSubjects()).rejects.toThrow(/newer Pulse.*upgrade/);
  });

  it("refuses a topic with retention or more than one partition", async () => {
    const log = openLog();
    await log.ensureTopic({ name: "kept-a-week", partitions: 1, retention: { maxAgeMs: 604_800_000 } });
    await log.ensureTopic({ name: "three", partitions: 3 });
    await expect(openRegistry(log, "kept-a-week").ready()).rejects.toThrow(/retention\.ms=604800000/);
    await expect(openRegistry(log, "three").ready()).rejects.toThrow(/3 partitions.*exactly 1/);
  });

  it("serves the Confluent REST API", async () => {
    const log = openLog();
    const registry = openRegistry(log);
    const server = http.createServer((req, res) => {
      void handleRegistryRequest(registry, req, res, new URL(req.url ?? "/", "http://x").pathname);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const posted = await fetch(`${url}/subjects/s/versions`, {
      method: "POST",
      body: JSON.stringify({ schema: v1 }),
    });
    expect(await posted.json()).toEqual({ id: 1 });
    const conflict = await fetch(`${url}/subjects/s/versions`, {
      method: "POST",
      body: JSON.stringify({ schema: breaking }),
    });
    expect(conflict.status).toBe(409);
    expect(await openRegistry(log).getSchemaById(1)).toBe(parseAvroSchema(v1).canonical);
  });
});
