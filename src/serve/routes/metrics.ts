// GET /metrics: the server's registry in the Prometheus text exposition format (version 0.0.4).

import type { Registry } from "prom-client";
import { HttpError } from "../http.ts";
import type { Route } from "../route.ts";

export function metricsRoute(registry: Registry): Route {
  return {
    mounts: ["/metrics"],
    paths: ["/metrics"],
    handler: async (req, res, path) => {
      if (path !== "" && path !== "/") return false;
      if (req.method !== "GET") throw new HttpError(405, "PULSE_HTTP_METHOD", "use GET /metrics");
      // Collected now: the lag and stream figures are read from their sources on each scrape.
      const text = await registry.metrics();
      res.writeHead(200, {
        "content-type": registry.contentType,
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
      });
      res.end(text);
      return true;
    },
  };
}
