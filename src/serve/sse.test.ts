// Tests SseHub over a real PulseServer with real clients: fetch streams read by the WHATWG parser, and raw http.get.

import http from "node:http";
import { setImmediate as yieldToIo } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { type SseMessage, SseParser } from "../ingest/wikimedia/sse.ts";
import { PulseServer } from "./server.ts";
import { SseErrorCode, SseHub, type SseHubOptions } from "./sse.ts";

const PATH = "/api/live/events";

async function startHub(options: SseHubOptions = {}): Promise<{ hub: SseHub; url: string }> {
  const hub = new SseHub(options);
  const server = new PulseServer({ host: "127.0.0.1", port: 0 });
  server.mount(PATH, hub.handler);
  const { url } = await server.listen();
  onTestFinished(async () => {
    hub.close();
    await server.close();
  });
  return { hub, url: `${url}${PATH}` };
}

/** Polls until `done()` holds; the event loop keeps running, so sockets are read meanwhile. */
async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 5));
  }
}

interface StreamClient {
  response: Response;
  messages: SseMessage[];
  comments: string[];
  /** Everything received, as text (only when keepRaw). */
  raw: () => string;
  ended: () => boolean;
  abort: () => void;
}

async function connect(
  url: string,
  options: { headers?: Record<string, string>; keepRaw?: boolean } = {},
): Promise<StreamClient> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: options.headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const parser = new SseParser({
    onMessage: (message) => messages.push(message),
    onComment: (text) => comments.push(text),
  });
  let raw = "";
  let ended = false;
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const pump = async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        if (options.keepRaw !== false) raw += text;
        parser.feed(text);
      }
    } catch {
      // Aborted by the test, or the server cut the stream: either way the stream has ended.
    } finally {
      ended = true;
    }
  };
  void pump();
  onTestFinished(() => controller.abort());
  return {
    response,
    messages,
    comments,
    raw: () => raw,
    ended: () => ended,
    abort: () => controller.abort(),
  };
}

