// The webhook notifier against a local HTTP server: the events a failing run sends, the JSON they carry, one retry on a 5xx.
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defineDag, type OrchestrateEvent } from "../../src/orchestrate/dag.ts";
import { triggerRun } from "../../src/orchestrate/operations.ts";
import { SqliteRunStore } from "../../src/orchestrate/runs/sqlite/index.ts";
import { Scheduler } from "../../src/orchestrate/scheduler.ts";
import { webhookNotifier } from "../../src/orchestrate/webhook.ts";

interface Received {
  method: string;
  type: string | undefined;
  body: { event: OrchestrateEvent };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers each request with the next status of `statuses` (then 204), recording what it got. */
async function listen(statuses: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((req: IncomingMessage, res) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      received.push({ method: req.method ?? "", type: req.headers["content-type"], body: JSON.parse(text) });
      res.statusCode = statuses.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}/hooks/pulse`, received };
}

describe("webhookNotifier", () => {
  it("POSTs a failing run's retry, failure and run failure as JSON", async () => {
    const { url, received } = await listen();
    const dir = mkdtempSync(join(tmpdir(), "pulse-webhook-"));
    const store = SqliteRunStore.open({ path: join(dir, "runs.db") });
    const dag = defineDag({
      id: "hooked",
      schedule: "@daily",
      startDate: new Date("2026-12-01T00:00:00Z"),
      tasks: [
        {
          id: "always_fails",
          run: () => {
            throw new Error("disk full");
          },
          options: { retries: 1, retryDelayMs: 0 },
        },
      ],
    });
    const { run } = await triggerRun(store, dag, { date: new Date("2026-12-05T10:00:00Z") });
    const scheduler = new Scheduler({
      dags: [dag],
      store,
      logsDir: join(dir, "logs"),
      pollMs: 10,
      createRuns: false,
      notify: webhookNotifier(url),
    });
    scheduler.start();
    try {
      for (let i = 0; i < 500 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await scheduler.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(received.map((r) => [r.method, r.type, r.body.event.kind, r.body.event.tryNumber])).toEqual([
      ["POST", "application/json", "task_retry", 1],
      ["POST", "application/json", "task_failure", 2],
      ["POST", "application/json", "run_failure", 0],
    ]);
    expect(received[1]!.body.event).toMatchObject({
      dagId: "hooked",
      runId: run.runId,
      taskId: "always_fails",
      state: "failed",
      reason: "disk full",
      logicalDate: "2026-12-05T00:00:00.000Z",
      dataIntervalStart: "2026-12-05T00:00:00.000Z",
      dataIntervalEnd: "2026-12-06T00:00:00.000Z",
    });
  });

  it("tries once more after a 5xx, and reports a second failure", async () => {
    const { url, received } = await listen([503, 204, 500, 500]);
    const notify = webhookNotifier(url);
    const event: OrchestrateEvent = {
      kind: "run_failure",
      dagId: "d",
      runId: "r",
      taskId: null,
      tryNumber: 0,
      state: "failed",
      reason: null,
      logicalDate: "2026-12-05T00:00:00.000Z",
      dataIntervalStart: "2026-12-05T00:00:00.000Z",
      dataIntervalEnd: "2026-12-06T00:00:00.000Z",
      at: "2026-12-06T00:00:01.000Z",
    };
    await notify(event);
    expect(received).toHaveLength(2);
    await expect(notify(event)).rejects.toThrow(/did not take the run_failure event of d: HTTP 500/);
    await notify({ ...event, kind: "task_success" });
    expect(received).toHaveLength(4); // task_success is not sent by default
    expect(() => webhookNotifier("ftp://x")).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
  });
});
