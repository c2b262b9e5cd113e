// Puts the platform on the HTTP server: health, metrics, the collector, the schema registry's REST API, the analytics API, the DAGs API and, with a stream job, the live API.

import type { PulseConfig } from "../config/index.ts";
import { registerDagMetrics } from "../serve/metrics/dags.ts";
import { registerIngestMetrics } from "../serve/metrics/ingest.ts";
import { PulseServer } from "../serve/server.ts";
import { analyticsApiRoutes } from "../serve/routes/analytics.ts";
import { collectorRoute } from "../serve/routes/collector.ts";
import { dagsRoute } from "../serve/routes/dags.ts";
import { liveApiRoutes } from "../serve/routes/live.ts";
import { opsApiRoutes } from "../serve/routes/ops.ts";
import { pagesRoute } from "../serve/routes/pages.ts";
import { type ProgressHistory, progressRoute, type StreamJobInfo } from "../serve/routes/progress.ts";
import { registryRoute } from "../serve/routes/registry.ts";
import type { SseHub } from "../serve/sse.ts";
import type { LiveStore } from "../store/index.ts";
import { warehouseAnalytics } from "./analytics.ts";
import { openOrchestrator, type Orchestrator } from "./dags.ts";
import { dagsApi } from "./dags-api.ts";
import { openPlatform, type Platform } from "./platform.ts";
import { ensureWebBuild } from "./web-build.ts";

export interface Serving {
  server: PulseServer;
  url: string;
}

/** The speed layer's side of the server: live windows from the store, the job's progress, the push stream. */
export interface LiveServing {
  store: LiveStore;
  progress: () => unknown;
  hub: SseHub;
  history: ProgressHistory;
  job: StreamJobInfo;
}

/**
 * Starts the server on `port` with the platform's routes (and the live ones, given `live`) and listens.
 * The dashboard's build starts at once and does not hold up listening: a page asked for meanwhile waits
 * for it.
 */
export async function startServing(
  platform: Platform,
  port: number,
  live?: LiveServing,
  orchestrator?: Orchestrator,
): Promise<Serving> {
  const { config } = platform;
  const server = new PulseServer({ host: config.server.host, port });
  if (live !== undefined) for (const route of liveApiRoutes(live)) server.add(route);
  // Without a stream job the pages still ask whether one runs (GET /api/stream/job says not).
  else server.add(progressRoute({}));
  const ops = opsApiRoutes({ log: platform.log, registry: platform.registry.client, serde: platform.serde });
  for (const route of ops) server.add(route);
  for (const route of analyticsApiRoutes({ source: warehouseAnalytics(config) })) server.add(route);
  if (orchestrator !== undefined) {
    server.add(dagsRoute({ api: dagsApi(orchestrator, config), adminToken: config.server.admin_token }));
    // GET /metrics: runs and task instances by state, read from the run store on each scrape.
    registerDagMetrics(server.metrics.registry, () =>
      Promise.all(
        orchestrator.dags.map(async (dag) => ({
          dagId: dag.id,
          runs: await Promise.all(
            (await orchestrator.store.listRuns(dag.id)).map(async (run) => ({
              state: run.state,
              tasks: await orchestrator.store.taskInstances(dag.id, run.runId),
            })),
          ),
        })),
      ),
    );
  }
  // GET /metrics: what the producers counted (the status line's figures) and every consumer group's lag.
  registerIngestMetrics(server.metrics.registry, {
    producers: [platform.activity, platform.wikimedia],
    log: platform.log,
  });
  const built = ensureWebBuild();
  // Failures are answered to the page requests (503 with the reason), not thrown here.
  built.catch(() => undefined);
  const registry = platform.registry.embedded;
  server.reportHealth("log", () => ({ status: "ok", backend: config.log }));
  server.reportHealth("registry", () => ({
    status: "ok",
    backend: config.registry,
    served: registry !== undefined ? "/ and /registry" : "external",
  }));
  server.add(
    collectorRoute({
      // The collector is a source like the others: each request is one producer batch.
      sink: platform.activity,
      apiKeys: config.collector.api_keys,
      maxBodyBytes: config.collector.max_body_bytes,
      maxPendingBatches: config.collector.max_pending_batches,
    }),
  );
  server.add(pagesRoute({ assets: () => built }));
  // Last: it is mounted at the root too, and leaves the paths that are not the registry's.
  // Off loopback, the registry's writes need the admin token, as the API's do.
  const loopback = ["127.0.0.1", "::1", "localhost"].includes(config.server.host);
  if (registry !== undefined)
    server.add(
      registryRoute(registry, loopback ? {} : { guardWrites: { adminToken: config.server.admin_token } }),
    );
  const { url } = await server.listen();
  return { server, url };
}

/** The server alone, without a stream job or scheduler: the platform's parts behind health, collector, registry and /api/dags. */
export interface RunningServer extends Serving {
  platform: Platform;
  /** Serves until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Stops the server, then closes the platform. */
  close(): Promise<void>;
}

export async function startServer(
  config: PulseConfig,
  options: { port: number; source: string },
): Promise<RunningServer> {
  const platform = await openPlatform(config, { source: options.source });
  // The run store without a scheduler: /api/dags reads runs and queues the writes for `pulse scheduler`.
  const orchestrator = await openOrchestrator(config).catch(async (error: unknown) => {
    await platform.close();
    throw error;
  });
  try {
    const serving = await startServing(platform, options.port, undefined, orchestrator);
    return {
      ...serving,
      platform,
      run: untilAborted,
      async close() {
        await serving.server.close();
        await orchestrator.close();
        await platform.close();
      },
    };
  } catch (error) {
    await orchestrator.close();
    await platform.close();
    throw error;
  }
}

/** Resolves once `signal` aborts (at once if it has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
