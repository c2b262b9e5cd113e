// Tests for the EventStreams client against a local HTTP server playing EventStreams (a test double of the cloud feed).

import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { EventStreamsClient, type EventStreamsClientOptions, type EventStreamsStatus } from "./client.ts";

const LINES = readFileSync(
  new URL("../../../fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson", import.meta.url),
  "utf8",
)
  .split("\n")
  .filter((line) => line !== "");
const META_IDS = LINES.map((line) => (JSON.parse(line) as { meta: { id: string } }).meta.id);
/** EventStreams ids are JSON arrays of topic-partition positions (fixtures/wikimedia/SOURCES.md). */
const SSE_IDS = LINES.map(
  (line) =>
    `[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":${(JSON.parse(line) as { meta: { offset: number } }).meta.offset}}]`,
);

function frame(index: number, eol = "\n"): string {
  return `event: message${eol}id: ${SSE_IDS[index]}${eol}data: ${LINES[index]}${eol}${eol}`;
}

/** Where a resumed stream starts: right after the event named by Last-Event-ID. */
function resumeIndex(lastEventId: string | undefined): number {
  if (lastEventId === undefined) return 0;
  const offset = (JSON.parse(lastEventId) as { offset: number }[])[0]!.offset;
  const index = LINES.findIndex(
    (line) => (JSON.parse(line) as { meta: { offset: number } }).meta.offset === offset,
  );
  return index + 1;
}

interface SeenRequest {
  lastEventId: string | undefined;
  accept: string | undefined;
  userAgent: string | undefined;
  atMs: number;
}

type Handler = (request: number, req: IncomingMessage, res: ServerResponse, from: number) => void;

