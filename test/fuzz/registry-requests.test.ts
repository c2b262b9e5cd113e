// Fuzzes the schema registry's REST API in process: every request gets a 2xx or a Confluent 4xx, never a 500.

import assert from "node:assert/strict";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { SCHEMA_TEXTS } from "../../src/contracts/schemas.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { handleRegistryRequest } from "../../src/serve/routes/registry.ts";
import { checkBudget, fuzzBytes, fuzzText, mutatedJson, runs, withoutStacks } from "./fuzz.ts";
import { FakeResponse, fakeRequest } from "./http.ts";

const SCHEMAS = [
  SCHEMA_TEXTS.userActivityV1,
  SCHEMA_TEXTS.userActivityV2,
  SCHEMA_TEXTS.deadLetter,
  '{"type":"record","name":"E","namespace":"t","fields":[{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}]}',
  '{"type":"enum","name":"S","symbols":["A","B"]}',
  '"string"',
  '{"type":"array","items":{"type":"map","values":"long"}}',
];
const BODIES: unknown[] = [
  ...SCHEMAS.map((schema) => ({ schema })),
  { schema: SCHEMAS[3], schemaType: "AVRO", references: [] },
  { compatibility: "BACKWARD" },
  { compatibilityLevel: "FULL_TRANSITIVE" },
];
const BODY_BYTES = BODIES.map((body) => new TextEncoder().encode(JSON.stringify(body)));

/** The API's paths, with ":" where a subject, version or id goes. */
const PATHS = [
  "/subjects",
  "/subjects/:",
  "/subjects/:/versions",
  "/subjects/:/versions/:",
  "/subjects/:/versions/:/schema",
  "/subjects/:/versions/:/referencedby",
  "/schemas/types",
  "/schemas/ids/:",
  "/schemas/ids/:/schema",
  "/schemas/ids/:/versions",
  "/compatibility/subjects/:/versions",
  "/compatibility/subjects/:/versions/:",
  "/config",
  "/config/:",
  "/mode",
];
const segment = fc.oneof(
  fc.constantFrom(
    "orders-value",
    "user-activity-value",
    "1",
    "2",
    "latest",
    "-1",
    "0",
    "%",
    "%zz",
    "%00",
    "a%2Fb",
  ),
  fc.constantFrom("99999999999999999999", "1e3", "+1", " 1", "__proto__", "constructor", "%F0%9F%98%80"),
  fc.string({ maxLength: 10 }).map(encodeURIComponent),
  fc.string({ maxLength: 6, unit: "binary" }),
);
const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "?deleted=true",
    "?permanent=true",
    "?verbose=true",
    "?defaultToGlobal=true",
    "?subjectPrefix=o",
  ),
  fc.string({ maxLength: 12 }).map((text) => `?${text}`),
);
const anyRoute = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "get", ""),
  path: fc
    .tuple(fc.constantFrom(...PATHS), fc.array(segment, { minLength: 5, maxLength: 5 }))
    .map(([path, values]) => {
      let i = 0;
      return path.replace(/:/g, () => values[i++]!);
    }),
});
/** The writes that read a body, against a subject that exists, so schema texts reach the parser. */
const bodyRoute = fc.constantFrom(
  { method: "POST", path: "/subjects/orders-value/versions" },
  { method: "POST", path: "/subjects/orders-value" },
  { method: "POST", path: "/compatibility/subjects/orders-value/versions/latest" },
  { method: "POST", path: "/compatibility/subjects/user-activity-value/versions" },
  { method: "PUT", path: "/config/orders-value" },
);
const request = fc.record({
  route: fc.oneof(anyRoute, bodyRoute),
  query,
  body: fc.oneof(
    { arbitrary: fuzzBytes(BODY_BYTES, 1024), weight: 3 },
    {
      arbitrary: mutatedJson(BODIES).map((body) => new TextEncoder().encode(JSON.stringify(body) ?? "")),
      weight: 3,
    },
    {
      arbitrary: fuzzText(SCHEMAS, 600).map((schema) => new TextEncoder().encode(JSON.stringify({ schema }))),
      weight: 4,
    },
  ),
});

let registry: SchemaRegistry;

beforeAll(async () => {
  registry = SchemaRegistry.open({ path: ":memory:" });
  await registry.register("orders-value", SCHEMAS[3]!);
  await registry.register("user-activity-value", SCHEMAS[0]!);
});

afterAll(() => registry.close());

withoutStacks({ beforeAll, afterAll });

describe("fuzz: schema registry REST requests", () => {
  it("any method, path, query and body is answered 2xx or 4xx with a Confluent error body", async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ route: { method, path }, query, body }) => {
        const started = performance.now();
        const res = new FakeResponse();
        const req = fakeRequest(method, path + query, { "content-type": "application/json" }, body);
        const served = await handleRegistryRequest(registry, req, res.asServerResponse, path + query);
        if (!served) {
          assert.equal(res.statusCode, 0);
          return;
        }
        assert.ok(
          res.statusCode >= 200 && res.statusCode < 500,
          `${method} ${path}: ${res.statusCode} ${res.body}`,
        );
        const reply = res.json() as { error_code?: unknown; message?: unknown };
        if (res.statusCode >= 400) {
          assert.equal(typeof reply.error_code, "number");
          assert.ok(typeof reply.message === "string" && reply.message.length > 0);
        }
        checkBudget(started);
      }),
      runs(601),
    );
  });
});
