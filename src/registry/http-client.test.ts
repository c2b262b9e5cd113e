// Tests HttpRegistryClient against a real HTTP server running the embedded registry.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { RegistryError } from "../errors.ts";
import { parseAvroSchema } from "./compatibility.ts";
import { HttpRegistryClient } from "./http-client.ts";
import { startRegistryServer } from "../../test/helpers/registry-server.ts";

const v1 = JSON.stringify({
  type: "record",
  name: "E",
  namespace: "t",
  fields: [{ name: "a", type: "int" }],
});
const v2 = JSON.stringify({
  type: "record",
  name: "E",
  namespace: "t",
  fields: [
    { name: "a", type: "int" },
    { name: "b", type: ["null", "string"], default: null },
  ],
});
const breaking = JSON.stringify({
  type: "record",
  name: "E",
  namespace: "t",
  fields: [{ name: "a", type: "string" }],
});

/** Counts requests, so caching is observable. */
function countingFetch(): { fetch: typeof fetch; requests: string[] } {
  const requests: string[] = [];
  return {
    requests,
    fetch: (input, init) => {
      requests.push(`${init?.method ?? "GET"} ${String(input)}`);
      return fetch(input, init);
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  return expect.unreachable("expected a RegistryError");
}

describe.each([
  ["at the root", ""],
  ["under /registry", "/registry"],
])("HttpRegistryClient, registry mounted %s", (_, prefix) => {
  it("registers, reads back and caches", async () => {
    const server = await startRegistryServer({ prefix });
    const counter = countingFetch();
    const client = new HttpRegistryClient({ url: `${server.url}/`, fetch: counter.fetch });
    const id = await client.register("s", v1);
    expect(id).toBe(1);
    expect(await client.register("s", ` ${v1} `)).toBe(id);
    expect(await client.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
    expect(await client.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
    expect(counter.requests).toEqual([
      `POST ${server.url}/subjects/s/versions`,
      `GET ${server.url}/schemas/ids/1`,
    ]);

    expect(await client.register("s", v2)).toBe(2);
    expect(await client.getLatest("s")).toEqual({
      subject: "s",
      version: 2,
      id: 2,
      schema: parseAvroSchema(v2).canonical,
    });
    expect(await client.getVersion("s", 1)).toMatchObject({ version: 1, id: 1 });
    expect(await client.lookup("s", v1)).toMatchObject({ version: 1, id: 1 });
    expect(await client.listSubjects()).toEqual(["s"]);
    expect(await client.listVersions("s")).toEqual([1, 2]);
  });

  it("manages config, compatibility and deletes", async () => {
    const server = await startRegistryServer({ prefix });
    const client = new HttpRegistryClient({ url: server.url });
    await client.register("s", v1);
    expect(await client.getConfig()).toBe("BACKWARD");
    expect(await client.getConfig("s")).toBe("BACKWARD");
    expect(await client.setConfig("FULL", "s")).toBe("FULL");
    expect(await client.getConfig("s")).toBe("FULL");
    expect(await client.testCompatibility("s", "latest", v2)).toEqual({ compatible: true, messages: [] });
    const refused = await client.testCompatibility("s", undefined, breaking);
    expect(refused.compatible).toBe(false);
    expect(refused.messages).toHaveLength(2);
    expect(await client.deleteVersion("s", 1)).toBe(1);
    expect(await client.listSubjects({ includeDeleted: true })).toEqual(["s"]);
    expect(await client.deleteSubject("s", true)).toEqual([1]);
    expect(await client.listSubjects({ includeDeleted: true })).toEqual([]);
  });
});

describe("HttpRegistryClient errors", () => {
  it("maps Confluent error responses to RegistryErrors with the catalog code", async () => {
    const server = await startRegistryServer();
    const client = new HttpRegistryClient({ url: server.url });
    await client.register("s", v1);
    // Thunks, so no promise rejects before the loop awaits it.
    const cases: [() => Promise<unknown>, string, number, number][] = [
      [() => client.getLatest("nope"), "PULSE_REGISTRY_SUBJECT_NOT_FOUND", 404, 40401],
      [() => client.getVersion("s", 3), "PULSE_REGISTRY_VERSION_NOT_FOUND", 404, 40402],
      [() => client.getSchemaById(77), "PULSE_REGISTRY_SCHEMA_NOT_FOUND", 404, 40403],
      [() => client.register("s", breaking), "PULSE_REGISTRY_INCOMPATIBLE", 409, 409],
      [
        () => client.setConfig("SIDEWAYS" as "FULL"),
        "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
        422,
        42203,
      ],
      [() => client.getVersion("s", 0), "PULSE_REGISTRY_INVALID_VERSION", 422, 42202],
    ];
    for (const [run, code, httpStatus, confluentCode] of cases) {
      const error = await rejection(run());
      expect([error.code, error.httpStatus, error.confluentCode, error.retriable]).toEqual([
        code,
        httpStatus,
        confluentCode,
        false,
      ]);
    }
    const incompatible = await rejection(client.register("s", breaking));
    expect(incompatible.message).toContain(`TYPE_MISMATCH at /fields/a/type`);
    expect(incompatible.message).toContain(`(POST ${server.url}/subjects/s/versions)`);
  });

  it("rejects an invalid schema locally with 42201, before any request", async () => {
    const counter = countingFetch();
    const client = new HttpRegistryClient({ url: "http://127.0.0.1:9", fetch: counter.fetch });
    const error = await rejection(client.register("s", '{"type":"nope"}'));
    expect([error.code, error.confluentCode]).toEqual(["PULSE_REGISTRY_INVALID_SCHEMA", 42201]);
    expect(counter.requests).toEqual([]);
  });

  it("reports an unreachable registry as retriable", async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = new HttpRegistryClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const error = await rejection(client.getSchemaById(1));
    expect([error.code, error.retriable]).toEqual(["PULSE_REGISTRY_UNREACHABLE", true]);
  });

  it("reports a 5xx as retriable and a non-JSON success as unexpected", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/schemas/ids/1") {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end("boom");
      } else {
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end("<html></html>");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const client = new HttpRegistryClient({ url: `http://127.0.0.1:${port}` });
    const failed = await rejection(client.getSchemaById(1));
    expect([failed.code, failed.httpStatus, failed.retriable]).toEqual([
      "PULSE_REGISTRY_STORE_FAILED",
      500,
      true,
    ]);
    const odd = await rejection(client.listSubjects());
    expect([odd.code, odd.retriable]).toEqual(["PULSE_REGISTRY_UNEXPECTED_RESPONSE", false]);
  });
});
