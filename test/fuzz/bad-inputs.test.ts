// Feeds each file of test/fixtures/bad-inputs/ to its decoder and checks the exact code expected.json gives it.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.ts";
import { SCHEMA_TEXTS } from "../../src/contracts/schemas.ts";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { validateRecentChange } from "../../src/contracts/validate.ts";
import { PulseError } from "../../src/errors.ts";
import { parseActivityCsvHeader, parseActivityCsvLine } from "../../src/ingest/activity-csv.ts";
import { activityProducer, type ContractProducer } from "../../src/ingest/producer.ts";
import { EventStreamsClient } from "../../src/ingest/wikimedia/client.ts";
import { mapRecentChange } from "../../src/ingest/wikimedia/mapping.ts";
import { decodeBatch } from "../../src/log/embedded/batch-codec.ts";
import { decodeHeaders } from "../../src/log/embedded/header-codec.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { checkTemplate, parseTemplate, renderTemplate } from "../../src/models/jinja.ts";
import { CONTEXT_SHAPE } from "../../src/models/jinja-context.ts";
import { readProjectFile } from "../../src/models/project.ts";
import { parsePropertiesFile } from "../../src/models/properties.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { codeForConfluent, type RegistryErrorCode, registryError } from "../../src/registry/errors.ts";
import { HttpRegistryClient } from "../../src/registry/http/client.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { HttpError } from "../../src/serve/http.ts";
import type { Route } from "../../src/serve/route.ts";
import { collectorRoute } from "../../src/serve/routes/collector.ts";
import { handleRegistryRequest } from "../../src/serve/routes/registry.ts";
import { FakeResponse, fakeRequest } from "./http.ts";
import { parseContext } from "./model-context.ts";

const ROOT = new URL("../fixtures/bad-inputs/", import.meta.url).pathname;
const NOW = Date.UTC(2024, 0, 1, 12);

interface Expected {
  /** The code the decoder rejects the file with (the first one, when it gives several). */
  code: string;
  /** For the registry: "METHOD /path" the file is the body of; for the registry client: the call it answers. */
  request?: string;
  /** Why the case is here, when the fuzz suite found it. */
  regression?: string;
}

const EXPECTED = JSON.parse(readFileSync(join(ROOT, "expected.json"), "utf8")) as Record<string, Expected>;

/** The code a decoder gives: a PulseError's, or a result's; "accepted" when the input passes. */
async function codeOf(work: () => unknown): Promise<string> {
  try {
    const result = await work();
    return typeof result === "string" ? result : "accepted";
  } catch (error) {
    if (error instanceof PulseError) return error.code;
    throw error;
  }
}

/** Mapping and validation of one recentchange, as the Wikimedia producer runs them. */
function recentChangeCode(raw: unknown): string {
  const mapped = mapRecentChange(raw);
  if (!mapped.ok) return mapped.code;
  const validated = validateRecentChange(mapped.value, { nowMs: NOW });
  return validated.ok ? "accepted" : validated.errors[0]!.code;
}

let scratch: string;
let log: EmbeddedLog;
let registry: SchemaRegistry;
let serde: AvroSerde;
let producer: ContractProducer<UserActivityV2>;
let collector: Route;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "pulse-bad-inputs-"));
  log = EmbeddedLog.open({ path: join(scratch, "log.db") });
  registry = SchemaRegistry.open({ path: ":memory:" });
  serde = new AvroSerde(registry);
  // The frames in serde/ were written with UserActivity v2 as schema id 1.
  await serde.encoder("user-activity-value", SCHEMA_TEXTS.userActivityV2);
  await registry.register(
    "orders-value",
    '{"type":"record","name":"O","fields":[{"name":"a","type":"int"}]}',
  );
  producer = activityProducer({ log, serde, source: "bad-inputs", nowMs: () => NOW });
  await producer.ensureTopics(1, {});
  collector = collectorRoute({ sink: producer, apiKeys: ["k"], maxBodyBytes: 1 << 16, maxPendingBatches: 4 });
});

