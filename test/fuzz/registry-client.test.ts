// Fuzzes the HTTP registry client against a real local server: each call returns its shape or throws a RegistryError.
// Each case is one round trip to one http.createServer on 127.0.0.1, its reply set before the call; the main
// property runs the full FUZZ_RUNS (10 000), since a keep-alive round trip is about a millisecond.

import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { SCHEMA_TEXTS } from "../../src/contracts/schemas.ts";
import { RegistryError } from "../../src/errors.ts";
import { compatibilityLevels } from "../../src/registry/compatibility.ts";
import { HttpRegistryClient } from "../../src/registry/http/client.ts";
import type { RegisteredSchema, SchemaRegistryAdmin } from "../../src/registry/index.ts";
import {
  CASE_BUDGET_MS,
  fuzzBytes,
  fuzzText,
  mutatedJson,
  runs,
  typedOutcomeAsync,
  withoutStacks,
} from "./fuzz.ts";

const SCHEMA = '{"type":"record","name":"O","fields":[{"name":"a","type":"int"}]}';
const REGISTERED = { subject: "orders-value", version: 1, id: 1, schema: SCHEMA };

/** The replies a Confluent registry sends, by the call that gets each. */
const VALID_REPLIES = {
  register: { id: 1 },
  getSchemaById: { schema: SCHEMA_TEXTS.userActivityV2 },
  getVersion: REGISTERED,
  getLatest: REGISTERED,
  lookup: REGISTERED,
  getSubjectVersionsForId: [{ subject: "orders-value", version: 1 }],
  listSubjects: ["orders-value", "user-activity-value"],
  listVersions: [1, 2, 3],
  testCompatibility: { is_compatible: false, messages: ["READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1"] },
  getConfig: { compatibilityLevel: "BACKWARD" },
  getSubjectConfig: { compatibilityLevel: "FULL_TRANSITIVE" },
  setConfig: { compatibility: "NONE" },
  deleteConfig: { compatibilityLevel: "FORWARD" },
  deleteSubject: [1, 2],
  deleteVersion: 2,
} satisfies Record<Call, unknown>;
const ERROR_REPLIES = [
  { error_code: 40401, message: "Subject 'orders-value' not found." },
  { error_code: 40403, message: "Schema 7 not found" },
  {
    error_code: 40408,
    message: "Subject 'orders-value' does not have subject-level compatibility configured",
  },
  { error_code: 409, message: "Schema being registered is incompatible with an earlier schema" },
  { error_code: 42201, message: "Invalid schema" },
  { error_code: 50001, message: "Error in the backend data store" },
];
const REPLIES: unknown[] = [
  ...Object.values(VALID_REPLIES),
  ...ERROR_REPLIES,
  { schema: '{"type":"nope"}' },
  { schema: SCHEMA, schemaType: "PROTOBUF" },
];
const REPLY_TEXTS = REPLIES.map((reply) => JSON.stringify(reply));
/** Numbers no id or version can be, written as JSON text since some have no JSON.stringify form. */
const EDGE_TEXTS = [
  '{"id":-1}',
  '{"id":1.5}',
  '{"id":1e400}',
  '{"id":4294967296}',
  '{"id":99999999999999999999}',
  '{"id":"1"}',
  '{"subject":"s","version":0,"id":1,"schema":"\\"int\\""}',
  '{"subject":"s","version":-1,"id":1,"schema":"\\"int\\""}',
  "[1,-2,3.5]",
  '[{"subject":"s","version":1e309}]',
  "null",
  "true",
  '""',
  "",
  '{"error_code":1e400,"message":null}',
];
const REPLY_BYTES = [...REPLY_TEXTS, ...EDGE_TEXTS].map((text) => new TextEncoder().encode(text));

interface Reply {
  /** The final status; below 200, none is sent. */
  status: number;
  /** A 1xx status sent before the real answer, as interim responses are. */
  interim?: number;
  contentType?: string;
  body: Uint8Array;
  /** The body sent in part, then the connection closed: under a Content-Length, or chunked. */
  cut?: "length" | "chunked";
}