describe("SseHub", () => {
  it("answers with event-stream headers and frames each event as id, event and one JSON data line", async () => {
    const { hub, url } = await startHub();
    const client = await connect(url);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(client.response.headers.get("cache-control")).toBe("no-cache");
    expect(client.response.headers.get("connection")).toBe("keep-alive");
    await until("the client to register", () => hub.clientCount === 1);

    hub.publish("window", { window_start: 60_000, event_count: 3 }, "w-1");
    hub.publish("alert", { text: "two\nlines", emoji: "⚡" });
    hub.publish("empty", undefined);
    await until("three messages", () => client.messages.length === 3);

    expect(client.raw()).toBe(
      "retry: 2000\n: ok\n\n" +
        'id: w-1\nevent: window\ndata: {"window_start":60000,"event_count":3}\n\n' +
        'id: 2\nevent: alert\ndata: {"text":"two\\nlines","emoji":"⚡"}\n\n' +
        "id: 3\nevent: empty\ndata: null\n\n",
    );
    expect(client.messages).toEqual([
      { event: "window", data: '{"window_start":60000,"event_count":3}', id: "w-1" },
      { event: "alert", data: '{"text":"two\\nlines","emoji":"⚡"}', id: "2" },
      { event: "empty", data: "null", id: "3" },
    ]);
    expect(JSON.parse(client.messages[1]!.data)).toEqual({ text: "two\nlines", emoji: "⚡" });
  });

  it("refuses event names and ids that would break the framing", async () => {
    const { hub } = await startHub();
    for (const [event, id] of [
      ["a\nb", undefined],
      ["ok", "1\r2"],
      ["", undefined],
    ] as const) {
      expect(() => hub.publish(event, {}, id)).toThrow(
        expect.objectContaining({ code: SseErrorCode.badField }),
      );
    }
    // A refused publish uses up no sequence number.
    expect(hub.stats().published).toBe(0);
  });

  it("sends every event to every client, in order, and forgets clients that leave", async () => {
    const { hub, url } = await startHub();
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    await until("three clients", () => hub.clientCount === 3);
    for (let i = 0; i < 50; i++) hub.publish("tick", { i });
    await until("50 messages each", () => clients.every((c) => c.messages.length === 50));
    const expected = Array.from({ length: 50 }, (_, i) => ({
      event: "tick",
      data: JSON.stringify({ i }),
      id: String(i + 1),
    }));
    for (const client of clients) expect(client.messages).toEqual(expected);

    clients[0]!.abort();
    await until("the aborted client to be forgotten", () => hub.clientCount === 2);
    hub.publish("tick", { i: 50 });
    await until(
      "one more message",
      () => clients[1]!.messages.length === 51 && clients[2]!.messages.length === 51,
    );
    expect(hub.stats()).toEqual({ clients: 2, published: 51, connected: 3, droppedSlow: 0 });
  });

  it("sends heartbeat comments while streams are open", async () => {
    const { hub, url } = await startHub({ heartbeatMs: 20 });
    const client = await connect(url);
    await until("two heartbeats", () => client.comments.filter((c) => c === " heartbeat").length >= 2);
    expect(client.messages).toEqual([]);
    expect(hub.health()).toMatchObject({ status: "ok", clients: 1 });
  });

  it("disconnects a client that stops reading, without holding up the others", async () => {
    const maxBufferedBytes = 256 * 1024;
    const { hub, url } = await startHub({ maxBufferedBytes, replayEvents: 0 });
    const fast = await connect(url, { keepRaw: false });

    // A real client that never reads: its kernel buffers fill, then the hub's per-client buffer would grow.
    let slowResponse: http.IncomingMessage | undefined;
    let slowClosed = false;
    const slow = http.get(url, (res) => {
      slowResponse = res;
      res.pause();
      res.on("error", () => {});
    });
    slow.on("error", () => {});
    slow.on("close", () => {
      slowClosed = true;
    });
    onTestFinished(() => {
      slow.destroy();
    });
    await until("two clients", () => hub.clientCount === 2);

    const payload = "x".repeat(64 * 1024);
    let sent = 0;
    // Up to 128 MiB: far more than loopback socket buffers hold, so the slow client must be dropped.
    while (hub.stats().droppedSlow === 0 && sent < 2_048) {
      hub.publish("bulk", { n: sent, payload });
      sent++;
      // The fast client keeps up: it has every event before the next one goes out.
      await until(`message ${sent}`, () => fast.messages.length === sent);
      await yieldToIo();
    }
    expect(hub.stats().droppedSlow).toBe(1);
    // The server closed the connection: once the slow client reads again it drains what the kernel holds and ends.
    slowResponse!.resume();
    await until("the slow socket to close", () => slowClosed);
    expect(hub.clientCount).toBe(1);

    hub.publish("bulk", { n: sent, payload: "" });
    await until("the fast client's last message", () => fast.messages.length === sent + 1);
    expect(fast.messages.map((m) => (JSON.parse(m.data) as { n: number }).n)).toEqual(
      Array.from({ length: sent + 1 }, (_, i) => i),
    );
    expect(fast.ended()).toBe(false);
  });

  it("replays what a reconnecting client missed after its Last-Event-ID", async () => {
    const { hub, url } = await startHub({ replayEvents: 3 });
    for (let i = 1; i <= 5; i++) hub.publish("tick", { i });

    const resumed = await connect(url, { headers: { "last-event-id": "3" } });
    await until("the two missed events", () => resumed.messages.length === 2);
    expect(resumed.messages.map((m) => m.id)).toEqual(["4", "5"]);

    // Id 1 has left the 3-event buffer: nothing is replayed, and the client is told.
    const tooOld = await connect(url, { headers: { "last-event-id": "1" } });
    await until("both clients", () => hub.clientCount === 2);
    hub.publish("tick", { i: 6 });
    await until("the live event", () => tooOld.messages.length === 1 && resumed.messages.length === 3);
    expect(tooOld.messages.map((m) => m.id)).toEqual(["6"]);
    expect(tooOld.comments).toContain(" last-event-id is not in the replay buffer; events may be missing");
  });

  it("ends every stream on close and then refuses new ones with 503", async () => {
    const { hub, url } = await startHub();
    const clients = await Promise.all([connect(url), connect(url)]);
    await until("two clients", () => hub.clientCount === 2);
    hub.publish("tick", {});
    await until("the event", () => clients.every((c) => c.messages.length === 1));

    hub.close();
    await until("both streams to end", () => clients.every((c) => c.ended()));
    expect(hub.health()).toMatchObject({ status: "off", clients: 0 });
    hub.publish("tick", {});
    expect(hub.stats().published).toBe(1);

    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({
      error: {
        code: SseErrorCode.closed,
        message: "the event stream is closed because the server is stopping",
      },
    });
  });

  it("answers 405 to other methods, 503 past maxClients, and leaves other paths to the server", async () => {
    const { hub, url } = await startHub({ maxClients: 1 });
    const post = await fetch(url, { method: "POST" });
    expect([post.status, ((await post.json()) as { error: { code: string } }).error.code]).toEqual([
      405,
      "PULSE_HTTP_METHOD",
    ]);
    await connect(url);
    await until("one client", () => hub.clientCount === 1);
    const second = await fetch(url);
    expect([second.status, second.headers.get("retry-after")]).toEqual([503, "1"]);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe(
      SseErrorCode.tooManyClients,
    );
    expect((await fetch(`${url}/other`)).status).toBe(404);
  });
});
