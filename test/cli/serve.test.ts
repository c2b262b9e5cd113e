// `pulse serve` end to end: the HTTP collector's answers (401/400/413/429/200), the registry REST API and 404s.
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";
import type { DeadLetter, UserActivityV2 } from "../../src/contracts/types.ts";
import { runPulse, runPulseJson, startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.ts";
import { readTopic } from "../helpers/topics.ts";

const TIMEOUT_MS = 120_000;
const MAX_BODY_BYTES = 2048;
const REGISTRY_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
const SUBJECTS = [
  "user-activity-value",
  "user-activity.dlq-value",
  "wikimedia.recentchange-value",
  "wikimedia.recentchange.dlq-value",
];

interface ErrorBody {
  error: { code: string; message: string };
}

interface CollectorAnswer {
  accepted: number;
  rejected: number;
  results: Array<{
    index: number;
    status: string;
    errors?: Array<{ code: string; field: string; message: string }>;
  }>;
}

function validEvent(overrides: Partial<Record<keyof UserActivityV2, unknown>> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    user_id: `user-${randomUUID().slice(0, 8)}`,
    session_id: randomUUID(),
    event_type: "VIEW",
    event_time: Date.now(),
    page: "/product/42",
    device: "DESKTOP",
    ...overrides,
  };
}