/** A local stand-in for stream.wikimedia.org; `handle` decides what the n-th request gets. */
async function eventStreamsDouble(handle: Handler): Promise<{ url: string; requests: SeenRequest[] }> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const lastEventId = req.headers["last-event-id"] as string | undefined;
    requests.push({
      lastEventId,
      accept: req.headers.accept,
      userAgent: req.headers["user-agent"],
      atMs: performance.now(),
    });
    handle(requests.length - 1, req, res, resumeIndex(lastEventId));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v2/stream/recentchange`, requests };
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(":ok\n\n");
}

/** Streams events [from, to) and then stays open, as the real feed does. */
function streamRange(res: ServerResponse, from: number, to = LINES.length, eol = "\n"): void {
  openStream(res);
  for (let i = from; i < to; i++) res.write(frame(i, eol));
}

async function take(
  client: EventStreamsClient,
  n: number,
): Promise<{ id: string | undefined; metaId: string }[]> {
  const out: { id: string | undefined; metaId: string }[] = [];
  for await (const event of client.events()) {
    out.push({ id: event.id, metaId: (event.data.meta as { id: string }).id });
    if (out.length === n) break;
  }
  return out;
}

const FAST: EventStreamsClientOptions = { backoffInitialMs: 10, backoffMaxMs: 100, jitter: 0 };

interface Refusal {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A feed that answers its first requests with `refusals`, then streams; a client's first 80 events. */
async function takeAfterRefusals(refusals: Refusal[]) {
  const { url, requests } = await eventStreamsDouble((n, _req, res, from) => {
    const refusal = refusals[n];
    if (refusal === undefined) return streamRange(res, from);
    res.writeHead(refusal.status, refusal.headers);
    res.end(refusal.body);
  });
  const statuses: EventStreamsStatus[] = [];
  const events = await take(new EventStreamsClient({ ...FAST, url, onStatus: (s) => statuses.push(s) }), 80);
  return { events, requests, statuses };
}

describe("EventStreamsClient", () => {
  it("resumes after dropped connections with Last-Event-ID: every event exactly once, in order", async () => {
    // Each connection sends events up to `cut`, then half of the next frame, then the socket dies.
    const cuts = [10, 25, 26, 60];
    const { url, requests } = await eventStreamsDouble((n, _req, res, from) => {
      const cut = cuts[n];
      const eol = n === 1 ? "\r\n" : "\n";
      streamRange(res, from, cut ?? LINES.length, eol);
      if (cut === undefined) return;
      const partial = frame(cut, eol);
      res.write(partial.slice(0, partial.length - 40), () => setTimeout(() => res.destroy(), 20));
    });
    const statuses: EventStreamsStatus[] = [];
    const client = new EventStreamsClient({ ...FAST, url, onStatus: (s) => statuses.push(s) });
    const events = await take(client, LINES.length);

    expect(events.map((e) => e.metaId)).toEqual(META_IDS);
    expect(events.map((e) => e.id)).toEqual(SSE_IDS);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, ...cuts.map((cut) => SSE_IDS[cut - 1])]);
    expect(
      requests.every((r) => r.accept === "text/event-stream" && r.userAgent === "Pulse/0.1 (monitoring)"),
    ).toBe(true);
    expect(statuses.filter((s) => s.kind === "reconnecting")).toHaveLength(4);
    expect(statuses.filter((s) => s.kind === "connected")).toHaveLength(5);
    expect(client.lastEventId).toBe(SSE_IDS[79]);
    expect(client.stats).toMatchObject({ connects: 5, reconnects: 4, yielded: 80, rejected: 0 });
  });

  it("waits out HTTP 429 with Retry-After, then streams", async () => {
    const { events, requests, statuses } = await takeAfterRefusals([
      { status: 429, headers: { "retry-after": "1" }, body: "too many connections" },
    ]);
    expect(events.map((e) => e.metaId)).toEqual(META_IDS);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.atMs - requests[0]!.atMs).toBeGreaterThanOrEqual(900);
    expect(statuses.find((s) => s.kind === "reconnecting")).toMatchObject({
      reason: "HTTP 429",
      delayMs: 1000,
    });
  });

  it("backs off after HTTP 500 and 503, doubling the delay, then streams", async () => {
    const { events, requests, statuses } = await takeAfterRefusals([{ status: 500 }, { status: 503 }]);
    expect(events).toHaveLength(80);
    expect(requests).toHaveLength(3);
    expect(statuses.flatMap((s) => (s.kind === "reconnecting" ? [[s.reason, s.delayMs]] : []))).toEqual([
      ["HTTP 500", 10],
      ["HTTP 503", 20],
    ]);
  });

  it("filters canary events, reports error events and unparseable data without yielding them", async () => {
    const { url } = await eventStreamsDouble((_n, _req, res) => {
      openStream(res);
      for (let i = 0; i < LINES.length; i++) {
        res.write(frame(i));
        if (i % 20 === 5) {
          const canary = JSON.stringify({
            $schema: "/mediawiki/recentchange/1.0.0",
            meta: {
              domain: "canary",
              dt: "2023-07-29T07:52:00Z",
              id: `canary-${i}`,
              stream: "mediawiki.recentchange",
            },
            wiki: "canarywiki",
          });
          res.write(`event: message\ndata: ${canary}\n\n`);
        }
      }
      res.write('event: error\ndata: {"message":"consumer lagging"}\n\n');
      res.write("event: message\ndata: {not json\n\n");
      res.write("data: [1,2]\n\n");
      res.write(`event: message\ndata: ${LINES[0]}\n\n`);
    });
    const statuses: EventStreamsStatus[] = [];
    const client = new EventStreamsClient({ ...FAST, url, onStatus: (s) => statuses.push(s) });
    const events = await take(client, 81);
    expect(events.map((e) => e.metaId)).toEqual([...META_IDS, META_IDS[0]]);
    expect(client.stats).toMatchObject({
      canaries: 4,
      serverErrors: 1,
      rejected: 2,
      received: 87,
      yielded: 81,
    });
    expect(statuses.filter((s) => s.kind === "rejected").map((s) => s.kind === "rejected" && s.code)).toEqual(
      ["PULSE_WIKIMEDIA_BAD_JSON", "PULSE_WIKIMEDIA_BAD_JSON"],
    );
    expect(statuses.find((s) => s.kind === "server-error")).toMatchObject({
      message: '{"message":"consumer lagging"}',
    });
  });

  it("reports PULSE_SOURCE_UNREACHABLE for a closed port after its first-connect attempts", async () => {
    const { url } = await eventStreamsDouble(() => undefined);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const target = `http://127.0.0.1:${port}/v2/stream/recentchange`;
    expect(url).not.toBe(target);

    const statuses: EventStreamsStatus[] = [];
    const client = new EventStreamsClient({
      ...FAST,
      url: target,
      firstConnectAttempts: 2,
      onStatus: (s) => statuses.push(s),
    });
    const started = performance.now();
    const error = await take(client, 1).then(
      () => expect.unreachable("should not connect"),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "PULSE_SOURCE_UNREACHABLE", retriable: true });
    expect((error as Error).message).toBe(`cannot reach ${target} (ECONNREFUSED)`);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(statuses.map((s) => s.kind)).toEqual(["connecting", "reconnecting", "connecting", "error"]);
  });

  it("honours the server's retry: as the reconnect delay after the stream ends", async () => {
    const { url, requests } = await eventStreamsDouble((n, _req, res, from) => {
      if (n === 0) {
        openStream(res);
        res.write("retry: 40\n\n");
        for (let i = 0; i < 3; i++) res.write(frame(i));
        res.end();
        return;
      }
      streamRange(res, from);
    });
    const statuses: EventStreamsStatus[] = [];
    const client = new EventStreamsClient({ ...FAST, url, onStatus: (s) => statuses.push(s) });
    const events = await take(client, 80);
    expect(events.map((e) => e.metaId)).toEqual(META_IDS);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, SSE_IDS[2]]);
    expect(statuses.find((s) => s.kind === "reconnecting")).toMatchObject({
      reason: "stream ended",
      delayMs: 40,
    });
  });

  it("reconnects when the stream goes silent longer than idleTimeoutMs", async () => {
    const { url, requests } = await eventStreamsDouble((n, _req, res, from) => {
      streamRange(res, from, n === 0 ? 5 : LINES.length);
    });
    const statuses: EventStreamsStatus[] = [];
    const client = new EventStreamsClient({
      ...FAST,
      url,
      idleTimeoutMs: 200,
      onStatus: (s) => statuses.push(s),
    });
    const events = await take(client, 80);
    expect(events.map((e) => e.metaId)).toEqual(META_IDS);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, SSE_IDS[4]]);
    expect(statuses.find((s) => s.kind === "reconnecting")).toMatchObject({ reason: "no data for 200 ms" });
  });

  it("resumes from a saved lastEventId and stops cleanly when aborted", async () => {
    const { url, requests } = await eventStreamsDouble((_n, _req, res, from) => streamRange(res, from));
    const controller = new AbortController();
    const client = new EventStreamsClient({
      ...FAST,
      url,
      lastEventId: SSE_IDS[69],
      signal: controller.signal,
    });
    const seen: string[] = [];
    for await (const event of client.events()) {
      seen.push((event.data.meta as { id: string }).id);
      if (seen.length === 10) controller.abort();
    }
    expect(seen).toEqual(META_IDS.slice(70));
    expect(requests[0]!.lastEventId).toBe(SSE_IDS[69]);
  });

  it("gives up at once on HTTP 404 with PULSE_SOURCE_HTTP_ERROR", async () => {
    const { url } = await eventStreamsDouble((_n, _req, res) => {
      res.writeHead(404);
      res.end();
    });
    await expect(take(new EventStreamsClient({ ...FAST, url }), 1)).rejects.toMatchObject({
      code: "PULSE_SOURCE_HTTP_ERROR",
      retriable: false,
    });
  });

  it("throws PULSE_SOURCE_RETRIES_EXHAUSTED after maxRetries failures in a row", async () => {
    const { url, requests } = await eventStreamsDouble((_n, _req, res) => {
      res.writeHead(502);
      res.end();
    });
    await expect(take(new EventStreamsClient({ ...FAST, url, maxRetries: 2 }), 1)).rejects.toMatchObject({
      code: "PULSE_SOURCE_RETRIES_EXHAUSTED",
    });
    expect(requests).toHaveLength(3);
  });
});
