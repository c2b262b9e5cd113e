// An injected burst in real Chromium over a real `pulse up`: the Live page lists the spike the API reports and shades its window on the activity charts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { collectErrors, launchBrowser, screenshot } from "../helpers/browser.ts";
import { startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;

interface Alert {
  series: string;
  kind: string;
  window_start: number;
}

describe("alerts on the Live page", () => {
  const cleanups = new SuiteCleanups();
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    const dataDir = tempDir(cleanups.add);
    // One-second windows and five times the rate for four seconds, 13 s in: a spike within half a minute.
    const up = await startPulse(
      [
        "up",
        ...["--duration", "60", "--port", "0", "--rate", "200", "--wikimedia", "off"],
        ...["--window", "1s", "--out-of-orderness", "1s", "--burst", "+13,4,5"],
        ...["--data-dir", dataDir],
      ],
      { waitFor: /API on (http:\/\/[^\s]+) /, onCleanup: cleanups.add, env: { PULSE_SCHEDULER: "off" } },
    );
    url = up.match[1]!;
    browser = await launchBrowser(cleanups.add);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "lists the API's spike and shades its window on the activity charts",
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      cleanups.add(() => page.close());
      const errors = collectErrors(page);
      await page.goto(`${url}/`);
      // The first spike row the page shows, then the same alert in the API.
      const row = page.locator('#alerts-table tbody tr.alert-spike[data-series^="activity."]').first();
      await row.waitFor({ timeout: 60_000 });
      const series = (await row.getAttribute("data-series"))!;
      const windowStart = Number(await row.getAttribute("data-window"));
      const { alerts } = (await (await fetch(`${url}/api/live/alerts?limit=100`)).json()) as {
        alerts: Alert[];
      };
      expect(alerts).toContainEqual(
        expect.objectContaining({ series, kind: "spike", window_start: windowStart }),
      );
      // Shaded on the charts that show the activity series, at the alert's window.
      await expect
        .poll(() => page.locator(`.chart[data-bands~="spike@${windowStart / 1000}"]`).count(), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
      await screenshot(page, "web-live-alert");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
