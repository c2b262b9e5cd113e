// GET /api/live/*: the latest windows, top pages, alerts and late events; liveApiRoutes: the speed layer's whole API.

import { StoreError, StoreErrorCode } from "../../errors.ts";
import { type LateEventRow, type LiveStore, SERIES, type WindowQuery } from "../../store/index.ts";
import { HttpError, sendJson } from "../http.ts";
import type { SseHub } from "../sse.ts";
import { badParam, type GetEndpoint, getRoute, notFoundRoute, type Query, type Route } from "../route.ts";
import { eventsRoute } from "./events.ts";
import { type ProgressHistory, progressRoute, type StreamJobInfo } from "./progress.ts";

export interface LiveApiOptions {
  store: LiveStore;
  /** The running stream job's progress; absent, or returning undefined, means no job runs here (503). */
  progress?: () => unknown;
  /** The push stream served at /api/live/events; absent means 503 there. */
  hub?: SseHub;
  /** The job's recent batches, at /api/stream/progress/history; absent means 503 there. */
  history?: ProgressHistory;
  /** The job's window and topics, at /api/stream/job; absent means 503 there. */
  job?: StreamJobInfo;
}

/** Largest `last` and `limit` accepted: bounds the work one request can ask of the store. */
export const MAX_ROWS = 1_000;
const DEFAULT_LAST = 10;
const DEFAULT_LIMIT = 10;
const DEFAULT_ALERTS = 50;
const DEFAULT_WINDOW = "1m";
const MAX_WINDOW_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * The speed layer's API: the live windows (liveRoute), the job's progress, the push stream, and a 404
 * listing them for any other path under /api/live and /api/stream. All are GET only.
 */
export function liveApiRoutes(options: LiveApiOptions): Route[] {
  const routes = [liveRoute(options), progressRoute(options), eventsRoute(options)];
  return [...routes, notFoundRoute("live", ["/api/live", "/api/stream"], routes)];
}

/**
 * GET /api/live/<series> for each series the store keeps (activity, wikimedia), wikimedia/top-pages,
 * alerts and late, read from `store`.
 */
export function liveRoute({ store }: { store: LiveStore }): Route {
  const series = SERIES.map((spec) => [
    `/${spec.name}`,
    windowsEndpoint((query) => store.windows(spec, query)),
  ]);
  return getRoute("/api/live", {
    ...(Object.fromEntries(series) as Record<string, GetEndpoint>),
    "/wikimedia/top-pages": {
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
    "/alerts": {
      params: ["limit"],
      run: async (query, _req, res) => {
        const limit = countParam(query, "limit", DEFAULT_ALERTS);
        sendJson(res, 200, { alerts: await read(() => store.alerts(limit)) });
      },
    },
    "/late": {
      params: ["limit"],
      run: async (query, _req, res) => {
        const limit = countParam(query, "limit", DEFAULT_ALERTS);
        const rows = await read(() => store.lateEvents(limit));
        sendJson(res, 200, { late_events: rows.map(lateEvent) });
      },
    },
  });
}

/** GET …?window=…&last=N → the latest N windows of that length, merged over partitions. */
function windowsEndpoint(load: (query: WindowQuery) => Promise<unknown[]>): GetEndpoint {
  return {
    params: ["window", "last"],
    run: async (query, _req, res) => {
      const windowMs = windowParam(query);
      const last = countParam(query, "last", DEFAULT_LAST);
      sendJson(res, 200, { window_ms: windowMs, windows: await read(() => load({ windowMs, last })) });
    },
  };
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
        cause: error,
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
