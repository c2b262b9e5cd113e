// HttpRegistryClient's own cases: caching, the request named in errors, failures of the transport.
// Its Confluent semantics are the registry conformance suite's (test/registry/http.test.ts runs it).

import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { breaking, rejection, v1 } from "../../../test/helpers/registry.ts";
import { startRegistryServer } from "../../../test/helpers/registry-server.ts";
import { parseAvroSchema } from "../compatibility.ts";
import { HttpRegistryClient } from "./client.ts";

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

/** A port that was just free: nothing listens there. */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("HttpRegistryClient caching", () => {
  it.each([
    ["at the root", ""],
    ["under /registry", "/registry"],
  ])(
    "caches the id of a schema in a subject, and the schema of an id (registry mounted %s)",
    async (_, prefix) => {
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
    },
  );
});

describe("HttpRegistryClient errors", () => {
  it("names the request in an error's message, after the registry's own", async () => {
    const server = await startRegistryServer();
    const client = new HttpRegistryClient({ url: server.url });
    await client.register("s", v1);
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

  it("reports an unreachable registry as retriable, once its retries are spent", async () => {
    const port = await freePort();
    const notices: string[] = [];
    const client = new HttpRegistryClient({
      url: `http://127.0.0.1:${port}`,
      timeoutMs: 2000,
      unavailableRetryMs: 700,
      onUnavailable: (message) => notices.push(message),
    });
    const startedAtMs = Date.now();
    const error = await rejection(client.getSchemaById(1));
    expect([error.code, error.retriable]).toEqual(["PULSE_REGISTRY_UNREACHABLE", true]);
    expect(error.message).toMatch(
      /gave up after \d+ s of retries\. Is the registry running at http:\/\/127\.0\.0\.1:\d+\?/,
    );
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(500);
    expect(notices).toEqual([
      `schema registry http://127.0.0.1:${port} does not answer yet; retrying for up to 1 s`,
    ]);
  });

  it("waits for a registry that starts answering later (a registry still starting, as in docker compose)", async () => {
    const port = await freePort();
    const notices: string[] = [];
    const client = new HttpRegistryClient({
      url: `http://127.0.0.1:${port}`,
      unavailableRetryMs: 20_000,
      onUnavailable: (message) => notices.push(message),
    });
    // The registry comes up 1.5 s after the first request.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end('["user-activity-value"]');
    });
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const late = setTimeout(() => server.listen(port, "127.0.0.1"), 1500);
    onTestFinished(() => clearTimeout(late));
    const startedAtMs = Date.now();
    expect(await client.listSubjects()).toEqual(["user-activity-value"]);
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(1500);
    expect(notices[0]).toBe(
      `schema registry http://127.0.0.1:${port} does not answer yet; retrying for up to 20 s`,
    );
  });

  it("does not retry an answer, only silence", async () => {
    const counter = countingFetch();
    const server = await startRegistryServer();
    const client = new HttpRegistryClient({ url: server.url, fetch: counter.fetch });
    const missing = await rejection(client.getSchemaById(99));
    expect(missing.code).toBe("PULSE_REGISTRY_SCHEMA_NOT_FOUND");
    expect(counter.requests).toHaveLength(1);
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

/** A registry that answers every request with `status` and `body`; `cut` closes the connection one byte short. */
async function replying(status: number, body: string, cut = false): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (!cut) {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(body);
        return;
      }
      res.writeHead(status, { "Content-Length": String(body.length + 1) });
      res.write(body, () => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// Found by test/fuzz/registry-client.test.ts: replies of the wrong shape came back as values or TypeErrors.
describe("HttpRegistryClient replies it cannot use", () => {
  it.each([
    ["register", "null", (c: HttpRegistryClient) => c.register("s", v1)],
    ["register", '{"id":-1}', (c: HttpRegistryClient) => c.register("s", v1)],
    ["register", '{"id":1.5}', (c: HttpRegistryClient) => c.register("s", v1)],
    ["register", '{"id":4294967296}', (c: HttpRegistryClient) => c.register("s", v1)],
    ["getSchemaById", "null", (c: HttpRegistryClient) => c.getSchemaById(1)],
    ["getSchemaById", '{"schema":"\\"int\\"","schemaType":7}', (c: HttpRegistryClient) => c.getSchemaById(1)],
    [
      "getVersion",
      '{"subject":"s","version":0,"id":1,"schema":"\\"int\\""}',
      (c: HttpRegistryClient) => c.getVersion("s", 1),
    ],
    ["listSubjects", '{"id":1}', (c: HttpRegistryClient) => c.listSubjects()],
    ["listVersions", "[1,-2]", (c: HttpRegistryClient) => c.listVersions("s")],
    ["getSubjectVersionsForId", "[null]", (c: HttpRegistryClient) => c.getSubjectVersionsForId(1)],
    ["testCompatibility", "null", (c: HttpRegistryClient) => c.testCompatibility("s", undefined, v1)],
    ["getConfig", '{"compatibilityLevel":"SOMETIMES"}', (c: HttpRegistryClient) => c.getConfig()],
    ["setConfig", "{}", (c: HttpRegistryClient) => c.setConfig("NONE")],
    ["deleteVersion", '"1"', (c: HttpRegistryClient) => c.deleteVersion("s", 1)],
  ])("%s refuses the 200 reply %s as unexpected", async (_, body, call) => {
    const client = new HttpRegistryClient({ url: await replying(200, body) });
    const error = await rejection(call(client));
    expect([error.code, error.retriable]).toEqual(["PULSE_REGISTRY_UNEXPECTED_RESPONSE", false]);
  });

  it("gives up on a 421 whose connection closes mid-body at the timeout, where Node's fetch would wait for good", async () => {
    const client = new HttpRegistryClient({
      url: await replying(421, '{"error_code":42101,"message":"x"}', true),
      timeoutMs: 300,
      unavailableRetryMs: 0,
    });
    const error = await rejection(client.listSubjects());
    expect([error.code, error.httpStatus]).toEqual(["PULSE_REGISTRY_UNEXPECTED_RESPONSE", 421]);
  });
});
