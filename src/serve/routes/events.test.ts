// Tests GET /api/live/events over a real PulseServer: the hub's frames reach a fetch stream, and 503 without a hub.

import { describe, expect, it, onTestFinished } from "vitest";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { SseParser } from "../../ingest/wikimedia/sse.ts";
import { SseHub } from "../sse.ts";
import { eventsRoute } from "./events.ts";

const T = Date.UTC(2024, 0, 1, 12, 0);

function startApi(options: { hub?: SseHub } = {}) {
  onTestFinished(() => options.hub?.close());
  return serveRoutes([eventsRoute(options)]);
}

describe("eventsRoute", () => {
  it("streams hub events at /api/live/events, and answers 503 without a hub", async () => {
    const hub = new SseHub();
    const { url } = await startApi({ hub });
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const response = await fetch(`${url}/api/live/events`, { signal: controller.signal });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const messages: Array<{ event: string; data: string }> = [];
    const parser = new SseParser({ onMessage: (m) => messages.push(m) });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    while (hub.clientCount === 0) await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    hub.publish("activity", { window_start: T, event_type: "PAGE_VIEW", event_count: 17 });
    while (messages.length === 0) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    expect(messages).toEqual([
      { event: "activity", data: `{"window_start":${T},"event_type":"PAGE_VIEW","event_count":17}`, id: "1" },
    ]);

    const { get } = await startApi();
    expect(await get("/api/live/events")).toMatchObject({
      status: 503,
      body: { error: { code: "PULSE_SSE_OFF" } },
    });
  });
});
