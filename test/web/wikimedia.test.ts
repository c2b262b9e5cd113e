// The Live page's Wikimedia panels in Chromium over `pulse up` replaying recorded recent changes: a final window's figures equal the live API's.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectErrors, launchBrowser, screenshot, values } from "../helpers/browser.ts";
import { startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;
const REPLAY = "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl";
const WINDOW_MS = 2_000;

interface WikiWindow {
  window_start: number;
  wiki: string;
  edits: number;
  bot_edits: number;
  human_edits: number;
  new_pages: number;
  byte_delta: number;
  final: boolean;
}

describe("the Live page's Wikimedia panels", () => {
  const cleanups = new SuiteCleanups();
  let url: string;

  beforeAll(async () => {
    const dataDir = tempDir(cleanups.add);
    const up = await startPulse(
      [
        "up",
        "--port",
        "0",
        "--rate",
        "0",
        "--wikimedia",
        `replay:${REPLAY}`,
        "--window",
        "2s",
        "--out-of-orderness",
        "1s",
        "--data-dir",
        dataDir,
      ],
      { waitFor: /API on (http:\/\/[^\s]+) /, onCleanup: cleanups.add },
    );
    url = up.match[1]!;
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "shows a final window's edits, bots, humans, new pages and byte delta as the live API sums them, and the top pages",
    async () => {
      const browser = await launchBrowser(cleanups.add);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = collectErrors(page);
      await page.goto(`${url}/`);

      const finalRow = page.locator('#wiki-windows-table tr[data-final="true"]').first();
      await finalRow.waitFor({ timeout: 30_000 });
      const windowStart = Number(await finalRow.getAttribute("data-window"));
      const shown: Record<string, number> = {};
      for (const metric of ["edits", "bot_edits", "human_edits", "new_pages", "byte_delta"]) {
        [shown[metric]] = await values(
          page,
          `#wiki-windows-table tr[data-window="${windowStart}"] [data-metric="${metric}"]`,
        );
      }

      // A final window no longer changes: the API's rows for it, summed over wikis, are what the page shows.
      const response = await fetch(`${url}/api/live/wikimedia?window=${WINDOW_MS}&last=1000`);
      const rows = ((await response.json()) as { windows: WikiWindow[] }).windows.filter(
        (w) => w.window_start === windowStart,
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((w) => w.final)).toBe(true);
      const sum = (metric: keyof WikiWindow) => rows.reduce((total, w) => total + Number(w[metric]), 0);
      expect(shown).toEqual({
        edits: sum("edits"),
        bot_edits: sum("bot_edits"),
        human_edits: sum("human_edits"),
        new_pages: sum("new_pages"),
        byte_delta: sum("byte_delta"),
      });
      expect(shown.edits).toBeGreaterThan(0);

      // The recording is Wikidata's: its wiki is on the edits chart, and its pages in the top list.
      await expect.poll(() => page.locator("#wiki-edits .u-legend").textContent()).toContain("wikidatawiki");
      await expect
        .poll(() => page.locator("#wiki-top-table tbody tr:not(.empty)").count())
        .toBeGreaterThan(0);
      const share = await values(page, '#wiki-share-bar [data-metric$="_edits"]');
      expect(share).toHaveLength(2);

      await screenshot(page, "web-live-wikimedia");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
