// Tests GET /api/stream/progress over a real PulseServer: the job's progress as it reports it, or 503.

import { describe, expect, it } from "vitest";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { ProgressHistory, type ProgressPoint, progressRoute } from "./progress.ts";

const T = Date.UTC(2024, 0, 1, 12, 0);

function startApi(options: { progress?: () => unknown } = {}) {
  return serveRoutes([progressRoute(options)]);
}

describe("progressRoute", () => {
  it("serves the stream progress, or 503 when no stream job runs", async () => {
    const progress = {
      batchId: 3,
      inputRowsPerSecond: 1_250.5,
      watermark: T,
      lagByPartition: { "0": 0, "1": 12 },
    };
    const running = await startApi({ progress: () => progress });
    expect(await running.get("/api/stream/progress")).toMatchObject({ status: 200, body: progress });

    const stopped = {
      error: { code: "PULSE_STREAM_NOT_RUNNING", message: expect.stringContaining("no stream job") },
    };
    const none = await startApi();
    expect(await none.get("/api/stream/progress")).toMatchObject({ status: 503, body: stopped });
    const notYet = await startApi({ progress: () => undefined });
    expect(await notYet.get("/api/stream/progress")).toMatchObject({ status: 503, body: stopped });
  });

  it("keeps every batch that read records and an idle one a second, up to its capacity, and serves the newest", async () => {
    const history = new ProgressHistory({ capacity: 4, idleEveryMs: 1_000 });
    history.push(point(1, T, 10));
    history.push(point(2, T + 100, 0)); // idle, 100 ms after the newest: not kept
    history.push(point(3, T + 1_100, 0)); // idle, a second on: kept
    history.push(point(4, T + 1_200, 5));
    history.push(point(5, T + 1_300, 5));
    expect(history.points(10).map((p) => p.batchId)).toEqual([1, 3, 4, 5]);
    history.push(point(6, T + 1_400, 7));
    expect(history.points(10).map((p) => p.batchId)).toEqual([3, 4, 5, 6]);
    expect(history.points(2).map((p) => p.batchId)).toEqual([5, 6]);

    const api = await serveRoutes([progressRoute({ history })]);
    expect(await api.get("/api/stream/progress/history?limit=2")).toMatchObject({
      status: 200,
      body: { points: [point(5, T + 1_300, 5), point(6, T + 1_400, 7)] },
    });
    expect((await api.get("/api/stream/progress/history")).body).toMatchObject({ points: { length: 4 } });
    for (const bad of ["0", "1001", "x", "-1"]) {
      expect(await api.get(`/api/stream/progress/history?limit=${bad}`), bad).toMatchObject({
        status: 400,
        body: { error: { code: "PULSE_HTTP_BAD_PARAM" } },
      });
    }
    expect((await startApi().then((none) => none.get("/api/stream/progress/history"))).status).toBe(503);
  });

  it("says whether a stream job runs here, and its window", async () => {
    const job = {
      job: "pulse-stream",
      window_ms: 60_000,
      slide_ms: 60_000,
      out_of_orderness_ms: 10_000,
      topics: ["user-activity"],
    };
    const running = await serveRoutes([progressRoute({ job })]);
    expect(await running.get("/api/stream/job")).toMatchObject({
      status: 200,
      body: { running: true, ...job },
    });
    const none = await startApi();
    expect(await none.get("/api/stream/job")).toMatchObject({ status: 200, body: { running: false } });
  });
});

function point(batchId: number, timestampMs: number, numInputRows: number): ProgressPoint {
  return {
    timestampMs,
    batchId,
    numInputRows,
    inputRowsPerSecond: numInputRows * 10,
    processedRowsPerSecond: numInputRows * 100,
    batchDurationMs: 3,
    durationMs: { fetch: 1, process: 1, deadLetter: 0, commit: 1 },
    watermarkMs: timestampMs - 10_000,
    lag: 0,
    stateRows: batchId,
    stateBytes: batchId * 100,
  };
}
