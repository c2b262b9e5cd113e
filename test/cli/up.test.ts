// `pulse up` end to end: a run with replayed Wikimedia, its health endpoint and live events, and the live-feed fallback.
import { describe, expect, it } from "vitest";
import { closedPort, messagesByTopic, runPulse, startPulse, tempDir } from "../helpers/cli.ts";
import { openSse, type SseStream } from "../helpers/sse.ts";

const TIMEOUT_MS = 120_000;
/** How long an awaited event may take on a loaded machine: a safety net, not the condition. */
const EVENT_TIMEOUT_MS = 90_000;
const WIKIDATA_REPLAY = "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl";
const API_LINE = /API on (http:\/\/[^\s]+) /;
type WindowsEvent = { activity: Array<{ event_count: number }>; wikimedia: unknown[] };

/** Reads a live API answer; a 503 with Retry-After (the store busy) is retried after the next pushed event. */
async function liveJson<T>(events: SseStream, url: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url);
    if (response.status === 503 && response.headers.get("retry-after") !== null && attempt < 20) {
      await events.next(() => true, EVENT_TIMEOUT_MS);
      continue;
    }
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as T;
  }
}

/** The final status line `up` prints when it stops (stdout is not a terminal here). */
const FINAL_STATUS =
  /^\[\d+s\] user-activity (\d+) \| dlq (\d+) \| wikimedia\.recentchange (\d+) \| dlq (\d+) \| stream (\d+) \| wikimedia: (.+)$/m;

