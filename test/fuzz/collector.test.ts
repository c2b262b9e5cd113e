// Fuzzes the HTTP collector's body through the real producer: a 200 with a result per event, or a typed 4xx.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { ERROR_CATALOG } from "../../src/errors.ts";
import { activityProducer, type ContractProducer } from "../../src/ingest/producer.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { HttpError } from "../../src/serve/http.ts";
import type { Route } from "../../src/serve/route.ts";
import { collectorRoute } from "../../src/serve/routes/collector.ts";
import { SAMPLE_PURCHASE } from "../helpers/events.ts";
import { checkBudget, fuzzBytes, mutatedJson, oddJson, runs, withoutStacks } from "./fuzz.ts";
import { FakeResponse, fakeRequest } from "./http.ts";

const NOW = 1_704_067_300_000;
const API_KEY = "fuzz-key";
const MAX_BODY_BYTES = 16 * 1024;
const CODES = new Set<string>(Object.values(ERROR_CATALOG).flatMap((table) => Object.values(table)));

function event(i: number): UserActivityV2 {
  const view = i % 2 === 1;
  return {
    ...SAMPLE_PURCHASE,
    event_id: `0b9a3c8e-6f1d-4c2a-9b7e-${String(i).padStart(12, "0")}`,
    user_id: `user-${i}`,
    event_time: NOW - 1_000 * i,
    ...(view ? { event_type: "VIEW", amount: null, currency: null } : {}),
  };
}

const VALID_BATCHES: unknown[] = [
  [event(1)],
  [event(1), event(2), event(3)],
  [{ ...event(4), properties: { a: "b" } }],
];
const VALID_TEXTS = VALID_BATCHES.map((batch) => new TextEncoder().encode(JSON.stringify(batch)));

let dir: string;
let log: EmbeddedLog;
let registry: SchemaRegistry;
let producer: ContractProducer<UserActivityV2>;
let route: Route;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pulse-fuzz-collector-"));
  log = EmbeddedLog.open({ path: join(dir, "log.db") });
  registry = SchemaRegistry.open({ path: ":memory:" });
  producer = activityProducer({ log, serde: new AvroSerde(registry), source: "fuzz", nowMs: () => NOW });
  await producer.ensureTopics(1, {});
  route = collectorRoute({
    sink: producer,
    apiKeys: [API_KEY],
    maxBodyBytes: MAX_BODY_BYTES,
    maxPendingBatches: 4,
  });
});

afterAll(async () => {
  await log.close();
  registry.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Posts `body` and checks the answer: a 200 whose results cover every event of the array (each
 * accepted one valid Avro, each rejected one with catalog codes), or an HttpError with a 4xx and a code.
 */
async function post(body: Uint8Array, authorization: string | undefined, method = "POST"): Promise<void> {
  const started = performance.now();
  const headers = authorization === undefined ? {} : { authorization };
  const res = new FakeResponse();
  let thrown: unknown;
  try {
    await route.handler(fakeRequest(method, "/api/v1/events", headers, body), res.asServerResponse, "");
  } catch (error) {
    thrown = error;
  }
  if (thrown !== undefined) {
    if (!(thrown instanceof HttpError)) throw thrown;
    assert.ok(thrown.status >= 400 && thrown.status < 500, `status ${thrown.status} (${thrown.code})`);
    assert.ok(CODES.has(thrown.code) && thrown.message.length > 0, thrown.code);
  } else {
    assert.equal(res.statusCode, 200);
    const reply = res.json() as {
      accepted: number;
      rejected: number;
      results: Array<Record<string, unknown>>;
    };
    const events = JSON.parse(Buffer.from(body).toString("utf8")) as unknown[];
    assert.equal(reply.results.length, events.length);
    assert.equal(reply.accepted + reply.rejected, events.length);
    assert.equal(reply.results.filter((result) => result.status === "accepted").length, reply.accepted);
    reply.results.forEach((result, index) => {
      assert.equal(result.index, index);
      if (result.status === "accepted") return;
      assert.equal(result.status, "rejected");
      const errors = result.errors as Array<{ code: string; field: string; message: string }>;
      assert.ok(errors.length > 0);
      for (const error of errors) assert.ok(CODES.has(error.code) && error.message.length > 0, error.code);
    });
  }
  checkBudget(started);
}

const authorization = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${API_KEY}`), weight: 8 },
  {
    arbitrary: fc.constantFrom(undefined, "", "Bearer", `Bearer ${API_KEY}x`, `bearer  ${API_KEY} `),
    weight: 1,
  },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);

withoutStacks({ beforeAll, afterAll });

describe("fuzz: HTTP collector", () => {
  it("any body bytes get a 200 with a result per event or a 4xx with a code", async () => {
    await fc.assert(
      fc.asyncProperty(fuzzBytes(VALID_TEXTS, 2048), authorization, (body, auth) => post(body, auth)),
      runs(501),
    );
  });

  it("events with fields deleted, added or swapped for other JSON types are accepted or rejected per event", async () => {
    const batches = fc.oneof(
      { arbitrary: mutatedJson(VALID_BATCHES), weight: 8 },
      { arbitrary: fc.array(oddJson, { maxLength: 4 }), weight: 1 },
      { arbitrary: oddJson, weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(batches, (batch) =>
        post(new TextEncoder().encode(JSON.stringify(batch) ?? ""), `Bearer ${API_KEY}`),
      ),
      runs(502, 0.5),
    );
  });
});
