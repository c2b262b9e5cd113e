// Test helpers: a real PulseServer on a free port serving the given routes, closed when the test finishes.

import { onTestFinished } from "vitest";
import type { Route } from "../../src/serve/route.ts";
import { PulseServer } from "../../src/serve/server.ts";

export interface ServedRoutes {
  /** The server's origin, http://127.0.0.1:<port>. */
  url: string;
  /** Fetches `path` and reads the answer's body as JSON. */
  get(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }>;
}

export async function serveRoutes(routes: readonly Route[]): Promise<ServedRoutes> {
  const server = new PulseServer({ host: "127.0.0.1", port: 0 });
  for (const route of routes) server.add(route);
  onTestFinished(() => server.close());
  const { url } = await server.listen();
  return {
    url,
    get: async (path, init = {}) => {
      const response = await fetch(`${url}${path}`, init);
      return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
    },
  };
}