const status = fc.oneof(
  { arbitrary: fc.constantFrom(200, 201, 204, 400, 401, 404, 409, 422, 429, 500, 502, 503), weight: 3 },
  { arbitrary: fc.integer({ min: 200, max: 599 }), weight: 1 },
);
const reply: fc.Arbitrary<Reply> = fc.record(
  {
    status,
    interim: fc.integer({ min: 100, max: 199 }),
    contentType: fc.constantFrom(
      "application/vnd.schemaregistry.v1+json",
      "application/json",
      "application/json; charset=utf-16",
      "text/html",
      "application/octet-stream",
      "",
    ),
    body: fc.oneof(
      {
        arbitrary: mutatedJson(REPLIES).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "")),
        weight: 4,
      },
      {
        arbitrary: fuzzText([...REPLY_TEXTS, ...EDGE_TEXTS]).map((t) => new TextEncoder().encode(t)),
        weight: 2,
      },
      { arbitrary: fuzzBytes(REPLY_BYTES), weight: 2 },
    ),
    cut: fc.constantFrom("length" as const, "chunked" as const),
  },
  { requiredKeys: ["status", "body"] },
);

type Call = keyof SchemaRegistryAdmin;
const CALLS = Object.keys(VALID_REPLIES) as Call[];

const call = fc.record({
  name: fc.constantFrom(...CALLS),
  version: fc.constantFrom(1 as const, "latest" as const),
  includeDeleted: fc.boolean(),
});

function invoke(
  client: HttpRegistryClient,
  { name, version, includeDeleted }: { name: Call; version: 1 | "latest"; includeDeleted: boolean },
): Promise<unknown> {
  const options = { includeDeleted };
  switch (name) {
    case "register":
      return client.register("orders-value", SCHEMA);
    case "getSchemaById":
      return client.getSchemaById(1);
    case "getVersion":
      return client.getVersion("orders-value", version, options);
    case "getLatest":
      return client.getLatest("orders-value");
    case "lookup":
      return client.lookup("orders-value", SCHEMA, options);
    case "getSubjectVersionsForId":
      return client.getSubjectVersionsForId(1, options);
    case "listSubjects":
      return client.listSubjects(options);
    case "listVersions":
      return client.listVersions("orders-value", options);
    case "testCompatibility":
      return client.testCompatibility("orders-value", includeDeleted ? undefined : version, SCHEMA);
    case "getConfig":
      return client.getConfig(includeDeleted ? undefined : "orders-value");
    case "getSubjectConfig":
      return client.getSubjectConfig("orders-value");
    case "setConfig":
      return client.setConfig("NONE", includeDeleted ? undefined : "orders-value");
    case "deleteConfig":
      return client.deleteConfig(includeDeleted ? undefined : "orders-value");
    case "deleteSubject":
      return client.deleteSubject("orders-value", includeDeleted);
    case "deleteVersion":
      return client.deleteVersion("orders-value", version, includeDeleted);
  }
}

// The shapes a call's value must have: ids fit the frame's unsigned 32-bit field, versions are positive int32.
const isId = (v: unknown): boolean =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff_ffff;
const isVersion = (v: unknown): boolean =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0x7fff_ffff;
const isString = (v: unknown): boolean => typeof v === "string";
const isLevel = (v: unknown): boolean => compatibilityLevels.includes(v as never);
const isRegistered = (v: unknown): boolean => {
  const r = v as RegisteredSchema;
  return isString(r.subject) && isVersion(r.version) && isId(r.id) && isString(r.schema);
};
const SHAPES: Record<Call, (value: unknown) => boolean> = {
  register: isId,
  getSchemaById: isString,
  getVersion: isRegistered,
  getLatest: isRegistered,
  lookup: isRegistered,
  getSubjectVersionsForId: (v) =>
    Array.isArray(v) && v.every((p) => isString(p?.subject) && isVersion(p?.version)),
  listSubjects: (v) => Array.isArray(v) && v.every(isString),
  listVersions: (v) => Array.isArray(v) && v.every(isVersion),
  testCompatibility: (v) => {
    const verdict = v as { compatible: unknown; messages: unknown };
    return (
      typeof verdict.compatible === "boolean" &&
      Array.isArray(verdict.messages) &&
      verdict.messages.every(isString)
    );
  },
  getConfig: isLevel,
  getSubjectConfig: (v) => v === undefined || isLevel(v),
  setConfig: isLevel,
  deleteConfig: isLevel,
  deleteSubject: (v) => Array.isArray(v) && v.every(isVersion),
  deleteVersion: isVersion,
};

