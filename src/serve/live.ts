// The live HTTP API under /api: latest windows, top pages, alerts, late events, stream progress and the SSE push stream.

import type { IncomingMessage, ServerResponse } from "node:http";
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { LateEventRow, LiveStore, WindowQuery } from "../store/index.ts";
import { type Handler, HttpError, sendJson } from "./http.ts";
import type { SseHub } from "./sse.ts";

export interface LiveApiOptions {
  store: LiveStore;
  /** The running stream job's progress; absent, or returning undefined, means no job runs here (503). */
  progress?: () => unknown;
  /** The push stream served at /api/live/events; absent means 503 there. */
  hub?: SseHub;
}

/** Largest `last` and `limit` accepted: bounds the work one request can ask of the store. */
export const MAX_ROWS = 1_000;
const DEFAULT_LAST = 10;
const DEFAULT_LIMIT = 10;
const DEFAULT_ALERTS = 50;
const DEFAULT_WINDOW = "1m";
const MAX_WINDOW_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

type Query = Map<string, string>;
type Route = (query: Query, req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface RouteSpec {
  params: readonly string[];
  run: Route;
}

/**
 * Mount at "/api". Owns every path under /api/live and /api/stream; any other /api path is left to the
 * next handler (health, collector). Routes: live/activity, live/wikimedia, live/wikimedia/top-pages,
 * live/alerts, live/late, live/events (SSE) and stream/progress, all GET only.
 */
/** GET …?window=…&last=N → the latest N windows of that length, merged over partitions. */
function windowsRoute(load: (query: WindowQuery) => Promise<unknown[]>): RouteSpec {
  return {
    params: ["window", "last"],
    run: async (query, _req, res) => {
      const windowMs = windowParam(query);
      const last = countParam(query, "last", DEFAULT_LAST);
      sendJson(res, 200, { window_ms: windowMs, windows: await read(() => load({ windowMs, last })) });
    },
  };
}

export function liveApi(options: LiveApiOptions): Handler {
  const { store } = options;
  const routes = new Map<string, RouteSpec>([
    ["/live/activity", windowsRoute((query) => store.activityWindows(query))],
    ["/live/wikimedia", windowsRoute((query) => store.wikiWindows(query))],
    [
      "/live/wikimedia/top-pages",
      {
        params: ["window", "limit"],
        run: async (query, _req, res) => {
          const windowMs = windowParam(query);
          const limit = countParam(query, "limit", DEFAULT_LIMIT);
          const top = await read(() => store.topPages(windowMs, limit));
          // The store says "no window yet" with 0/0; the API says it with null.
          const none = top.window_end === 0 && top.pages.length === 0;
          sendJson(res, 200, {
            window_ms: windowMs,
            window_start: none ? null : top.window_start,
            window_end: none ? null : top.window_end,
            pages: top.pages,
          });
        },
      },
    ],
    [
      "/live/alerts",
      {
        params: ["limit"],
        run: async (query, _req, res) => {
          const limit = countParam(query, "limit", DEFAULT_ALERTS);
          sendJson(res, 200, { alerts: await read(() => store.alerts(limit)) });
        },
      },
    ],
    [
      "/live/late",
      {
        params: ["limit"],
        run: async (query, _req, res) => {
          const limit = countParam(query, "limit", DEFAULT_ALERTS);
          const rows = await read(() => store.lateEvents(limit));
          sendJson(res, 200, { late_events: rows.map(lateEvent) });
        },
      },
    ],
    [
      "/stream/progress",
      {
        params: [],
        run: async (_query, _req, res) => {
          const progress = options.progress?.();
          if (progress === undefined || progress === null) {
            throw new HttpError(
              503,
              "PULSE_STREAM_NOT_RUNNING",
              "no stream job runs in this process; start one with `pulse up` or `pulse stream`",
            );
          }
          sendJson(res, 200, progress);
        },
      },
    ],
    [
      "/live/events",
      {
        // EventSource sends no query of its own; ignore whatever a proxy or cache-buster adds.
        params: ["*"],
        run: async (_query, req, res) => {
          if (options.hub === undefined) {
            throw new HttpError(503, "PULSE_SSE_OFF", "no event stream is configured in this process");
          }
          await options.hub.handler(req, res, "");
        },
      },
    ],
  ]);
  const routeList = [...routes.keys()].map((path) => `/api${path}`).join(", ");

  return async (req, res, path) => {
    if (!/^\/(live|stream)(\/|$)/.test(path)) return false;
    const route = routes.get(path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);
    if (route === undefined) {
      throw new HttpError(404, "PULSE_HTTP_NOT_FOUND", `no live route /api${path}; routes: ${routeList}`);
    }
    if (req.method !== "GET") {
      sendJson(
        res,
        405,
        { error: { code: "PULSE_HTTP_METHOD", message: `use GET /api${path}` } },
        { allow: "GET" },
      );
      return true;
    }
    await route.run(parseQuery(req, path, route.params), req, res);
    return true;
  };
}

/** Refuses unknown and repeated parameters: a typo such as `?windows=5m` must not silently mean 1m. */
function parseQuery(req: IncomingMessage, path: string, accepted: readonly string[]): Query {
  const query: Query = new Map();
  const params = new URL(req.url ?? "/", "http://localhost").searchParams;
  if (accepted.includes("*")) return query;
  for (const [name, value] of params) {
    if (!accepted.includes(name)) {
      const expected = accepted.length === 0 ? "it takes none" : `accepted: ${accepted.join(", ")}`;
      throw badParam(`unknown query parameter "${name}" for /api${path}; ${expected}`);
    }
    if (query.has(name)) throw badParam(`query parameter "${name}" is given more than once; give it once`);
    query.set(name, value);
  }
  return query;
}

/**
 * Grammar: window = digits [ "ms" | "s" | "m" | "h" ]; bare digits are ms. The result must be a whole
 * number of ms in [1, 24 h]. It names the window *length* the stream job writes (each spec has its own rows).
 */
function windowParam(query: Query): number {
  const text = query.get("window") ?? DEFAULT_WINDOW;
  const match = /^(\d{1,9})(ms|s|m|h)?$/.exec(text);
  const unitMs = UNIT_MS[match?.[2] ?? "ms"] ?? 1;
  const ms = match === null ? Number.NaN : Number(match[1]) * unitMs;
  if (!(ms >= 1 && ms <= MAX_WINDOW_MS)) {
    throw badParam(
      `window must be a length such as 30s, 1m, 5m, 1h, or a whole number of ms, between 1 ms and 24h; got "${text}"`,
    );
  }
  return ms;
}

function countParam(query: Query, name: string, fallback: number): number {
  const text = query.get(name);
  if (text === undefined) return fallback;
  const value = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= MAX_ROWS)) {
    throw badParam(`${name} must be a whole number from 1 to ${MAX_ROWS}; got "${text}"`);
  }
  return value;
}

function badParam(message: string): HttpError {
  return new HttpError(400, "PULSE_HTTP_BAD_PARAM", message);
}

/** Store faults a client can do something about become 503s; anything else stays a 500. */
async function read<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if (
      error instanceof StoreError &&
      (error.code === StoreErrorCode.busy || error.code === StoreErrorCode.closed)
    ) {
      throw new HttpError(503, "PULSE_STORE_UNAVAILABLE", "the live store is busy or closed; retry shortly", {
        retriable: error.code === StoreErrorCode.busy,
      });
    }
    throw error;
  }
}

/** The stored payload is JSON text; the API embeds it as an object so clients parse once. */
function lateEvent(row: LateEventRow): Omit<LateEventRow, "payload"> & { event: unknown } {
  let event: unknown;
  try {
    event = JSON.parse(row.payload);
  } catch {
    event = row.payload;
  }
  const { payload: _payload, ...rest } = row;
  return { ...rest, event };
}
