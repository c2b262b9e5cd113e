// `pulse up` end to end: a bounded run with replayed Wikimedia, its health endpoint, and the live-feed fallback.
import { describe, expect, it } from "vitest";
import { closedPort, messagesByTopic, runPulse, startPulse, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;
const WIKIDATA_REPLAY = "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl";
const API_LINE = /API on (http:\/\/[^\s]+) /;
/** The final status line `up` prints when it stops (stdout is not a terminal here). */
const FINAL_STATUS =
  /^\[\d+s\] user-activity (\d+) \| dlq (\d+) \| wikimedia\.recentchange (\d+) \| dlq (\d+) \| stream (\d+) \| wikimedia: (.+)$/m;

describe("pulse up", () => {
  it(
    "runs for --duration, answers /api/health meanwhile, prints the status line and fills both topics",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const up = await startPulse(
        [
          "up",
          "--duration",
          "6",
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

      // The stream job runs inside `up`: live windows appear while it runs.
      let windows: Array<{ event_count: number }> = [];
      for (let attempt = 0; attempt < 40 && windows.length === 0; attempt++) {
        const live = await fetch(`${url}/api/live/activity?window=1m&last=5`);
        // A 503 with Retry-After is the store saying "busy, retry"; anything else must be a 200.
        if (live.status === 503 && live.headers.get("retry-after") !== null) continue;
        expect(live.status, await live.clone().text()).toBe(200);
        windows = ((await live.json()) as { windows: Array<{ event_count: number }> }).windows;
        if (windows.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(windows.length).toBeGreaterThan(0);
      expect(windows.every((w) => w.event_count > 0)).toBe(true);

      const result = await up.exited;
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
          ...["--duration", "28", "--port", "0", "--rate", "200", "--wikimedia", "off"],
          ...["--window", "1s", "--out-of-orderness", "1s", "--burst", "+13,4,5"],
          ...["--data-dir", dataDir],
        ],
        { waitFor: API_LINE, onCleanup: onTestFinished },
      );
      const url = up.match[1]!;
      type Alert = { series: string; kind: string; observed: number; expected: number; window_start: number };
      let spikes: Alert[] = [];
      for (let attempt = 0; attempt < 60 && spikes.length === 0; attempt++) {
        await new Promise((r) => setTimeout(r, 500));
        const response = await fetch(`${url}/api/live/alerts?limit=100`);
        if (response.status !== 200) continue;
        const body = (await response.json()) as { alerts: Alert[] };
        spikes = body.alerts.filter((a) => a.series === "activity.all.event_count" && a.kind === "spike");
      }
      expect(spikes.length).toBeGreaterThan(0);
      // Five times the rate: the flagged window holds far more than the baseline expected.
      expect(spikes[0]!.observed).toBeGreaterThan(2 * spikes[0]!.expected);
      const result = await up.exited;
      expect(result.code, result.stderr).toBe(0);
    },
    TIMEOUT_MS,
  );
});