let next: Reply;
let server: Server;
let url: string;

/** Sends `r` as the registry's answer; a status without a body (1xx, 204, 304) gets none. */
function serve(res: ServerResponse, r: Reply): void {
  if (r.interim !== undefined) res.socket?.write(`HTTP/1.1 ${r.interim} Interim\r\n\r\n`);
  if (r.status < 200) return; // no final answer: the client hears no more
  const headers: Record<string, string> = {};
  if (r.contentType) headers["content-type"] = r.contentType;
  const bodyless = r.status === 204 || r.status === 304;
  if (r.cut === undefined || bodyless || r.body.length === 0) {
    res.writeHead(r.status, headers);
    res.end(bodyless ? undefined : r.body);
    return;
  }
  if (r.cut === "length") headers["content-length"] = String(r.body.length + 1);
  res.writeHead(r.status, headers);
  res.write(r.body.subarray(0, r.body.length - (r.cut === "chunked" ? 1 : 0)), () => res.destroy());
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => serve(res, next));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

withoutStacks({ beforeAll, afterAll });

/**
 * A fresh client per case, so nothing a case caches answers the next one. Its timeout is well under the
 * case budget: a reply the client waits on stops there, and one it waits on past it is a hang.
 */
function client(timeoutMs = 300): HttpRegistryClient {
  return new HttpRegistryClient({ url, timeoutMs, unavailableRetryMs: 0 });
}

/** The call, or an untyped failure once it has not settled in twice the case budget. */
function orHang<T>(call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${2 * CASE_BUDGET_MS} ms`)), 2 * CASE_BUDGET_MS);
  });
  return Promise.race([call, hang]).finally(() => clearTimeout(timer));
}

describe("fuzz: HTTP registry client replies", () => {
  it("any reply gives each call a value of its shape or a RegistryError", async () => {
    await fc.assert(
      fc.asyncProperty(call, reply, async (c, r) => {
        next = r;
        const outcome = await typedOutcomeAsync(() => orHang(invoke(client(), c)));
        if (outcome.ok) {
          assert.ok(SHAPES[c.name](outcome.value), `${c.name} returned ${JSON.stringify(outcome.value)}`);
          // Only getSubjectConfig turns an error (40408) into a value.
          if (c.name !== "getSubjectConfig") assert.ok(r.status < 300, `${c.name} accepted HTTP ${r.status}`);
        } else {
          assert.ok(outcome.error instanceof RegistryError, `${c.name}: ${outcome.error.name}`);
        }
      }),
      runs(701),
    );
  });

  it("each call's real reply, whole, under any 2xx with a body, gives its value", async () => {
    await fc.assert(
      fc.asyncProperty(
        call,
        fc.integer({ min: 200, max: 299 }).filter((s) => s !== 204 && s !== 205),
        async (c, s) => {
          next = { status: s, body: new TextEncoder().encode(JSON.stringify(VALID_REPLIES[c.name])) };
          const value = await invoke(client(5_000), c);
          assert.ok(SHAPES[c.name](value), `${c.name} returned ${JSON.stringify(value)}`);
        },
      ),
      runs(702, 0.05),
    );
  });

  it("a registry that sends only a 1xx is silence: the call times out as unreachable", async () => {
    next = { interim: 150, status: 0, body: new Uint8Array() };
    const error = await client(200)
      .listSubjects()
      .then(
        () => assert.fail("listSubjects returned"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof RegistryError);
    assert.equal(error.code, "PULSE_REGISTRY_UNREACHABLE");
  });
});
