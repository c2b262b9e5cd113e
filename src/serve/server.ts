// The Pulse HTTP server: one listener, the routes mounted on it in order, and the health of the parts behind them.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.ts";
import { type Handler, HttpError, sendError, sendJson } from "./http.ts";
import { ServerMetrics } from "./metrics/registry.ts";
import type { PartHealth, Route } from "./route.ts";
import { type HealthReport, healthRoute } from "./routes/health.ts";
import { metricsRoute } from "./routes/metrics.ts";

export interface PulseServerOptions {
  host: string;
  port: number;
}

interface Mount {
  prefix: string;
  handler: Handler;
  /** The route's fixed paths ("/assets/*" matches below it), for the request metrics' route label. */
  paths: readonly string[];
}

/** The route label of a request no route owned (a 404 from the server itself). */
const UNMATCHED = "unmatched";

export class PulseServer {
  private readonly server: Server;
  private readonly mounts: Mount[] = [];
  private readonly parts = new Map<string, () => PartHealth>();
  private readonly startedAtMs = Date.now();
  /** This server's Prometheus registry, served at GET /metrics; other parts add their metrics to it. */
  readonly metrics = new ServerMetrics();

  constructor(private readonly options: PulseServerOptions) {
    this.server = createServer((req, res) => {
      const startedAt = performance.now();
      const request = { route: UNMATCHED };
      let observed = false;
      const observe = (): void => {
        if (observed) return;
        observed = true;
        const seconds = (performance.now() - startedAt) / 1000;
        this.metrics.observeRequest(req.method ?? "GET", request.route, res.statusCode, seconds);
      };
      // "finish" once the answer is written; "close" also covers a client that went away first.
      res.once("finish", observe);
      res.once("close", observe);
      this.dispatch(req, res, request).catch((error: unknown) => this.fail(res, error));
    });
    this.server.keepAliveTimeout = 5_000;
    this.add(healthRoute(() => this.health()));
    this.add(metricsRoute(this.metrics.registry));
  }

  /** Mounts a route module's handler at each of its paths and registers the health it reports. */
  add(route: Route): void {
    for (const prefix of route.mounts) this.mount(prefix, route.handler, route.paths);
    for (const [part, probe] of Object.entries(route.health ?? {})) this.reportHealth(part, probe);
  }

  /** Handlers are tried in mount order; a prefix of "" matches every path. */
  mount(prefix: string, handler: Handler, paths: readonly string[] = []): void {
    this.mounts.push({ prefix, handler, paths });
  }

  /** Registers a part whose state `GET /api/health` reports. */
  reportHealth(part: string, probe: () => PartHealth): void {
    this.parts.set(part, probe);
  }

  health(): HealthReport {
    const parts: Record<string, PartHealth> = {};
    let status: "ok" | "degraded" = "ok";
    for (const [name, probe] of this.parts) {
      let health: PartHealth;
      try {
        health = probe();
      } catch (error) {
        health = { status: "down", error: (error as Error).message };
      }
      parts[name] = health;
      if (health.status === "down" || health.status === "degraded") status = "degraded";
    }
    return { status, uptimeSec: Math.round((Date.now() - this.startedAtMs) / 1000), parts };
  }

  async listen(): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolveListen, reject) => {
      this.server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(error, this.options)));
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.removeAllListeners("error");
        resolveListen();
      });
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolveClose) => {
      this.server.close(() => resolveClose());
      this.server.closeAllConnections();
    });
  }

  /** Sets `request.route` to the label of the route that owns the request (also when its handler throws). */
  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    request: { route: string },
  ): Promise<void> {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch (error) {
      throw new HttpError(400, "PULSE_HTTP_BAD_URL", "the request URL cannot be parsed", { cause: error });
    }
    for (const mount of this.mounts) {
      const { prefix, handler } = mount;
      if (prefix !== "" && pathname !== prefix && !pathname.startsWith(`${prefix}/`)) continue;
      request.route = routeLabel(mount, pathname);
      if (await handler(req, res, pathname.slice(prefix.length))) return;
      request.route = UNMATCHED;
    }
    throw new HttpError(
      404,
      "PULSE_HTTP_NOT_FOUND",
      `no route for ${req.method} ${pathname}; see GET /api/health and docs/api.md`,
    );
  }

  private fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      sendError(res, error, error.retriable ? { "retry-after": "1" } : {});
      return;
    }
    // An unexpected fault: answer 500 without details that could leak payloads, and keep serving.
    const code = (error as { code?: unknown }).code;
    sendJson(res, 500, {
      error: { code: typeof code === "string" ? code : "PULSE_HTTP_INTERNAL", message: "internal error" },
    });
    process.emitWarning(`HTTP handler failed: ${(error as Error).message}`);
  }
}

/**
 * A request's route label, from a bounded set so a scanner cannot grow the metrics: the route's own path
 * when it declares one that matches (a trailing slash ignored, "/x/*" covering what is below /x), else the
 * mount followed by "/*".
 */
function routeLabel(mount: Mount, pathname: string): string {
  const path = pathname.length > 1 && pathname.endsWith("/") ? pathname.slice(0, -1) : pathname;
  for (const declared of mount.paths) {
    if (declared === path) return declared;
    if (declared.endsWith("/*") && path.startsWith(declared.slice(0, -1))) return declared;
  }
  return `${mount.prefix}/*`;
}

/** Why the server could not bind, as a configuration error that names the address and the fix. */
function listenError(error: NodeJS.ErrnoException, where: { host: string; port: number }): Error {
  const address = `${where.host}:${where.port}`;
  if (error.code === "EADDRINUSE") {
    return new ConfigError(
      `server.port: ${address} is already in use by another process; stop it, or choose another port with --port or PULSE_PORT (0 picks a free one).`,
      { cause: error },
    );
  }
  if (error.code === "EACCES" || error.code === "EADDRNOTAVAIL") {
    return new ConfigError(
      `server.host/server.port: cannot listen on ${address} (${error.code}); use a port above 1023 and an address of this machine, e.g. 127.0.0.1.`,
      { cause: error },
    );
  }
  return error;
}
