// The Batch page (/dags) in real Chromium over a real `pulse serve` on a data folder the CLI filled and backfilled: the grid, a task's log and the reconciliation records are the API's; writes need the admin token.

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectErrors, launchBrowser, screenshot } from "../helpers/browser.ts";
import { runPulseJson, startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 180_000;
const TOKEN = "dags-page-admin-token";
const RUN = "backfill__2026-12-01T00:00:00.000Z";
const TASKS = ["load", "models_build", "models_test", "reconcile"];
/** What the browser logs for the writes refused here (a failed fetch is logged as a console error). */
const REFUSED =
  /status of (401 .*\/api\/dags\/intraday_metrics\/trigger|400 .*\/api\/dags\/intraday_metrics\/backfill)/;

interface Cell {
  task: string;
  state: string;
  text: string;
  label: string;
}

/** The grid's cells of one run, in column order. */
function cells(page: Page, runId: string): Promise<Cell[]> {
  return page.locator(`#dags-grid tbody tr[data-run="${runId}"] button.cell`).evaluateAll((buttons) =>
    buttons.map((b) => ({
      task: (b as HTMLElement).dataset.task!,
      state: (b as HTMLElement).dataset.state!,
      text: b.textContent!,
      label: b.getAttribute("aria-label")!,
    })),
  );
}

describe("the Batch page in Chromium", () => {
  const cleanups = new SuiteCleanups();
  let url: string;
  let browser: Browser;

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  beforeAll(async () => {
    const dataDir = tempDir(cleanups.add);
    // The project's artifacts (run_results.json) go to a folder of this test's, for the CLI and the server.
    const target = { DBT_TARGET_PATH: tempDir(cleanups.add) };
    const cli = (args: string[]) =>
      runPulseJson([...args, "--json", "--data-dir", dataDir], { timeoutMs: TIMEOUT_MS, env: target });
    await cli(["produce", "activity", "--count", "3000", "--start", "2026-12-01T10:00:00Z", "--seed", "1"]);
    await cli(["stream", "--drain"]);
    const backfill = ["dags", "backfill", "daily_metrics", "--from", "2026-12-01", "--to", "2026-12-02"];
    await cli(backfill);
    // reconcile again: a cleared task of a backfilled run runs in the next backfill, as its try 2.
    await cli(["dags", "clear", "daily_metrics", "2026-12-01", "--task", "reconcile"]);
    await cli(backfill);
    // pulse serve runs no scheduler: a run the page queues stays queued.
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", dataDir], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: cleanups.add,
      env: { PULSE_ADMIN_TOKEN: TOKEN, ...target },
    });
    url = serve.match[1]!;
    browser = await launchBrowser(cleanups.add);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "lists the DAGs, draws the backfilled run's four successful tasks, opens the reconcile log by keyboard and shows the API's reconciliation records",
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      cleanups.add(() => page.close());
      const errors = collectErrors(page);
      await page.goto(`${url}/dags`);
      expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe("Batch");
      await page.locator(`#dags-grid tr[data-run="${RUN}"]`).waitFor();
      expect(await page.locator("#dags-table button.dag-pick").allTextContents()).toEqual([
        "daily_metrics",
        "intraday_metrics",
      ]);
      expect(await page.locator("#dags-table tr[data-dag=daily_metrics] td[data-state]").textContent()).toBe(
        "success 2026-12-01",
      );
      expect(await page.locator("#dag-about [data-about=tasks]").textContent()).toBe(
        "load → models_build → models_test → reconcile",
      );
      expect(await page.locator("#dags-grid thead th").allTextContents()).toEqual(["run", ...TASKS]);
      expect(await page.locator("#dags-grid tbody tr").count()).toBe(1);
      expect(await cells(page, RUN)).toEqual(
        TASKS.map((task) => ({
          task,
          state: "success",
          text: task === "reconcile" ? "ok ×2" : "ok",
          label: `${task}, run 2026-12-01: success${task === "reconcile" ? ", try 2" : ""}`,
        })),
      );
      // Green, and the legend names the colour's state.
      const success = await page
        .locator(`#dags-grid button.cell[data-task=load]`)
        .evaluate((b) => getComputedStyle(b).backgroundColor);
      expect(success).toBe("rgb(187, 247, 208)");
      expect(await page.locator(".state-legend li").first().textContent()).toBe("ok success");

      // One Tab stop for the grid; arrows move to reconcile, Enter opens its log.
      await page.locator("#dags-grid button.cell[data-task=load]").focus();
      for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
      expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.task)).toBe(
        "reconcile",
      );
      await page.keyboard.press("Enter");
      await expect.poll(() => page.locator("#dags-log").textContent()).toContain("unexplained 0");
      const logOf = (tryNumber: number) =>
        api<{ tryNumber: number; text: string }>(
          `/api/dags/daily_metrics/runs/${encodeURIComponent(RUN)}/logs/reconcile?try=${tryNumber}`,
        );
      expect(await page.locator("#dags-log").textContent()).toBe((await logOf(2)).text);
      expect(await page.locator("#dags-log-status").textContent()).toBe("The log of try 2.");
      expect(await page.locator("#dags-task-title").textContent()).toBe("reconcile · 2026-12-01");
      // The earlier try, picked in the try selector.
      expect(await page.locator("#dags-try option").allTextContents()).toEqual(["try 2", "try 1"]);
      await page.locator("#dags-try").selectOption("1");
      await expect.poll(() => page.locator("#dags-log-status").textContent()).toBe("The log of try 1.");
      const first = (await logOf(1)).text;
      expect(first).toContain("try 1 of reconcile");
      expect(await page.locator("#dags-log").textContent()).toBe(first);

      // The reconciliation table is the API's records, field for field.
      const { records } = await api<{ records: Array<Record<string, string | number | null>> }>(
        "/api/dags/reconciliation",
      );
      expect(records.length).toBeGreaterThan(0);
      await expect
        .poll(() => page.locator("#reconciliation-status").textContent())
        .toBe(`${records.length} records.`);
      const shown = await page.locator("#reconciliation-table tbody tr[data-key]").evaluateAll((rows) =>
        rows.map((row) => {
          const fields: Record<string, string | number> = {};
          for (const cell of row.querySelectorAll<HTMLElement>("[data-metric]")) {
            const value = cell.dataset.value;
            fields[cell.dataset.metric!] = value === undefined ? cell.textContent! : Number(value);
          }
          return fields;
        }),
      );
      const fields = [
        "activity_date",
        "event_type",
        "batch_count",
        "speed_count",
        "late_count",
        "late_copies",
        "late_pending",
        "unexplained",
      ];
      expect(shown).toEqual(records.map((r) => Object.fromEntries(fields.map((f) => [f, r[f]]))));
      expect(records.every((r) => r.unexplained === 0)).toBe(true);
      expect(await page.locator("#reconciliation-table tr.unexplained").count()).toBe(0);

      // The latest model command's results: the daily run's models_test, every data test passed.
      const { run: models } = await api<{
        run: { command: string; counts: Record<string, number>; results: Array<{ uniqueId: string }> };
      }>("/api/dags/models");
      expect(models.command).toBe("test");
      expect(models.counts.pass).toBeGreaterThan(10);
      await expect
        .poll(() => page.locator("#models-summary").getAttribute("data-counts"))
        .toBe(JSON.stringify(models.counts));
      expect(
        await page
          .locator("#models-table tbody tr[data-node]")
          .evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.node!).sort()),
      ).toEqual(models.results.map((r) => r.uniqueId).sort());
      expect(await page.locator('#models-table tbody tr[data-status="pass"]').count()).toBe(
        models.counts.pass,
      );

      // A poll that finds nothing new redraws nothing: the same cell and row nodes after a refresh.
      await page.evaluate(() => {
        const w = window as unknown as Record<string, unknown>;
        w.cell = document.querySelector("#dags-grid button.cell");
        w.row = document.querySelector("#reconciliation-table tbody tr");
      });
      await page.waitForResponse((r) => r.url().endsWith("/api/dags/daily_metrics/runs"));
      await page.waitForTimeout(200);
      expect(
        await page.evaluate(() => {
          const w = window as unknown as Record<string, unknown>;
          return (
            w.cell === document.querySelector("#dags-grid button.cell") &&
            w.row === document.querySelector("#reconciliation-table tbody tr")
          );
        }),
      ).toBe(true);

      await screenshot(page, "web-dags");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    "refuses a trigger without the admin token with the API's message; with it, the queued run appears, a backfill fills the grid up to its cap, and a clear queues tasks again",
    async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      cleanups.add(() => page.close());
      const errors = collectErrors(page);
      await page.goto(`${url}/dags?dag=intraday_metrics`);
      await expect
        .poll(() => page.locator("#dags-grid-status").textContent())
        .toBe("No runs of intraday_metrics yet.");
      expect(await page.locator('#dags-table button[aria-pressed="true"]').textContent()).toBe(
        "intraday_metrics",
      );

      await page.locator("#dags-trigger-date").fill("2026-12-02");
      await page.locator("#dags-trigger button[type=submit]").click();
      const message = page.locator("#dags-action-message");
      await expect
        .poll(() => message.textContent())
        .toBe("401: send the admin token as Authorization: Bearer <token>");
      expect(await message.getAttribute("data-code")).toBe("PULSE_HTTP_UNAUTHORIZED");
      expect(await page.locator("#dags-grid tbody tr").count()).toBe(0);

      // The token is asked once: typed, kept for the tab, sent as a Bearer header, never in the address.
      await page.locator("#dags-token").fill(TOKEN);
      await page.locator("#dags-trigger button[type=submit]").click();
      const manual = "manual__2026-12-02T00:00:00.000Z";
      await expect.poll(() => message.textContent()).toBe(`Triggered intraday_metrics: ${manual} is queued.`);
      await page.locator(`#dags-grid tr[data-run="${manual}"]`).waitFor();
      expect((await cells(page, manual)).map((c) => [c.task, c.state, c.text])).toEqual([
        ["load", "queued", "queued"],
        ["models_run", "queued", "queued"],
      ]);
      const runs = await api<{ runs: Array<{ runId: string; state: string }> }>(
        "/api/dags/intraday_metrics/runs",
      );
      expect(runs.runs.map((r) => [r.runId, r.state])).toEqual([[manual, "queued"]]);
      expect(await page.evaluate(() => sessionStorage.getItem("pulse.adminToken"))).toBe(TOKEN);
      expect(page.url()).not.toContain(TOKEN);
      expect(await page.locator("#dags-token-form").isHidden()).toBe(true);

      // A backfill: a bad range answers 400 with the API's message; a good one queues a run per hour.
      await page.locator("#dags-backfill-from").fill("2026-12-05");
      await page.locator("#dags-backfill-to").fill("2026-12-03");
      await page.locator("#dags-backfill button[type=submit]").click();
      await expect.poll(() => message.getAttribute("data-code")).toBe("PULSE_HTTP_BAD_PARAM");
      expect(await message.textContent()).toMatch(/^400: A backfill needs --from before --to/);
      await page.locator("#dags-backfill-from").fill("2026-12-03");
      await page.locator("#dags-backfill-to").fill("2026-12-05");
      await page.locator("#dags-backfill button[type=submit]").click();
      await expect
        .poll(() => message.textContent())
        .toBe("Backfill of intraday_metrics: 48 new runs queued, 0 already there.");
      // The grid keeps the newest 25 of the 49 runs, newest first.
      await expect
        .poll(() => page.locator("#dags-grid-status").textContent())
        .toBe("The newest 25 of 49 runs.");
      const shownRuns = await page
        .locator("#dags-grid tbody tr")
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.run));
      expect(shownRuns).toHaveLength(25);
      expect(shownRuns[0]).toBe("backfill__2026-12-04T23:00:00.000Z");
      expect(shownRuns[24]).toBe("backfill__2026-12-03T23:00:00.000Z");

      // Clearing a task queues it and the tasks after it; the grid follows.
      await page.locator("#dags-table button[data-dag=daily_metrics]").click();
      await page.locator(`#dags-grid button.cell[data-run="${RUN}"][data-task=models_test]`).click();
      expect(await page.locator("#dags-try").isHidden()).toBe(true);
      await page.locator("#dags-clear-task").click();
      await expect
        .poll(() => message.textContent())
        .toBe(`Cleared models_test, reconcile in ${RUN}: queued again.`);
      await expect
        .poll(async () => (await cells(page, RUN)).map((c) => c.state))
        .toEqual(["success", "success", "queued", "queued"]);
      expect(new URL(page.url()).search).toBe("?dag=daily_metrics");

      await screenshot(page, "web-dags-actions");
      // The refused trigger's 401 and backfill's 400 are the only console errors.
      expect(errors.filter((e) => !REFUSED.test(e))).toEqual([]);
      expect(errors).toHaveLength(2);
    },
    TIMEOUT_MS,
  );

  it("fits a phone in a dark colour scheme", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 900 }, colorScheme: "dark" });
    cleanups.add(() => page.close());
    const errors = collectErrors(page);
    await page.goto(`${url}/dags`);
    await page.locator(`#dags-grid tr[data-run="${RUN}"]`).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
      "rgb(15, 17, 21)",
    );
    await screenshot(page, "web-dags-phone-dark");
    expect(errors).toEqual([]);
  });
});
