// The server's own Prometheus registry: Node process metrics and the duration of every HTTP request it answers.

import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Request durations from well under a millisecond (a cached JSON answer) to a long-lived push stream. */
const HTTP_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60];

/**
 * One registry per server, never prom-client's global one: two servers in one process (tests, a
 * scale-out run) would otherwise register the same names twice and mix their figures.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Histogram<"method" | "route" | "status">;

  constructor() {
    // Unprefixed (process_*, nodejs_*), as every client library names them, so stock dashboards work.
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Histogram({
      name: "pulse_http_request_duration_seconds",
      help: "Time from a request's arrival to the end of its answer, by method, route and status.",
      labelNames: ["method", "route", "status"],
      buckets: HTTP_BUCKETS_SECONDS,
      registers: [this.registry],
    });
  }

  /** `route` is a path pattern (bounded: never the raw URL), `status` the answer's code. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.observe({ method, route, status: String(status) }, seconds);
  }
}
