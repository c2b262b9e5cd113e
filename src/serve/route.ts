// The shape of a route module (its mount paths, handler and health) and the GET endpoint tables the JSON APIs share.

import type { IncomingMessage, ServerResponse } from "node:http";
import { type Handler, HttpError, sendJson } from "./http.ts";

/** What a part reports in GET /api/health; "down" or "degraded" makes the whole answer 503. */
export interface PartHealth {
  status: "ok" | "degraded" | "down" | "off";
  [detail: string]: unknown;
}

/**
 * One API or page on the server. A route module exports a function that takes what the route needs
 * (a store, a producer, a registry) and returns this; PulseServer.add mounts it.
 */
export interface Route {
  /**
   * Where it is mounted: each path matches itself and every path below it, "" matches every path. The
   * server offers a request to the routes in the order they were added.
   */
  mounts: readonly string[];
  handler: Handler;
  /** The exact paths it answers, when it has a fixed set: a 404 can list them. */
  paths?: readonly string[];
  /** Parts whose state GET /api/health reports, by name. */
  health?: Readonly<Record<string, () => PartHealth>>;
}

/** The query parameters of a request, each given once. */
export type Query = Map<string, string>;

export interface GetEndpoint {
  /** The query parameters it accepts; ["*"] accepts any and reads none. */
  params: readonly string[];
  run(query: Query, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * A route of GET-only JSON endpoints, keyed by their path below `mount` ("" for the mount itself). A
 * trailing slash is ignored; another method gets 405 with `Allow: GET`; an unknown or repeated query
 * parameter gets 400. Paths not in the table are left to the next route.
 */
export function getRoute(mount: string, endpoints: Readonly<Record<string, GetEndpoint>>): Route {
  const table = new Map(Object.entries(endpoints));
  return {
    mounts: [mount],
    paths: [...table.keys()].map((path) => `${mount}${path}`),
    handler: async (req, res, path) => {
      const endpoint = table.get(path.endsWith("/") ? path.slice(0, -1) : path);
      if (endpoint === undefined) return false;
      if (req.method !== "GET") {
        sendJson(
          res,
          405,
          { error: { code: "PULSE_HTTP_METHOD", message: `use GET ${mount}${path}` } },
          { allow: "GET" },
        );
        return true;
      }
      await endpoint.run(parseQuery(req, `${mount}${path}`, endpoint.params), req, res);
      return true;
    },
  };
}

/** A 404 for every path below `prefixes` that `routes` (added before it) left, listing the paths they answer. */
export function notFoundRoute(what: string, prefixes: readonly string[], routes: readonly Route[]): Route {
  const listed = routes.flatMap((route) => route.paths ?? []).join(", ");
  return {
    mounts: prefixes,
    handler: async (req) => {
      const { pathname } = new URL(req.url ?? "/", "http://localhost");
      throw new HttpError(404, "PULSE_HTTP_NOT_FOUND", `no ${what} route ${pathname}; routes: ${listed}`);
    },
  };
}

export function badParam(message: string): HttpError {
  return new HttpError(400, "PULSE_HTTP_BAD_PARAM", message);
}

/** Refuses unknown and repeated parameters: a typo such as `?windows=5m` must not silently mean 1m. */
function parseQuery(req: IncomingMessage, path: string, accepted: readonly string[]): Query {
  const query: Query = new Map();
  const params = new URL(req.url ?? "/", "http://localhost").searchParams;
  if (accepted.includes("*")) return query;
  for (const [name, value] of params) {
    if (!accepted.includes(name)) {
      const expected = accepted.length === 0 ? "it takes none" : `accepted: ${accepted.join(", ")}`;
      throw badParam(`unknown query parameter "${name}" for ${path}; ${expected}`);
    }
    if (query.has(name)) throw badParam(`query parameter "${name}" is given more than once; give it once`);
    query.set(name, value);
  }
  return query;
}
