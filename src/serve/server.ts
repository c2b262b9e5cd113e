// The Pulse HTTP server: one listener, the routes mounted on it in order, and the health of the parts behind them.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.ts";
import { type Handler, HttpError, sendError, sendJson } from "./http.ts";
import type { PartHealth, Route } from "./route.ts";
import { type HealthReport, healthRoute } from "./routes/health.ts";

export interface PulseServerOptions {
  host: string;
  port: number;
}

interface Mount {
  prefix: string;
  handler: Handler;
}

export class PulseServer {
  private readonly server: Server;
  private readonly mounts: Mount[] = [];
  private readonly parts = new Map<string, () => PartHealth>();
  private readonly startedAtMs = Date.now();

  constructor(private readonly options: PulseServerOptions) {
    this.server = createServer((req, res) => {
      this.dispatch(req, res).catch((error: unknown) => this.fail(res, error));
    });
    this.server.keepAliveTimeout = 5_000;
    this.add(healthRoute(() => this.health()));
  }

  /** Mounts a route module's handler at each of its paths and registers the health it reports. */
  add(route: Route): void {
    for (const prefix of route.mounts) this.mount(prefix, route.handler);
    for (const [part, probe] of Object.entries(route.health ?? {})) this.reportHealth(part, probe);
  }

  /** Handlers are tried in mount order; a prefix of "" matches every path. */
  mount(prefix: string, handler: Handler): void {
    this.mounts.push({ prefix, handler });
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

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch (error) {
      throw new HttpError(400, "PULSE_HTTP_BAD_URL", "the request URL cannot be parsed", { cause: error });
    }
    for (const { prefix, handler } of this.mounts) {
      if (prefix !== "" && pathname !== prefix && !pathname.startsWith(`${prefix}/`)) continue;
      if (await handler(req, res, pathname.slice(prefix.length))) return;
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
