// Wikimedia EventStreams client: SSE over fetch, resumes by Last-Event-ID, backs off, reports status.

import { setTimeout as sleep } from "node:timers/promises";
import { SourceError, SourceErrorCode, WikimediaErrorCode } from "../../errors.ts";
import { isCanary } from "./mapping.ts";
import { type SseMessage, SseParser } from "./sse.ts";

export const DEFAULT_EVENTSTREAMS_URL = "https://stream.wikimedia.org/v2/stream/recentchange";
const DEFAULT_USER_AGENT = "Pulse/0.1 (monitoring)";

/** The codes this client reports, from the catalog's source and Wikimedia areas. */
export const EventStreamsCode = {
  unreachable: SourceErrorCode.unreachable,
  httpError: SourceErrorCode.httpError,
  retriesExhausted: SourceErrorCode.retriesExhausted,
  badJson: WikimediaErrorCode.badJson,
} as const;

export interface EventStreamsClientOptions {
  url?: string;
  /** Time allowed for the response headers of one connection attempt (default 10,000). */
  connectTimeoutMs?: number;
  /** Reconnect when no bytes arrive for this long; 0 turns it off (default 60,000; the feed runs at tens/s). */
  idleTimeoutMs?: number;
  /** First reconnect delay when the server sent no `retry:` (default 1,000). */
  backoffInitialMs?: number;
  /** Ceiling of the doubling backoff (default 30,000). */
  backoffMaxMs?: number;
  /** Each delay is cut by up to this share at random, so clients do not reconnect in lockstep (default 0.2). */
  jitter?: number;
  /** Consecutive failed attempts before events() throws; default: retry until aborted. */
  maxRetries?: number;
  /** Network failures before any connection succeeded after which the source is unreachable (default 3). */
  firstConnectAttempts?: number;
  /** Resume after this event id (a previous run's `lastEventId`). */
  lastEventId?: string;
  signal?: AbortSignal;
  userAgent?: string;
  onStatus?: (status: EventStreamsStatus) => void;
}

export type EventStreamsStatus =
  | { kind: "connecting"; url: string; attempt: number }
  | { kind: "connected"; url: string }
  | { kind: "reconnecting"; reason: string; delayMs: number; attempt: number }
  /** An event whose data is not a JSON object; counted and skipped. */
  | { kind: "rejected"; code: string; message: string }
  /** The server sent `event: error`. */
  | { kind: "server-error"; message: string }
  /** Fatal: events() throws this error next. */
  | { kind: "error"; error: SourceError };

export interface EventStreamsEvent {
  /** The SSE id (a JSON array of topic-partition positions on EventStreams). */
  id: string | undefined;
  data: Record<string, unknown>;
}

export interface EventStreamsStats {
  connects: number;
  reconnects: number;
  received: number;
  yielded: number;
  canaries: number;
  rejected: number;
  serverErrors: number;
}

/** Errno codes that mean "no route to the server", as opposed to a server that misbehaved. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** fetch wraps the socket error (TypeError "fetch failed" → cause, or an AggregateError of addresses). */
function errorCodes(error: unknown, depth = 0): string[] {
  if (depth > 4 || typeof error !== "object" || error === null) return [];
  const codes: string[] = [];
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") codes.push(code);
  codes.push(...errorCodes((error as { cause?: unknown }).cause, depth + 1));
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested)) for (const inner of nested) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

function describe(error: unknown): string {
  const codes = errorCodes(error);
  if (codes.length > 0) return codes[0]!;
  return error instanceof Error ? error.message : String(error);
}