describe("pulse up", () => {
  it(
    "answers /api/health, pushes live windows of both topics, and on SIGTERM prints the status line of what it appended",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const up = await startPulse(
        [
          "up",
          "--port",
          "0",
          "--rate",
          "300",
          "--wikimedia",
          `replay:${WIKIDATA_REPLAY}`,
          "--data-dir",
          dataDir,
        ],
        { waitFor: API_LINE, onCleanup: onTestFinished },
      );
      const url = up.match[1]!;
      const events = await openSse(`${url}/api/live/events`, onTestFinished);
      // Waiting on the pushed batches themselves, both registered before either can arrive.
      const activityWindows = events.next(
        (e) => e.event === "windows" && (e.data as WindowsEvent).activity.length > 0,
        EVENT_TIMEOUT_MS,
      );
      const wikimediaWindows = events.next(
        (e) => e.event === "windows" && (e.data as WindowsEvent).wikimedia.length > 0,
        EVENT_TIMEOUT_MS,
      );

      const response = await fetch(`${url}/api/health`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const health = (await response.json()) as { status: string; parts: Record<string, { status: string }> };
      expect(health.status).toBe("ok");
      expect(Object.keys(health.parts).sort()).toEqual([
        "activity-simulator",
        "collector",
        "live-events",
        "log",
        "registry",
        "scheduler",
        "stream",
        "wikimedia",
      ]);
      expect(health.parts["scheduler"]).toMatchObject({
        status: "ok",
        dags: ["daily_metrics", "intraday_metrics"],
      });
      expect(health.parts["stream"]!.status).toBe("ok");
      expect(health.parts["activity-simulator"]!.status).toBe("ok");
      expect(health.parts["wikimedia"]).toMatchObject({ status: "ok", mode: "replay" });
      expect(health.parts["log"]!.status).toBe("ok");
      expect(health.parts["registry"]!.status).toBe("ok");
      // No API keys configured: the collector is off, which does not degrade the platform.
      expect(health.parts["collector"]!.status).toBe("off");

      // The stream job runs inside `up`: once it has pushed committed activity windows, the API serves them.
      const pushed = (await activityWindows).data as WindowsEvent;
      expect(pushed.activity.every((w) => w.event_count > 0)).toBe(true);
      const { windows } = await liveJson<{ windows: Array<{ event_count: number }> }>(
        events,
        `${url}/api/live/activity?window=1m&last=5`,
      );
      expect(windows.length).toBeGreaterThan(0);
      expect(windows.every((w) => w.event_count > 0)).toBe(true);
      await wikimediaWindows;

      const result = await up.stop();
      expect(result.code, result.stderr).toBe(0);
      const status = FINAL_STATUS.exec(result.stdout);
      expect(status, result.stdout).not.toBeNull();
      expect(status![6]).toContain("replay");
      const [activity, activityDlq, wikimedia, wikimediaDlq] = status!.slice(1, 5).map(Number);

      const topics = await messagesByTopic(dataDir);
      expect(topics["user-activity"]).toBeGreaterThan(0);
      expect(topics["wikimedia.recentchange"]).toBeGreaterThan(0);
      // The final line counts what this run appended, and this run is the only writer.
      expect({
        "user-activity": topics["user-activity"],
        "user-activity.dlq": topics["user-activity.dlq"],
        "wikimedia.recentchange": topics["wikimedia.recentchange"],
        "wikimedia.recentchange.dlq": topics["wikimedia.recentchange.dlq"],
      }).toEqual({
        "user-activity": activity,
        "user-activity.dlq": activityDlq,
        "wikimedia.recentchange": wikimedia,
        "wikimedia.recentchange.dlq": wikimediaDlq,
      });
    },
    TIMEOUT_MS,
  );

  it(
    "falls back to the bundled sample, saying so once, when the live feed is unreachable",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const port = await closedPort();
      const result = await runPulse(
        [
          "up",
          "--wikimedia",
          "live",
          "--duration",
          "5",
          "--port",
          "0",
          "--rate",
          "50",
          "--data-dir",
          dataDir,
        ],
        { env: { PULSE_WIKIMEDIA_URL: `http://127.0.0.1:${port}/stream` } },
      );
      expect(result.code, result.stderr).toBe(0);
      const output = `${result.stdout}\n${result.stderr}`.split("\n");
      const unreachable = output.filter((line) => /unreachable/i.test(line));
      expect(unreachable, output.join("\n")).toHaveLength(1);
      expect(unreachable[0]).toMatch(/live feed/i);
      expect(unreachable[0]).toMatch(/replaying the bundled sample/);
      expect(unreachable[0]).toContain(`127.0.0.1:${port}`);
      expect(FINAL_STATUS.exec(result.stdout)?.[6]).toContain(
        "replay (recentchange-wikidata-2018-03-07.legacy.jsonl)",
      );

      const topics = await messagesByTopic(dataDir);
      expect(topics["wikimedia.recentchange"]).toBeGreaterThan(0);
      expect(topics["wikimedia.recentchange.dlq"]).toBe(0);
    },
    TIMEOUT_MS,
  );
  it(
    "flags an injected burst: a spike on activity.all.event_count appears in /api/live/alerts while it runs",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const up = await startPulse(
        [
          "up",
          ...["--port", "0", "--rate", "200", "--wikimedia", "off"],
          ...["--window", "1s", "--out-of-orderness", "1s", "--burst", "+13,4,5"],
          ...["--data-dir", dataDir],
        ],
        { waitFor: API_LINE, onCleanup: onTestFinished },
      );
      const url = up.match[1]!;
      type Alert = { series: string; kind: string; observed: number; expected: number; window_start: number };
      const isSpike = (a: Alert) => a.series === "activity.all.event_count" && a.kind === "spike";
      const events = await openSse(`${url}/api/live/events`, onTestFinished);
      // The job pushes the alerts of each batch it commits: wait for the burst's, however long it takes.
      const pushed = await events.next(
        (e) => e.event === "alerts" && (e.data as Alert[]).some(isSpike),
        EVENT_TIMEOUT_MS,
      );
      const spike = (pushed.data as Alert[]).find(isSpike)!;
      // Five times the rate: the flagged window holds far more than the baseline expected.
      expect(spike.observed).toBeGreaterThan(2 * spike.expected);
      // Committed before it was pushed, so the API has it while the run goes on.
      const { alerts } = await liveJson<{ alerts: Alert[] }>(events, `${url}/api/live/alerts?limit=100`);
      expect(alerts.filter(isSpike).map((a) => a.window_start)).toContain(spike.window_start);
      const result = await up.stop();
      expect(result.code, result.stderr).toBe(0);
    },
    TIMEOUT_MS,
  );
});
