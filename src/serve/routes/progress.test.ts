// Tests GET /api/stream/progress over a real PulseServer: the job's progress as it reports it, or 503.

import { describe, expect, it } from "vitest";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { progressRoute } from "./progress.ts";

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
});