// The tests of this describe share one server and one data folder, and run in order: the last ones check
// that nothing but the mixed batch was stored by everything before them.
describe("pulse serve with PULSE_API_KEYS=k1,k2", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let url: string;
  let events: string;
  /** The events of the mixed batch: indexes 0, 2, 4 valid, 1 and 3 invalid. */
  const batch = [
    validEvent({ event_time: new Date().toISOString() }),
    validEvent({ event_type: "PURCHASE", page: "/checkout", amount: -5, currency: "EUR" }),
    validEvent({
      event_type: "PURCHASE",
      page: "/checkout",
      amount: 19.99,
      currency: "EUR",
      device: "MOBILE",
    }),
    validEvent({ user_id: "" }),
    validEvent({ device: "TABLET", country: "DE" }),
  ];

  beforeAll(async () => {
    const dir = tempDir(cleanups.add);
    dataDir = join(dir, "data");
    const config = join(dir, "pulse.config.yaml");
    writeFileSync(config, `collector:\n  max_body_bytes: ${MAX_BODY_BYTES}\n  max_pending_batches: 1\n`);
    const serve = await startPulse(["serve", "--port", "0", "--config", config, "--data-dir", dataDir], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      env: { PULSE_API_KEYS: "k1,k2" },
      onCleanup: cleanups.add,
    });
    url = serve.match[1]!;
    events = `${url}/api/v1/events`;
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  async function post(body: string, key?: string): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    return fetch(events, { method: "POST", headers, body });
  }

  async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
    return body;
  }

  async function health(): Promise<{
    status: number;
    body: { status: string; parts: Record<string, Record<string, unknown>> };
  }> {
    const response = await fetch(`${url}/api/health`);
    return { status: response.status, body: (await response.json()) as never };
  }

  /** Polls /api/health until the collector reports `pending` requests in flight. */
  async function waitForPending(pending: number): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      if ((await health()).body.parts["collector"]?.["pending"] === pending) return;
      await sleep(50);
    }
    throw new Error(`the collector never reported ${pending} pending requests`);
  }

  async function messagesOn(topic: string): Promise<number | undefined> {
    const report = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir]);
    return report.topics.find((t) => t.name === topic)?.messages;
  }

  it("answers 401 with a code without an Authorization header, and with a wrong key", async () => {
    const missing = await expectError(
      await post(JSON.stringify([validEvent()])),
      401,
      "PULSE_COLLECTOR_UNAUTHORIZED",
    );
    expect(missing.error.message).toContain("Authorization: Bearer");
    await expectError(await post(JSON.stringify([validEvent()]), "k3"), 401, "PULSE_COLLECTOR_UNAUTHORIZED");
    // A prefix of a valid key is not a valid key.
    await expectError(await post(JSON.stringify([validEvent()]), "k"), 401, "PULSE_COLLECTOR_UNAUTHORIZED");
  });

  it("answers 400 to a body that is not JSON, and to a JSON object instead of an array", async () => {
    await expectError(await post("[{", "k1"), 400, "PULSE_HTTP_BAD_JSON");
    const notArray = await expectError(
      await post(JSON.stringify(validEvent()), "k2"),
      400,
      "PULSE_COLLECTOR_NOT_AN_ARRAY",
    );
    expect(notArray.error.message).toContain("array");
  });

  it("answers 413 to a body over collector.max_body_bytes, declared or streamed", async () => {
    const big = JSON.stringify(Array.from({ length: 20 }, () => validEvent()));
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_BODY_BYTES);
    const declared = await expectError(await post(big, "k1"), 413, "PULSE_HTTP_BODY_TOO_LARGE");
    expect(declared.error.message).toContain(String(MAX_BODY_BYTES));

    // Chunked, without content-length: the collector must count the bytes as they arrive.
    const streamed = await new Promise<{ status: number; body: ErrorBody }>((resolve, reject) => {
      const req = request(events, { method: "POST", headers: { authorization: "Bearer k1" } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) as ErrorBody }));
      });
      req.on("error", reject);
      for (let i = 0; i < big.length; i += 500) req.write(big.slice(i, i + 500));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe("PULSE_HTTP_BODY_TOO_LARGE");
  });

  it(
    "accepts the valid events of a mixed batch and dead-letters the others, answering per index",
    async () => {
      const response = await post(JSON.stringify(batch), "k2");
      expect(response.status).toBe(200);
      const answer = (await response.json()) as CollectorAnswer;
      expect(answer.accepted).toBe(3);
      expect(answer.rejected).toBe(2);
      expect(answer.results.map((r) => [r.index, r.status])).toEqual([
        [0, "accepted"],
        [1, "rejected"],
        [2, "accepted"],
        [3, "rejected"],
        [4, "accepted"],
      ]);
      expect(answer.results[1]!.errors).toEqual([
        expect.objectContaining({ code: "PULSE_VALIDATION_NEGATIVE_AMOUNT", field: "amount" }),
      ]);
      expect(answer.results[3]!.errors).toEqual([
        expect.objectContaining({ code: "PULSE_VALIDATION_EMPTY_USER_ID", field: "user_id" }),
      ]);

      expect(await messagesOn("user-activity")).toBe(3);
      expect(await messagesOn("user-activity.dlq")).toBe(2);

      const stored = await readTopic<UserActivityV2>(dataDir, "user-activity");
      expect(stored.map((r) => r.value.event_id).sort()).toEqual(
        [batch[0], batch[2], batch[4]].map((e) => e.event_id).sort(),
      );
      for (const { key, value } of stored) expect(key).toBe(value.user_id);
      const first = stored.find((r) => r.value.event_id === batch[0]!.event_id)!;
      // The ISO-8601 event_time was stored as ms since the epoch.
      expect(first.value.event_time).toBe(Date.parse(batch[0]!.event_time as string));

      const letters = await readTopic<DeadLetter>(dataDir, "user-activity.dlq");
      expect(letters.map((l) => l.value.error_code).sort()).toEqual([
        "PULSE_VALIDATION_EMPTY_USER_ID",
        "PULSE_VALIDATION_NEGATIVE_AMOUNT",
      ]);
      for (const { value } of letters) expect(value.source_topic).toBe("user-activity");
      const rawIds = letters.map(
        (l) => (JSON.parse(l.value.raw.toString("utf8")) as { event_id: string }).event_id,
      );
      expect(rawIds.sort()).toEqual([batch[1], batch[3]].map((e) => e.event_id).sort());
    },
    TIMEOUT_MS,
  );

  it("answers 429 while collector.max_pending_batches requests are in flight, then recovers", async () => {
    // A request whose body never finishes holds the only pending slot.
    const slow = request(events, {
      method: "POST",
      headers: { authorization: "Bearer k1", "content-type": "application/json" },
    });
    slow.on("error", () => undefined);
    slow.write(`[${JSON.stringify(validEvent())}`);
    try {
      await waitForPending(1);
      const busy = await post(JSON.stringify([validEvent()]), "k2");
      expect(busy.headers.get("retry-after")).toBe("1");
      const body = await expectError(busy, 429, "PULSE_COLLECTOR_BUSY");
      expect(body.error.message).toMatch(/retry/);
    } finally {
      slow.destroy();
    }
    await waitForPending(0);
    const empty = await post("[]", "k1");
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ accepted: 0, rejected: 0, results: [] });
  });

  it("answers 404 with a JSON error to an unknown route, and 405 to GET on the collector", async () => {
    const missing = await fetch(`${url}/no/such/route`);
    await expectError(missing, 404, "PULSE_HTTP_NOT_FOUND");
    await expectError(await fetch(events), 405, "PULSE_HTTP_METHOD");
  });

  it("serves the registry's GET /subjects at the root and under /registry", async () => {
    for (const base of [url, `${url}/registry`]) {
      const response = await fetch(`${base}/subjects`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(REGISTRY_CONTENT_TYPE);
      expect(((await response.json()) as string[]).sort()).toEqual(SUBJECTS);
    }
  });

  it("keeps answering after every error case, having stored only the mixed batch", async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(Object.keys(body.parts).sort()).toEqual(["collector", "log", "registry"]);
    expect(body.parts["collector"]).toMatchObject({ status: "ok", accepted: 3, rejected: 2, pending: 0 });
    expect(await messagesOn("user-activity")).toBe(3);
    expect(await messagesOn("user-activity.dlq")).toBe(2);
  });

  it("serves /metrics: the collector's totals per topic, the registry's requests, no stream job", async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusText(await response.text());
    expect(sampleValue(families, "pulse_ingest_records_total", { topic: "user-activity" })).toBe(3);
    expect(sampleValue(families, "pulse_ingest_dead_letters_total", { topic: "user-activity" })).toBe(2);
    // The registry test's two GET /subjects, at the root and under /registry.
    const requests = (route: string) =>
      sampleValue(families, "pulse_http_request_duration_seconds_count", {
        method: "GET",
        route,
        status: "200",
      });
    expect([requests("/*"), requests("/registry/*")]).toEqual([1, 1]);
    expect([...families.keys()].filter((name) => name.startsWith("pulse_stream_"))).toEqual([]);
  });
});

describe("pulse serve on a port in use", () => {
  it("stops with a configuration error naming the address and the fix", async ({ onTestFinished }) => {
    const { createServer } = await import("node:net");
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as { port: number }).port;
    const result = await runPulse(["serve", "--port", String(port), "--data-dir", tempDir(onTestFinished)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${port} is already in use`);
    expect(result.stderr).toMatch(/--port or PULSE_PORT .*\[PULSE_CONFIG_INVALID\]/);
    expect(result.stderr).not.toMatch(/at Server\./);
  });
});
