// GET /api/stream/progress: the running stream job's latest progress; 503 when no job runs in this process.

import { HttpError, sendJson } from "../http.ts";
import { getRoute, type Route } from "../route.ts";

export function progressRoute({ progress }: { progress?: () => unknown }): Route {
  return getRoute("/api/stream/progress", {
    "": {
      params: [],
      run: async (_query, _req, res) => {
        const latest = progress?.();
        if (latest === undefined || latest === null) {
          throw new HttpError(
            503,
            "PULSE_STREAM_NOT_RUNNING",
            "no stream job runs in this process; start one with `pulse up` or `pulse stream`",
          );
        }
        sendJson(res, 200, latest);
      },
    },
  });
}
