// GET /api/health: the state of every part the server reports on; 200 when all are ok, 503 otherwise.

import { HttpError, sendJson } from "../http.ts";
import type { PartHealth, Route } from "../route.ts";

export interface HealthReport {
  status: "ok" | "degraded";
  uptimeSec: number;
  parts: Record<string, PartHealth>;
}

export function healthRoute(report: () => HealthReport): Route {
  return {
    mounts: ["/api/health"],
    paths: ["/api/health"],
    handler: async (req, res, path) => {
      if (path !== "" && path !== "/") return false;
      if (req.method !== "GET") throw new HttpError(405, "PULSE_HTTP_METHOD", "use GET /api/health");
      const health = report();
      sendJson(res, health.status === "ok" ? 200 : 503, health);
      return true;
    },
  };
}