afterAll(async () => {
  await log.close();
  registry.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The first code an SSE body gets from the real EventStreams client, served once over HTTP. */
async function sseCode(body: Buffer): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const controller = new AbortController();
  const codes: string[] = [];
  const client = new EventStreamsClient({
    url: `http://127.0.0.1:${port}/`,
    signal: controller.signal,
    backoffInitialMs: 1,
    jitter: 0,
    onStatus: (status) => {
      if (status.kind === "rejected") codes.push(status.code);
      // The body is served once: the reconnect after it ends is where the case stops.
      if (status.kind === "reconnecting") controller.abort();
    },
  });
  try {
    for await (const event of client.events()) codes.push(recentChangeCode(event.data));
  } finally {
    await new Promise((done) => server.close(done));
  }
  return codes[0] ?? "accepted";
}

async function collectorCode(body: Buffer): Promise<string> {
  const res = new FakeResponse();
  const req = fakeRequest("POST", "/api/v1/events", { authorization: "Bearer k" }, body);
  try {
    await collector.handler(req, res.asServerResponse, "");
  } catch (error) {
    if (error instanceof HttpError) return error.code;
    throw error;
  }
  const reply = res.json() as { results: Array<{ errors?: Array<{ code: string }> }> };
  return reply.results[0]?.errors?.[0]?.code ?? "accepted";
}

/**
 * The registry answers with Confluent's error_code, which some codes share (42201): the answer is
 * checked against the status and error_code of the expected code, and that code is returned when they match.
 */
async function registryCode(body: Buffer, expected: Expected): Promise<string> {
  const [method, path] = expected.request!.split(" ") as [string, string];
  const res = new FakeResponse();
  await handleRegistryRequest(registry, fakeRequest(method, path, {}, body), res.asServerResponse, path);
  if (res.statusCode < 400) return "accepted";
  const errorCode = (res.json() as { error_code: number }).error_code;
  const wanted = registryError(expected.code as RegistryErrorCode, "");
  if (wanted.httpStatus === res.statusCode && wanted.confluentCode === errorCode) return expected.code;
  return codeForConfluent(errorCode, res.statusCode);
}

/** The code the HTTP registry client gets for a 200 reply of `body` to the call `expected.request`, served once. */
async function registryClientCode(body: Buffer, expected: Expected): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const client = new HttpRegistryClient({ url: `http://127.0.0.1:${port}`, unavailableRetryMs: 0 });
  const schema = '{"type":"record","name":"O","fields":[{"name":"a","type":"int"}]}';
  const calls: Record<string, () => Promise<unknown>> = {
    register: () => client.register("orders-value", schema),
    getSchemaById: () => client.getSchemaById(1),
    deleteSubject: () => client.deleteSubject("orders-value"),
    getSubjectVersionsForId: () => client.getSubjectVersionsForId(1),
  };
  try {
    return await codeOf(calls[expected.request!]!);
  } finally {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
}

function csvCode(text: string): string {
  const [header, row] = text.split(/\r?\n/) as [string, string];
  const parsed = parseActivityCsvHeader(header);
  if (!parsed.ok) return parsed.code;
  const record = parseActivityCsvLine(row, parsed.columns, 2);
  return record.ok ? "accepted" : record.code;
}

function modelCode(file: string, text: string): Promise<string> {
  return codeOf(() => {
    if (file.startsWith("dbt_project-")) {
      const dir = mkdtempSync(join(scratch, "project-"));
      writeFileSync(join(dir, "dbt_project.yml"), text);
      return readProjectFile(dir);
    }
    if (file.endsWith(".yml")) return parsePropertiesFile(`models/${file}`, text);
    const parsed = parseTemplate(`models/${file}`, text);
    checkTemplate(parsed, CONTEXT_SHAPE, new Set());
    return renderTemplate(parsed, parseContext([]));
  });
}

/** The code of one corpus file, by the folder it is in. */
async function decode(name: string, expected: Expected): Promise<string> {
  const [target, file] = name.split("/") as [string, string];
  const bytes = readFileSync(join(ROOT, name));
  const text = bytes.toString("utf8");
  switch (target) {
    case "serde":
      return codeOf(() => serde.decode(bytes));
    case "log-batch":
      return codeOf(() => decodeBatch(bytes, { topic: "t", partition: 0, baseOffset: 0 }));
    case "log-headers":
      return codeOf(() => decodeHeaders(bytes));
    case "sse":
      return sseCode(bytes);
    case "wikimedia":
      return recentChangeCode(JSON.parse(text));
    case "csv":
      return csvCode(text);
    case "collector":
      return collectorCode(bytes);
    case "registry":
      return registryCode(bytes, expected);
    case "registry-client":
      return registryClientCode(bytes, expected);
    case "config": {
      const path = join(scratch, file);
      writeFileSync(path, bytes);
      return codeOf(() => loadConfig({ file: path, env: {}, cwd: scratch }));
    }
    case "models":
      return modelCode(file, text);
    default:
      throw new Error(`no decoder for the folder ${target} of ${name}`);
  }
}

describe("bad-inputs corpus", () => {
  it("has an expected code for every file and a file for every expected code", () => {
    const files = readdirSync(ROOT).flatMap((folder) =>
      statSync(join(ROOT, folder)).isDirectory()
        ? readdirSync(join(ROOT, folder)).map((f) => `${folder}/${f}`)
        : [],
    );
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))("%s is rejected with its code", async (name, expected) => {
    expect(await decode(name, expected)).toBe(expected.code);
  });
});
