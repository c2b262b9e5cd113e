// Tests the live API over a real PulseServer and a real EmbeddedLiveStore filled with known rows.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { EmbeddedLiveStore } from "../../store/embedded/index.ts";
import type { ActivityWindowRow, AlertRow, StoreBatch, WikiWindowRow } from "../../store/index.ts";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { liveApiRoutes, type LiveApiOptions } from "./live.ts";

const M = 60_000;
const T = Date.UTC(2024, 0, 1, 12, 0);

function activity(
  partition: number,
  windowStart: number,
  windowMs: number,
  eventType: string,
  [event_count, unique_users, sessions, revenue_cents]: [number, number, number, number],
  final: boolean,
): ActivityWindowRow {
  return {
    partition,
    window_start: windowStart,
    window_end: windowStart + windowMs,
    event_type: eventType,
    event_count,
    unique_users,
    sessions,
    revenue_cents,
    final,
  };
}

function wiki(
  partition: number,
  windowStart: number,
  name: string,
  [changes, edits, bot_edits, human_edits, new_pages, byte_delta, unique_editors]: number[],
): WikiWindowRow {
  return {
    partition,
    window_start: windowStart,
    window_end: windowStart + M,
    wiki: name,
    changes: changes!,
    edits: edits!,
    bot_edits: bot_edits!,
    human_edits: human_edits!,
    new_pages: new_pages!,
    byte_delta: byte_delta!,
    unique_editors: unique_editors!,
    final: true,
  };
}

const ALERTS: AlertRow[] = [
  {
    series: "activity:PAGE_VIEW:event_count",
    window_start: T,
    window_end: T + M,
    observed: 85,
    expected: 17,
    score: 6.5,
    kind: "spike",
    created_at: T + 2 * M,
  },
  {
    series: "wiki:enwiki:edits",
    window_start: T + M,
    window_end: T + 2 * M,
    observed: 0,
    expected: 40.25,
    score: -4.5,
    kind: "drop",
    created_at: T + 3 * M,
  },
];

/** Per partition, so the API must merge: sums per (window, key), final only when every partition's row is. */
const BATCH: StoreBatch = {
  windows: {
    activity: [
      activity(0, T, M, "PAGE_VIEW", [10, 4, 5, 0], true),
      activity(1, T, M, "PAGE_VIEW", [7, 3, 3, 0], true),
      activity(0, T, M, "PURCHASE", [2, 2, 2, 1999], true),
      activity(0, T + M, M, "PAGE_VIEW", [4, 2, 2, 0], false),
      activity(1, T + M, M, "PAGE_VIEW", [1, 1, 1, 0], true),
      activity(0, T + 2 * M, M, "PURCHASE", [1, 1, 1, 500], false),
      activity(0, T, 5 * M, "PAGE_VIEW", [21, 6, 8, 0], false),
    ],
    wikimedia: [
      wiki(0, T, "enwiki", [5, 4, 1, 3, 1, 120, 3]),
      wiki(1, T, "dewiki", [2, 2, 0, 2, 0, -30, 1]),
      wiki(0, T + M, "enwiki", [1, 1, 1, 0, 0, 7, 1]),
    ],
  },
  topPages: [
    {
      partition: 0,
      window_start: T - M,
      window_end: T,
      pages: [{ wiki: "enwiki", title: "Old", edits: 9 }],
      final: true,
    },
    {
      partition: 0,
      window_start: T,
      window_end: T + M,
      pages: [
        { wiki: "enwiki", title: "A", edits: 5 },
        { wiki: "enwiki", title: "B", edits: 2 },
      ],
      final: true,
    },
    {
      partition: 1,
      window_start: T,
      window_end: T + M,
      pages: [{ wiki: "dewiki", title: "C", edits: 3 }],
      final: true,
    },
  ],
  alerts: ALERTS,
  lateEvents: [
    {
      topic: "user-activity",
      partition: 0,
      offset: 41,
      event_time: T - 5 * M,
      watermark: T,
      payload: '{"event_id":"e-41"}',
    },
    {
      topic: "user-activity",
      partition: 1,
      offset: 7,
      event_time: T - 9 * M,
      watermark: T + M,
      payload: '{"event_id":"e-7"}',
    },
  ],
  checkpoints: [],
};

