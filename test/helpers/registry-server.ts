// Test helpers: a real HTTP server serving a fresh embedded registry, cleaned up when the test finishes.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { handleRegistryRequest } from "../../src/serve/routes/registry.ts";

/** The two places the Pulse server mounts the registry, as [name, prefix] rows for describe.each. */
export const REGISTRY_MOUNTS: ReadonlyArray<readonly [string, string]> = [
  ["at the root", ""],
  ["under /registry", "/registry"],
];

export interface RegistryServer {
  registry: SchemaRegistry;
  /** Base URL of the registry API, including the mount prefix. */
  url: string;
  /** The server origin, without the prefix. */
  origin: string;
}

/**
 * Starts http.createServer on 127.0.0.1, port 0, mounting the registry at `prefix` ("" for the root) the way
 * the Pulse server does; anything the registry does not claim gets a JSON 404.
 */
export async function startRegistryServer(
  options: { prefix?: string; path?: string } = {},
): Promise<RegistryServer> {
  const prefix = options.prefix ?? "";
  const registry = SchemaRegistry.open({ path: options.path ?? ":memory:" });
  const server = http.createServer((req, res) => {
    void route(registry, prefix, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    registry.close();
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return { registry, url: `${origin}${prefix}`, origin };
}

async function route(
  registry: SchemaRegistry,
  prefix: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
  const mounted = prefix === "" || pathname === prefix || pathname.startsWith(`${prefix}/`);
  const handled = mounted && (await handleRegistryRequest(registry, req, res, pathname.slice(prefix.length)));
  if (!handled) {
    res.writeHead(404, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error_code: 404, message: `no route for ${pathname}` }));
  }
}