/** Retry-After: delay-seconds or an HTTP-date (RFC 9110, 10.2.3). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number.parseInt(trimmed, 10) * 1000;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export class EventStreamsClient {
  readonly url: string;
  readonly #options: EventStreamsClientOptions;
  #lastEventId: string | undefined;
  /** The server's `retry:`; it replaces backoffInitialMs as the base delay. */
  #serverRetryMs: number | undefined;
  readonly #stats: EventStreamsStats = {
    connects: 0,
    reconnects: 0,
    received: 0,
    yielded: 0,
    canaries: 0,
    rejected: 0,
    serverErrors: 0,
  };

  constructor(options: EventStreamsClientOptions = {}) {
    this.url = options.url ?? DEFAULT_EVENTSTREAMS_URL;
    this.#options = options;
    this.#lastEventId = options.lastEventId === "" ? undefined : options.lastEventId;
  }

  /** The id of the last event taken from the stream; persist it to resume a later run without a gap. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  get stats(): Readonly<EventStreamsStats> {
    return { ...this.#stats };
  }

  #status(status: EventStreamsStatus): void {
    this.#options.onStatus?.(status);
  }

  #fail(error: SourceError): never {
    this.#status({ kind: "error", error });
    throw error;
  }

  #delayMs(failures: number, retryAfterMs: number | undefined): number {
    const { backoffInitialMs = 1000, backoffMaxMs = 30_000, jitter = 0.2 } = this.#options;
    const base = this.#serverRetryMs ?? backoffInitialMs;
    const ceiling = Math.max(backoffMaxMs, base);
    let delay = Math.min(ceiling, base * 2 ** Math.max(0, failures - 1));
    delay *= 1 - Math.min(1, Math.max(0, jitter)) * Math.random();
    if (retryAfterMs !== undefined) delay = Math.max(delay, retryAfterMs);
    return Math.round(delay);
  }

  /** Turns one SSE message into an event to yield, or counts and reports why not. */
  #accept(message: SseMessage): EventStreamsEvent | undefined {
    if (message.event === "error") {
      this.#stats.serverErrors++;
      this.#status({ kind: "server-error", message: message.data.slice(0, 200) });
      return undefined;
    }
    if (message.event !== "message") return undefined;
    this.#stats.received++;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch (error) {
      this.#stats.rejected++;
      this.#status({
        kind: "rejected",
        code: EventStreamsCode.badJson,
        message: `event ${message.id ?? "(no id)"} from ${this.url}: data is not JSON (${(error as Error).message})`,
      });
      return undefined;
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      this.#stats.rejected++;
      this.#status({
        kind: "rejected",
        code: EventStreamsCode.badJson,
        message: `event ${message.id ?? "(no id)"} from ${this.url}: data is not a JSON object`,
      });
      return undefined;
    }
    if (isCanary(data)) {
      this.#stats.canaries++;
      return undefined;
    }
    return { id: message.id, data: data as Record<string, unknown> };
  }

  /**
   * Yields events until the signal aborts (then it returns) or a fatal error (then it throws a
   * SourceError). The stream ending, a dropped connection, HTTP 408/429/5xx and silence longer than
   * idleTimeoutMs all lead to a reconnect that sends Last-Event-ID: the id of the last event dispatched,
   * so the server resumes right after it. Breaking out of the loop closes the connection.
   */
  async *events(): AsyncGenerator<EventStreamsEvent> {
    const {
      signal,
      connectTimeoutMs = 10_000,
      idleTimeoutMs = 60_000,
      maxRetries = Number.POSITIVE_INFINITY,
      firstConnectAttempts = 3,
      userAgent = DEFAULT_USER_AGENT,
    } = this.#options;
    let failures = 0;
    let everConnected = false;
    let attempt = 0;
    while (!signal?.aborted) {
      attempt++;
      this.#status({ kind: "connecting", url: this.url, attempt });
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      let timedOut: "connect" | "idle" | undefined;
      const connectTimer = setTimeout(() => {
        timedOut = "connect";
        controller.abort();
      }, connectTimeoutMs);
      let idleTimer: NodeJS.Timeout | undefined;
      const armIdle = (): void => {
        if (idleTimeoutMs <= 0) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          timedOut = "idle";
          controller.abort();
        }, idleTimeoutMs);
      };
      let reason: string;
      let retryAfterMs: number | undefined;
      let unreachable = false;
      try {
        const headers: Record<string, string> = {
          accept: "text/event-stream",
          "cache-control": "no-cache",
          "user-agent": userAgent,
        };
        if (this.#lastEventId !== undefined) headers["last-event-id"] = this.#lastEventId;
        const response = await fetch(this.url, { headers, signal: controller.signal });
        clearTimeout(connectTimer);
        if (response.status !== 200) {
          await response.body?.cancel().catch(() => undefined);
          const status = response.status;
          if (status !== 408 && status !== 429 && status < 500) {
            this.#fail(
              new SourceError(
                EventStreamsCode.httpError,
                `${this.url} answered HTTP ${status}; check the stream URL`,
                { details: { url: this.url, status } },
              ),
            );
          }
          retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
          reason = `HTTP ${status}`;
        } else {
          everConnected = true;
          this.#stats.connects++;
          this.#status({ kind: "connected", url: this.url });
          armIdle();
          const queue: SseMessage[] = [];
          const parser = new SseParser(
            {
              onMessage: (m) => queue.push(m),
              onRetry: (ms) => {
                this.#serverRetryMs = ms;
              },
            },
            { lastEventId: this.#lastEventId },
          );
          const decoder = new TextDecoder();
          const reader = response.body?.getReader();
          while (reader !== undefined) {
            const { done, value } = await reader.read();
            if (done) break;
            armIdle();
            parser.feed(decoder.decode(value, { stream: true }));
            for (let message = queue.shift(); message !== undefined; message = queue.shift()) {
              // Advance the resume point before handing the event over, so a reconnect never repeats it.
              this.#lastEventId = message.id;
              failures = 0;
              const event = this.#accept(message);
              if (event !== undefined) {
                this.#stats.yielded++;
                yield event;
              }
            }
            // A dispatch with empty data moves the last event id too.
            this.#lastEventId = parser.lastEventId;
          }
          reason = "stream ended";
        }
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof SourceError) throw error;
        if (timedOut === "connect") {
          reason = `no response within ${connectTimeoutMs} ms`;
          unreachable = true;
        } else if (timedOut === "idle") {
          reason = `no data for ${idleTimeoutMs} ms`;
        } else {
          reason = describe(error);
          unreachable = errorCodes(error).some((code) => UNREACHABLE_CODES.has(code));
        }
      } finally {
        clearTimeout(connectTimer);
        clearTimeout(idleTimer);
        signal?.removeEventListener("abort", onAbort);
        // Closes the socket, also when the consumer stopped iterating mid-stream.
        controller.abort();
      }
      if (signal?.aborted) return;
      failures++;
      if (unreachable && !everConnected && failures >= firstConnectAttempts) {
        this.#fail(
          new SourceError(EventStreamsCode.unreachable, `cannot reach ${this.url} (${reason})`, {
            retriable: true,
            details: { url: this.url, attempts: failures },
          }),
        );
      }
      if (failures > maxRetries) {
        this.#fail(
          new SourceError(
            EventStreamsCode.retriesExhausted,
            `gave up on ${this.url} after ${failures} failed attempts (last: ${reason})`,
            { retriable: true, details: { url: this.url, attempts: failures } },
          ),
        );
      }
      const delayMs = this.#delayMs(failures, retryAfterMs);
      this.#stats.reconnects++;
      this.#status({ kind: "reconnecting", reason, delayMs, attempt: attempt + 1 });
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}
