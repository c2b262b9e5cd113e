// Puts the platform on the HTTP server: health, the schema registry's REST API and the collector.

import { Collector } from "../ingest/collector.ts";
import { handleRegistryRequest } from "../registry/http-api.ts";
import { liveApi } from "../serve/live.ts";
import { PulseServer } from "../serve/server.ts";
import type { SseHub } from "../serve/sse.ts";
import type { LiveStore } from "../store/index.ts";
import type { Platform } from "./platform.ts";

export interface Serving {
  server: PulseServer;
  collector: Collector;
  url: string;
}

/** The speed layer's side of the server: live windows from the store, the job's progress, the push stream. */
export interface LiveServing {
  store: LiveStore;
  progress: () => unknown;
  hub: SseHub;
}

export async function startServing(platform: Platform, port: number, live?: LiveServing): Promise<Serving> {
  const { config } = platform;
  const server = new PulseServer({ host: config.server.host, port });
  const collector = new Collector({
    // The collector is a source like the others: each request is one producer batch.
    sink: platform.activity,
    apiKeys: config.collector.api_keys,
    maxBodyBytes: config.collector.max_body_bytes,
    maxPendingBatches: config.collector.max_pending_batches,
  });
  server.mount("/api/v1/events", collector.handler);
  if (live !== undefined) {
    // /api/live/* and /api/stream/*; other /api paths fall through to the next mount.
    server.mount("/api", liveApi(live));
    server.reportHealth("live-events", () => live.hub.health());
  }

  const registry = platform.registry.embedded;
  if (registry !== undefined) {
    // Confluent clients take a base URL: both http://host:port and http://host:port/registry work.
    server.mount("/registry", (req, res, path) => handleRegistryRequest(registry, req, res, path));
    server.mount("", (req, res, path) => handleRegistryRequest(registry, req, res, path));
  }

  server.reportHealth("log", () => ({ status: "ok", backend: config.log }));
  server.reportHealth("registry", () => ({
    status: "ok",
    backend: config.registry,
    served: registry !== undefined ? "/ and /registry" : "external",
  }));
  server.reportHealth("collector", () => ({
    status: config.collector.api_keys.length > 0 ? "ok" : "off",
    ...collector.stats,
  }));
  const { url } = await server.listen();
  return { server, collector, url };
}
