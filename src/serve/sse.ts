// Server-Sent Events broadcaster for node:http: framing, heartbeats, bounded per-client buffers, Last-Event-ID replay.

import type { IncomingMessage, ServerResponse } from "node:http";
import { PulseError, SseErrorCode } from "../errors.ts";
import { type Handler, HttpError } from "./http.ts";
import type { PartHealth } from "./route.ts";

export interface SseHubOptions {
  /** A comment line is sent this often, so proxies and idle timeouts keep the stream open. Default 15 s. */
  heartbeatMs?: number;
  /**
   * Bytes a client may have waiting in this process (its socket's send buffer above the kernel's). A
   * publish that would pass it disconnects the client instead: memory stays bounded whatever the reader
   * does, and EventSource reconnects with Last-Event-ID. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /** The newest events kept for clients that reconnect with Last-Event-ID. Default 256; 0 turns replay off. */
  replayEvents?: number;
  /** The reconnection delay sent to clients (the `retry:` field). Default 2 s. */
  retryMs?: number;
  /** Connections beyond this are refused with 503. Default 1,000. */
  maxClients?: number;
}

export interface SseHubStats {
  clients: number;
  /** Events published since the hub started. */
  published: number;
  /** Connections accepted since the hub started. */
  connected: number;
  /** Clients disconnected because they fell more than maxBufferedBytes behind. */
  droppedSlow: number;
}

/** Codes of the errors this module throws. */
export { SseErrorCode };

interface Client {
  res: ServerResponse;
}

interface Replayed {
  id: string;
  frame: Buffer;
}

const HEARTBEAT = Buffer.from(": heartbeat\n\n");

/**
 * Wire format (WHATWG HTML, "Server-sent events"), one frame per event:
 *
 *   id: <id> LF  event: <name> LF  data: <JSON> LF  LF
 *
 * JSON.stringify never emits a raw line break (it escapes them inside strings), so one `data:` line
 * always carries the whole value. Names and ids are refused when they hold CR, LF or NUL. Comment lines
 * (":" …) are heartbeats. Each frame is encoded once and the same bytes go to every client.
 *
 * Invariant: no client ever has more than maxBufferedBytes queued in this process; a write that would
 * exceed it closes that client instead.
 */
export class SseHub {
  /** Mount it where the stream lives; it answers only its mount path itself (path "" or "/"). */
  readonly handler: Handler;
  readonly #heartbeatMs: number;
  readonly #maxBufferedBytes: number;
  readonly #replayEvents: number;
  readonly #retryMs: number;
  readonly #maxClients: number;
  readonly #clients = new Set<Client>();
  readonly #replay: Replayed[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #sequence = 0;
  #connected = 0;
  #droppedSlow = 0;
  #closed = false;

  constructor(options: SseHubOptions = {}) {
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.#replayEvents = options.replayEvents ?? 256;
    this.#retryMs = options.retryMs ?? 2_000;
    this.#maxClients = options.maxClients ?? 1_000;
    this.handler = async (req, res, path) => {
      if (path !== "" && path !== "/") return false;
      this.#accept(req, res);
      return true;
    };
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  stats(): SseHubStats {
    return {
      clients: this.#clients.size,
      published: this.#sequence,
      connected: this.#connected,
      droppedSlow: this.#droppedSlow,
    };
  }

  /** For PulseServer.reportHealth: "off" once closed. */
  health(): PartHealth {
    return { status: this.#closed ? "off" : "ok", ...this.stats() };
  }

  /**
   * Sends one event to every connected client. `id` defaults to the hub's own sequence number (1, 2, …),
   * which is what Last-Event-ID refers to after a reconnect. A no-op once closed.
   */
  publish(event: string, data: unknown, id?: string): void {
    if (this.#closed) return;
    checkField("event name", event);
    if (event === "") throw new PulseError(SseErrorCode.badField, "SSE event name must not be empty.");
    const eventId = id ?? String(this.#sequence + 1);
    checkField("event id", eventId);
    this.#sequence++;
    const frame = Buffer.from(`id: ${eventId}\nevent: ${event}\ndata: ${JSON.stringify(data) ?? "null"}\n\n`);
    if (this.#replayEvents > 0) {
      this.#replay.push({ id: eventId, frame });
      if (this.#replay.length > this.#replayEvents) this.#replay.shift();
    }
    for (const client of this.#clients) this.#send(client, frame);
  }

  /** Ends every stream and refuses new ones (503); EventSource clients will retry elsewhere or later. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopHeartbeat();
    const clients = [...this.#clients];
    this.#clients.clear();
    for (const client of clients) client.res.end();
    this.#replay.length = 0;
  }

  #accept(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "GET") {
      throw new HttpError(405, "PULSE_HTTP_METHOD", "use GET to open the event stream (Server-Sent Events)");
    }
    if (this.#closed) {
      throw new HttpError(
        503,
        SseErrorCode.closed,
        "the event stream is closed because the server is stopping",
      );
    }
    if (this.#clients.size >= this.#maxClients) {
      throw new HttpError(
        503,
        SseErrorCode.tooManyClients,
        `${this.#maxClients} event streams are already open; retry later`,
        { retriable: true },
      );
    }
    const client: Client = { res };
    // Small frames must leave at once: latency from a window update to the browser is the point.
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      // Tells nginx-style proxies not to buffer the stream.
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${this.#retryMs}\n: ok\n\n`);
    const remove = () => {
      if (this.#clients.delete(client) && this.#clients.size === 0) this.#stopHeartbeat();
    };
    res.on("close", remove);
    res.on("error", remove);
    this.#clients.add(client);
    this.#connected++;
    this.#startHeartbeat();

    const lastEventId = req.headers["last-event-id"];
    if (typeof lastEventId === "string" && lastEventId !== "") this.#resume(client, lastEventId);
  }

  /** Replays what the client missed; an id no longer kept replays nothing, and the client is told so. */
  #resume(client: Client, lastEventId: string): void {
    const at = this.#replay.findIndex((entry) => entry.id === lastEventId);
    if (at < 0) {
      this.#send(
        client,
        Buffer.from(": last-event-id is not in the replay buffer; events may be missing\n\n"),
      );
      return;
    }
    for (const entry of this.#replay.slice(at + 1)) {
      if (!this.#send(client, entry.frame)) return;
    }
  }

  /** Returns false when the client was dropped for being too far behind (or is gone). */
  #send(client: Client, frame: Buffer): boolean {
    const { res } = client;
    if (res.destroyed || !this.#clients.has(client)) return false;
    if (res.writableLength + frame.length > this.#maxBufferedBytes) {
      this.#droppedSlow++;
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.#stopHeartbeat();
      res.destroy();
      return false;
    }
    res.write(frame);
    return true;
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) this.#send(client, HEARTBEAT);
    }, this.#heartbeatMs);
    // A hub with open streams must not keep a stopping process alive.
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat === undefined) return;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

function checkField(what: string, value: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new PulseError(
      SseErrorCode.badField,
      `SSE ${what} ${JSON.stringify(value)} holds a line break or NUL, which would break the event framing.`,
    );
  }
}
