// Tests GET /metrics over a real PulseServer: the route label of each request (bounded, also for errors), and 405 to other methods.

import { describe, expect, it } from "vitest";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { parsePrometheusText, sampleValue } from "../../../test/helpers/prometheus-text.ts";
import { sendJson } from "../http.ts";
import { type GetEndpoint, getRoute, type Route } from "../route.ts";

const ok: GetEndpoint = { params: [], run: async (_query, _req, res) => sendJson(res, 200, {}) };

/** A route with no declared paths, answering everything below its mount. */
const catchAll: Route = {
  mounts: ["/files"],
  handler: async (_req, res) => {
    sendJson(res, 200, {});
    return true;
  },
};

/** Declares "/docs/*" and answers below it, leaving everything else. */
const wildcard: Route = {
  mounts: [""],
  paths: ["/docs/*"],
  handler: async (_req, res, path) => {
    if (!path.startsWith("/docs/")) return false;
    sendJson(res, 200, {});
    return true;
  },
};

describe("GET /metrics", () => {
  it("labels each request by its route's path, never by the raw URL", async () => {
    const api = await serveRoutes([getRoute("/api/x", { "/y": ok }), catchAll, wildcard]);
    const paths = [
      "/api/x/y",
      "/api/x/y/",
      "/api/x/y?bad=1",
      "/files/a",
      "/files/b/c",
      "/docs/one",
      "/docs/two",
      "/nope/1",
      "/nope/2",
    ];
    for (const path of paths) await fetch(`${api.url}${path}`);
    expect((await fetch(`${api.url}/metrics`, { method: "POST" })).status).toBe(405);
    const response = await fetch(`${api.url}/metrics`);
    const families = parsePrometheusText(await response.text());
    const counts = (families.get("pulse_http_request_duration_seconds")?.samples ?? [])
      .filter((s) => s.name.endsWith("_count"))
      .map((s) => [s.labels.method, s.labels.route, s.labels.status, s.value]);
    expect(counts.sort()).toEqual(
      [
        ["GET", "/api/x/y", "200", 2],
        // A handler that throws still labels the request with its route.
        ["GET", "/api/x/y", "400", 1],
        ["GET", "/files/*", "200", 2],
        ["GET", "/docs/*", "200", 2],
        ["GET", "unmatched", "404", 2],
        ["POST", "/metrics", "405", 1],
      ].sort(),
    );
    expect(
      sampleValue(families, "pulse_http_request_duration_seconds_bucket", {
        method: "GET",
        route: "unmatched",
        status: "404",
        le: "+Inf",
      }),
    ).toBe(2);
  });
});
