// The dashboard under `pulse serve` (no stream job): both pages load without errors, say so, and the Pipeline page still shows the log.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectErrors, launchBrowser, values } from "../helpers/browser.ts";
import { startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;

describe("the dashboard without a stream job", () => {
  const cleanups = new SuiteCleanups();
  let url: string;

  beforeAll(async () => {
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", tempDir(cleanups.add)], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: cleanups.add,
    });
    url = serve.match[1]!;
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("says no stream job runs on both pages, lists the topics on /ops, and logs no error", async () => {
    const browser = await launchBrowser(cleanups.add);
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(`${url}/`);
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("off");
    expect(await page.locator(".notice").textContent()).toContain("No stream job runs in this process");

    await page.goto(`${url}/ops`);
    await page.locator('#topics-table tr[data-topic="user-activity"]').waitFor();
    const topics = (await (await fetch(`${url}/api/ops/topics`)).json()) as {
      topics: Array<{ name: string; partitions: number }>;
    };
    for (const topic of topics.topics) {
      expect(
        await values(page, `#topics-table tr[data-topic="${topic.name}"] [data-metric="partitions"]`),
      ).toEqual([topic.partitions]);
    }
    expect(await page.locator(".notice").textContent()).toContain("No stream job runs in this process");
    expect(await page.locator("#stream-latest").count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
