// The HTTP collector: POST /api/v1/events takes a JSON array of activity events and answers per event.

import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PulseError } from "../../errors.ts";
import { type Handler, HttpError, readJson, sendJson } from "../http.ts";
import type { Route } from "../route.ts";

export interface EventRejection {
  index: number;
  errors: Array<{ code: string; field: string; message: string }>;
}

/** What the collector needs from a producer: validate, dead-letter the bad ones, append the good ones durably. */
export interface EventSink {
  send(raws: unknown[]): Promise<{ accepted: number; rejected: EventRejection[] }>;
}

export interface CollectorOptions {
  sink: EventSink;
  apiKeys: readonly string[];
  maxBodyBytes: number;
  /** Requests waiting for the log at once; beyond this the collector answers 429 instead of queueing. */
  maxPendingBatches: number;
}

interface CollectorStats {
  requests: number;
  accepted: number;
  rejected: number;
  throttled: number;
  unauthorized: number;
  pending: number;
}

/**
 * POST /api/v1/events, handing each request to `sink` as one batch, and the collector's part of
 * /api/health with its counters ("off" while no API key is configured).
 */
export function collectorRoute(options: CollectorOptions): Route {
  const collector = new Collector(options);
  return {
    mounts: ["/api/v1/events"],
    paths: ["/api/v1/events"],
    handler: collector.handler,
    health: {
      collector: () => ({ status: options.apiKeys.length > 0 ? "ok" : "off", ...collector.stats }),
    },
  };
}

class Collector {
  readonly stats: CollectorStats = {
    requests: 0,
    accepted: 0,
    rejected: 0,
    throttled: 0,
    unauthorized: 0,
    pending: 0,
  };
  private readonly keys: Buffer[];

  constructor(private readonly options: CollectorOptions) {
    this.keys = options.apiKeys.map((key) => Buffer.from(key, "utf8"));
  }

  readonly handler: Handler = async (req, res, path) => {
    if (path !== "" && path !== "/") return false;
    if (req.method !== "POST") {
      throw new HttpError(405, "PULSE_HTTP_METHOD", "use POST /api/v1/events with a JSON array of events");
    }
    this.stats.requests++;
    this.authorize(req);
    if (this.stats.pending >= this.options.maxPendingBatches) {
      this.stats.throttled++;
      req.resume();
      throw new HttpError(429, "PULSE_COLLECTOR_BUSY", "the log cannot keep up; retry after a second", {
        retriable: true,
      });
    }
    this.stats.pending++;
    try {
      await this.accept(req, res);
    } finally {
      this.stats.pending--;
    }
    return true;
  };

  private authorize(req: IncomingMessage): void {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const token = match ? Buffer.from(match[1]!.trim(), "utf8") : undefined;
    const ok =
      token !== undefined &&
      this.keys.some((key) => key.length === token.length && timingSafeEqual(key, token));
    if (!ok) {
      this.stats.unauthorized++;
      req.resume();
      const hint =
        this.keys.length === 0
          ? "no API keys are configured: set collector.api_keys or PULSE_API_KEYS"
          : "send 'Authorization: Bearer <api key>' with a configured key";
      throw new HttpError(401, "PULSE_COLLECTOR_UNAUTHORIZED", `missing or invalid API key; ${hint}`);
    }
  }

  private async accept(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, this.options.maxBodyBytes);
    if (!Array.isArray(body)) {
      throw new HttpError(
        400,
        "PULSE_COLLECTOR_NOT_AN_ARRAY",
        "the body must be a JSON array of events, e.g. [{...}, {...}]",
      );
    }
    if (body.length === 0) {
      sendJson(res, 200, { accepted: 0, rejected: 0, results: [] });
      return;
    }
    let outcome: { accepted: number; rejected: EventRejection[] };
    try {
      outcome = await this.options.sink.send(body);
    } catch (error) {
      if (error instanceof PulseError && error.retriable) {
        throw new HttpError(
          429,
          "PULSE_COLLECTOR_BUSY",
          `the log is busy (${error.code}); retry after a second`,
          { retriable: true, cause: error },
        );
      }
      throw new HttpError(
        503,
        "PULSE_COLLECTOR_LOG_UNAVAILABLE",
        "the log did not accept the batch; nothing was stored",
        { cause: error },
      );
    }
    this.stats.accepted += outcome.accepted;
    this.stats.rejected += outcome.rejected.length;
    const rejectedAt = new Map(outcome.rejected.map((r) => [r.index, r.errors]));
    const results = body.map((_, index) => {
      const errors = rejectedAt.get(index);
      return errors === undefined ? { index, status: "accepted" } : { index, status: "rejected", errors };
    });
    sendJson(res, 200, { accepted: outcome.accepted, rejected: outcome.rejected.length, results });
  }
}
