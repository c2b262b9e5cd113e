// The Analytics page in real Chromium over a real `pulse serve` and a DuckDB warehouse with known marts: the tables show exactly the API's rows for the filters.

import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectErrors, launchBrowser, screenshot } from "../helpers/browser.ts";
import { startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { writeMarts } from "../helpers/marts.ts";

const TIMEOUT_MS = 120_000;

type Row = Record<string, string | number | null>;

/** The rows a table shows: its cells' exact values (data-value for figures, text otherwise), keyed by metric. */
function shownRows(page: Page, table: string): Promise<Row[]> {
  return page.locator(`${table} tbody tr[data-key]`).evaluateAll((rows) =>
    rows.map((row) => {
      const cells: Record<string, string | number | null> = {};
      for (const cell of row.querySelectorAll<HTMLElement>("[data-metric]")) {
        const value = cell.dataset.value;
        cells[cell.dataset.metric!] =
          value === undefined ? cell.textContent : value === "" ? null : Number(value);
      }
      return cells;
    }),
  );
}

describe("the Analytics page in Chromium", () => {
  const cleanups = new SuiteCleanups();
  let url: string;
  /** A server whose data folder has no warehouse yet. */
  let emptyUrl: string;
  let browser: Browser;

  async function api(path: string): Promise<{ columns: string[]; rows: Row[] }> {
    const response = await fetch(`${url}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as { columns: string[]; rows: Row[] };
  }

  beforeAll(async () => {
    const dataDir = tempDir(cleanups.add);
    // The marts as `pulse batch` leaves them, written through the warehouse seam with known rows.
    await writeMarts(join(dataDir, "warehouse.duckdb"));
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", dataDir], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: cleanups.add,
    });
    url = serve.match[1]!;
    const empty = await startPulse(["serve", "--port", "0", "--data-dir", tempDir(cleanups.add)], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: cleanups.add,
    });
    emptyUrl = empty.match[1]!;
    browser = await launchBrowser(cleanups.add);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "shows the API's rows for the filters in the address, then for filters typed into the form, with CSV links",
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      cleanups.add(() => page.close());
      const errors = collectErrors(page);
      const filtered = "from=2024-03-02&to=2024-03-04&event_type=VIEW%2CCLICK";
      await page.goto(`${url}/analytics?${filtered}`);
      await expect.poll(() => page.locator("#daily-status").textContent()).toBe("3 rows.");

      const daily = await api(`/api/analytics/daily-user-metrics?${filtered}`);
      expect(daily.rows.map((r) => `${r.activity_date} ${r.event_type}`)).toEqual([
        "2024-03-02 VIEW",
        "2024-03-04 CLICK",
        "2024-03-04 VIEW",
      ]);
      expect(await shownRows(page, "#daily-table")).toEqual(daily.rows);
      expect(await page.locator("#daily-csv").getAttribute("href")).toBe(
        `/api/analytics/daily-user-metrics?${filtered}&format=csv`,
      );
      expect(await shownRows(page, "#revenue-table")).toEqual(
        (await api("/api/analytics/revenue?from=2024-03-02&to=2024-03-04")).rows,
      );
      expect(await shownRows(page, "#funnel-table")).toEqual(
        (await api("/api/analytics/funnel?from=2024-03-02&to=2024-03-04")).rows,
      );
      expect(await shownRows(page, "#wiki-table")).toEqual(
        (await api("/api/analytics/wiki?from=2024-03-02&to=2024-03-04")).rows,
      );
      // The trend chart draws one series per event type shown.
      expect(await page.locator("#trend .u-legend .u-series th").allTextContents()).toEqual(
        expect.arrayContaining(["CLICK", "VIEW"]),
      );

      // Another filter, typed and applied by keyboard: the table changes to the API's rows for it.
      await page.locator("#analytics-from").fill("2024-03-01");
      await page.locator("#analytics-to").fill("2024-03-02");
      await page.locator("#analytics-event-type").fill("PURCHASE");
      await page.locator("#analytics-event-type").press("Enter");
      await expect.poll(() => page.locator("#daily-status").textContent()).toBe("2 rows.");
      const purchases = await api(
        "/api/analytics/daily-user-metrics?from=2024-03-01&to=2024-03-02&event_type=PURCHASE",
      );
      expect(purchases.rows).toEqual([
        {
          activity_date: "2024-03-01",
          event_type: "PURCHASE",
          event_count: 2,
          unique_users: 2,
          event_count_change: null,
          unique_users_change: null,
        },
        {
          activity_date: "2024-03-02",
          event_type: "PURCHASE",
          event_count: 3,
          unique_users: 2,
          event_count_change: 1,
          unique_users_change: 0,
        },
      ]);
      expect(await shownRows(page, "#daily-table")).toEqual(purchases.rows);
      expect(new URL(page.url()).search).toBe("?from=2024-03-01&to=2024-03-02&event_type=PURCHASE");

      // The export link is the API's CSV with the same filters.
      const href = await page.locator("#daily-csv").getAttribute("href");
      expect(href).toBe(
        "/api/analytics/daily-user-metrics?from=2024-03-01&to=2024-03-02&event_type=PURCHASE&format=csv",
      );
      const csv = await fetch(`${url}${href}`);
      expect(csv.headers.get("content-disposition")).toMatch(/^attachment; /);
      expect(await csv.text()).toBe(
        "activity_date,event_type,event_count,unique_users,event_count_change,unique_users_change\r\n" +
          "2024-03-01,PURCHASE,2,2,,\r\n2024-03-02,PURCHASE,3,2,1,0\r\n",
      );

      await screenshot(page, "web-analytics");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it("fits a phone in a dark colour scheme", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 900 }, colorScheme: "dark" });
    cleanups.add(() => page.close());
    const errors = collectErrors(page);
    await page.goto(`${url}/analytics`);
    await expect.poll(() => page.locator("#daily-status").textContent()).toBe("6 rows.");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
      "rgb(15, 17, 21)",
    );
    await screenshot(page, "web-analytics-phone-dark");
    expect(errors).toEqual([]);
  });

  it("says the marts are not built yet in every table, without requesting them", async () => {
    const page = await browser.newPage();
    cleanups.add(() => page.close());
    const errors = collectErrors(page);
    await page.goto(`${emptyUrl}/analytics`);
    const reports = ["daily", "revenue", "funnel", "wiki"];
    for (const id of reports) {
      await expect
        .poll(() => page.locator(`#${id}-status`).getAttribute("data-code"))
        .toBe("PULSE_HTTP_WAREHOUSE_NOT_BUILT");
      expect(await page.locator(`#${id}-table tbody`).textContent()).toContain("run `pulse batch`");
    }
    // The page asked which marts are built first, so it requested none of them: no 404 on the console.
    expect(errors).toEqual([]);
  });
});