async function startApi(options: Partial<LiveApiOptions> = {}, fill = true) {
  const dir = mkdtempSync(join(tmpdir(), "pulse-live-api-"));
  const store = EmbeddedLiveStore.open({ path: join(dir, "live.db") });
  onTestFinished(async () => {
    options.hub?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  if (fill) await store.commit(BATCH);
  const { url, get } = await serveRoutes(liveApiRoutes({ store, ...options }));
  return { url, store, get };
}

describe("the live API", () => {
  it("serves the latest activity windows merged over partitions", async () => {
    const { get } = await startApi();
    const latestTwo = await get("/api/live/activity?window=1m&last=2");
    expect(latestTwo.status).toBe(200);
    expect(latestTwo.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(latestTwo.body).toEqual({
      window_ms: M,
      windows: [
        {
          window_start: T + M,
          window_end: T + 2 * M,
          event_type: "PAGE_VIEW",
          event_count: 5,
          unique_users: 3,
          sessions: 3,
          revenue: 0,
          final: false,
        },
        {
          window_start: T + 2 * M,
          window_end: T + 3 * M,
          event_type: "PURCHASE",
          event_count: 1,
          unique_users: 1,
          sessions: 1,
          revenue: 5,
          final: false,
        },
      ],
    });

    // Defaults: window=1m, last=10; "60000" (ms) is the same window.
    const all = await get("/api/live/activity");
    expect(await get("/api/live/activity?window=60000")).toEqual(all);
    expect((all.body as { windows: unknown[] }).windows.slice(0, 2)).toEqual([
      {
        window_start: T,
        window_end: T + M,
        event_type: "PAGE_VIEW",
        event_count: 17,
        unique_users: 7,
        sessions: 8,
        revenue: 0,
        final: true,
      },
      {
        window_start: T,
        window_end: T + M,
        event_type: "PURCHASE",
        event_count: 2,
        unique_users: 2,
        sessions: 2,
        revenue: 19.99,
        final: true,
      },
    ]);
    expect((all.body as { windows: unknown[] }).windows).toHaveLength(4);

    expect((await get("/api/live/activity?window=5m&last=1")).body).toEqual({
      window_ms: 5 * M,
      windows: [
        {
          window_start: T,
          window_end: T + 5 * M,
          event_type: "PAGE_VIEW",
          event_count: 21,
          unique_users: 6,
          sessions: 8,
          revenue: 0,
          final: false,
        },
      ],
    });
    expect((await get("/api/live/activity?window=30s")).body).toEqual({ window_ms: 30_000, windows: [] });
  });

  it("serves Wikimedia windows and the top pages of the latest window", async () => {
    const { get } = await startApi();
    expect((await get("/api/live/wikimedia?window=1m&last=1")).body).toEqual({
      window_ms: M,
      windows: [
        {
          window_start: T + M,
          window_end: T + 2 * M,
          wiki: "enwiki",
          changes: 1,
          edits: 1,
          bot_edits: 1,
          human_edits: 0,
          new_pages: 0,
          byte_delta: 7,
          unique_editors: 1,
          final: true,
        },
      ],
    });
    const both = (await get("/api/live/wikimedia?last=2")).body as { windows: Array<{ wiki: string }> };
    expect(both.windows.map((w) => w.wiki)).toEqual(["dewiki", "enwiki", "enwiki"]);

    expect((await get("/api/live/wikimedia/top-pages?window=1m&limit=2")).body).toEqual({
      window_ms: M,
      window_start: T,
      window_end: T + M,
      pages: [
        { wiki: "enwiki", title: "A", edits: 5 },
        { wiki: "dewiki", title: "C", edits: 3 },
      ],
    });
    expect((await get("/api/live/wikimedia/top-pages?window=1h")).body).toEqual({
      window_ms: 3_600_000,
      window_start: null,
      window_end: null,
      pages: [],
    });
  });

  it("serves alerts newest first and late events with their payload as an object", async () => {
    const { get } = await startApi();
    expect((await get("/api/live/alerts")).body).toEqual({ alerts: [ALERTS[1], ALERTS[0]] });
    expect((await get("/api/live/alerts?limit=1")).body).toEqual({ alerts: [ALERTS[1]] });
    expect((await get("/api/live/late?limit=5")).body).toEqual({
      late_events: [
        {
          topic: "user-activity",
          partition: 1,
          offset: 7,
          event_time: T - 9 * M,
          watermark: T + M,
          event: { event_id: "e-7" },
        },
        {
          topic: "user-activity",
          partition: 0,
          offset: 41,
          event_time: T - 5 * M,
          watermark: T,
          event: { event_id: "e-41" },
        },
      ],
    });
  });

  it("answers an empty store with empty lists", async () => {
    const { get } = await startApi({}, false);
    expect((await get("/api/live/activity")).body).toEqual({ window_ms: M, windows: [] });
    expect((await get("/api/live/alerts")).body).toEqual({ alerts: [] });
    expect((await get("/api/live/late")).body).toEqual({ late_events: [] });
  });

  it("answers 400 naming the parameter and what it accepts", async () => {
    const { get } = await startApi();
    const cases: Array<[string, RegExp]> = [
      [
        "/api/live/activity?window=2d",
        /^window must be a length such as 30s, 1m, 5m, 1h, or a whole number of ms.*got "2d"$/,
      ],
      ["/api/live/activity?window=0", /^window must be .*got "0"$/],
      ["/api/live/activity?window=25h", /^window must be .*between 1 ms and 24h; got "25h"$/],
      ["/api/live/wikimedia?window=", /^window must be .*got ""$/],
      ["/api/live/activity?last=0", /^last must be a whole number from 1 to 1000; got "0"$/],
      ["/api/live/activity?last=1001", /^last must be a whole number from 1 to 1000; got "1001"$/],
      ["/api/live/wikimedia?last=-1", /^last must be .*got "-1"$/],
      ["/api/live/wikimedia/top-pages?limit=ten", /^limit must be a whole number from 1 to 1000; got "ten"$/],
      ["/api/live/alerts?limit=2.5", /^limit must be .*got "2.5"$/],
      [
        "/api/live/activity?windows=5m",
        /^unknown query parameter "windows" for \/api\/live\/activity; accepted: window, last$/,
      ],
      ["/api/live/late?last=3", /^unknown query parameter "last" for \/api\/live\/late; accepted: limit$/],
      [
        "/api/stream/progress?x=1",
        /^unknown query parameter "x" for \/api\/stream\/progress; it takes none$/,
      ],
      ["/api/live/activity?last=1&last=2", /^query parameter "last" is given more than once/],
    ];
    for (const [path, message] of cases) {
      const { status, body } = await get(path);
      expect({ path, status }).toEqual({ path, status: 400 });
      const error = (body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("PULSE_HTTP_BAD_PARAM");
      expect(error.message).toMatch(message);
    }
  });

  it("answers 405 to other methods and 404 to unknown live routes, and leaves other /api paths alone", async () => {
    const { get } = await startApi();
    for (const method of ["POST", "PUT", "DELETE"]) {
      const answer = await get("/api/live/alerts", { method });
      expect([answer.status, answer.headers.get("allow")]).toEqual([405, "GET"]);
      expect(answer.body).toEqual({
        error: { code: "PULSE_HTTP_METHOD", message: "use GET /api/live/alerts" },
      });
    }
    for (const path of ["/api/live/nope", "/api/live", "/api/stream/lag", "/api/live/wikimedia/top"]) {
      const answer = await get(path);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect((answer.body as { error: { message: string } }).error.message).toMatch(
        /^no live route .*; routes: \/api\/live\/activity, /,
      );
    }
    // Paths outside /api/live and /api/stream belong to other handlers.
    expect((await get("/api/health")).status).toBe(200);
    expect(await get("/api/livestream")).toMatchObject({
      status: 404,
      body: { error: { message: expect.stringMatching(/^no route for GET \/api\/livestream/) } },
    });
  });

  it("answers 503 while the store is closed", async () => {
    const { get, store } = await startApi();
    await store.close();
    expect(await get("/api/live/activity")).toMatchObject({
      status: 503,
      body: { error: { code: "PULSE_STORE_UNAVAILABLE" } },
    });
  });
});
