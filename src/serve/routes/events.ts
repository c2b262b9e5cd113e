// GET /api/live/events: the process's Server-Sent Events stream (src/serve/sse.ts); 503 when it has none.

import { HttpError } from "../http.ts";
import { getRoute, type Route } from "../route.ts";
import type { SseHub } from "../sse.ts";

/** The stream of `hub`, and its clients and counters in /api/health as "live-events". */
export function eventsRoute({ hub }: { hub?: SseHub }): Route {
  const route = getRoute("/api/live/events", {
    "": {
      // EventSource sends no query of its own; ignore whatever a proxy or cache-buster adds.
      params: ["*"],
      run: async (_query, req, res) => {
        if (hub === undefined) {
          throw new HttpError(503, "PULSE_SSE_OFF", "no event stream is configured in this process");
        }
        await hub.handler(req, res, "");
      },
    },
  });
  return hub === undefined ? route : { ...route, health: { "live-events": () => hub.health() } };
}
