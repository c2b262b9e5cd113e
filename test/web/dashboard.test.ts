// The dashboard in real Chromium over a real `pulse up`: the Live page's figures equal the live API's, a pushed update is drawn within 1 s, and /ops shows the log, schemas and dead letters.

import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";
import { collectErrors, launchBrowser, screenshot, values } from "../helpers/browser.ts";
import { runPulseJson, startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;
const KEY = "dashboard-test-key";

interface ActivityWindow {
  window_start: number;
  event_type: string;
  event_count: number;
  unique_users: number;
  sessions: number;
  revenue: number;
}

interface Progress {
  batchId: number;
  eventTime: { watermarkMs: number | null };
  totals: Record<string, number>;
}

function activity(eventTime: number, eventType: string, user: string, extra: Record<string, unknown> = {}) {
  return {
    event_id: randomUUID(),
    user_id: user,
    session_id: `s-${user}`,
    event_type: eventType,
    event_time: eventTime,
    page: "/p",
    device: "DESKTOP",
    ...extra,
  };
}

/** Polls `read` until `done` holds of its value (or the time is up), and returns the last value. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

describe("the dashboard in Chromium", () => {
  const cleanups = new SuiteCleanups();
  let url: string;
  let dataDir: string;
  let browser: Browser;
  /** One event time for every event: they all fall in one window, whenever the test runs. */
  const eventTime = Date.now();

  async function post(events: unknown[]): Promise<{ accepted: number; rejected: number }> {
    const response = await fetch(`${url}/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify(events),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { accepted: number; rejected: number };
  }

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  async function open(path: string, options: { colorScheme?: "light" | "dark"; width?: number } = {}) {
    const page = await browser.newPage({
      viewport: { width: options.width ?? 1280, height: 900 },
      colorScheme: options.colorScheme ?? "light",
    });
    cleanups.add(() => page.close());
    const errors = collectErrors(page);
    await page.goto(`${url}${path}`);
    return { page, errors };
  }

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    // No simulator and no Wikimedia: the only events are the test's, so every figure is known exactly.
    const up = await startPulse(
      ["up", "--port", "0", "--rate", "0", "--wikimedia", "off", "--data-dir", dataDir],
      {
        waitFor: /API on (http:\/\/[^\s]+) /,
        env: { PULSE_API_KEYS: KEY },
        onCleanup: cleanups.add,
      },
    );
    url = up.match[1]!;
    browser = await launchBrowser(cleanups.add);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "shows the live API's exact figures, draws a pushed window update within 1 s, and counts duplicates and dead letters",
    async () => {
      const { page, errors } = await open("/");
      await page.locator("#activity-latest-table").waitFor();
      const batch = [
        ...["u1", "u2", "u3", "u4", "u5"].map((u) => activity(eventTime, "VIEW", u)),
        ...["u1", "u2", "u3"].map((u) => activity(eventTime, "ADD_TO_CART", u)),
        activity(eventTime, "PURCHASE", "u1", { amount: 10.5, currency: "EUR" }),
        activity(eventTime, "PURCHASE", "u2", { amount: 4.25, currency: "EUR" }),
        activity(eventTime, "CLICK", "u4"),
        activity(eventTime, "CLICK", "u4"),
        // Refused by the contract: on user-activity.dlq with its reason.
        activity(eventTime, "PURCHASE", "u9", { amount: -5, currency: "EUR" }),
      ];
      expect(await post(batch)).toMatchObject({ accepted: 12, rejected: 1 });

      const row = (type: string, metric: string) =>
        `#activity-latest-table tr[data-key="${type}"] [data-metric="${metric}"]`;
      // Every valid event of the batch is in the window (the stream job may read a batch in parts).
      await expect.poll(() => values(page, row("all", "event_count")), { timeout: 10_000 }).toEqual([12]);

      // What was sent, independently of the API: 5 views by 5 users, 3 carts, 2 purchases of 14.75, 2 clicks by 1 user.
      const shown = async (type: string) => ({
        event_count: (await values(page, row(type, "event_count")))[0],
        unique_users: (await values(page, row(type, "unique_users")))[0],
        revenue: (await values(page, row(type, "revenue")))[0],
      });
      expect(await shown("VIEW")).toEqual({ event_count: 5, unique_users: 5, revenue: 0 });
      expect(await shown("ADD_TO_CART")).toEqual({ event_count: 3, unique_users: 3, revenue: 0 });
      expect(await shown("PURCHASE")).toEqual({ event_count: 2, unique_users: 2, revenue: 14.75 });
      expect(await shown("CLICK")).toEqual({ event_count: 2, unique_users: 1, revenue: 0 });

      // And the same as the live API says, for every event type and metric of the window.
      const live = await api<{ window_ms: number; windows: ActivityWindow[] }>("/api/live/activity?last=1");
      expect(live.windows.map((w) => w.event_type).sort()).toEqual([
        "ADD_TO_CART",
        "CLICK",
        "PURCHASE",
        "VIEW",
      ]);
      for (const w of live.windows) {
        const cells = await page
          .locator(`#activity-latest-table tr[data-key="${w.event_type}"]`)
          .getAttribute("data-window");
        expect(Number(cells)).toBe(w.window_start);
        expect(await shown(w.event_type)).toEqual({
          event_count: w.event_count,
          unique_users: w.unique_users,
          revenue: w.revenue,
        });
        expect(await values(page, row(w.event_type, "sessions"))).toEqual([w.sessions]);
        expect(await values(page, row(w.event_type, "events_per_sec"))).toEqual([
          w.event_count / (live.window_ms / 1000),
        ]);
      }
      expect(await values(page, '#funnel [data-metric="unique_users"]')).toEqual([5, 3, 2]);

      // A window update is on screen within 1 s of its push reaching the browser.
      await page.evaluate(() => {
        const marks: Record<string, number> = {};
        (window as unknown as { marks: Record<string, number> }).marks = marks;
        const target = document.getElementById("activity-latest-table")!;
        new MutationObserver(() => {
          const cell = target.querySelector<HTMLElement>('tr[data-key="VIEW"] [data-metric="event_count"]');
          if (cell?.dataset.value === "6") marks.drawn ??= performance.now();
        }).observe(target, { subtree: true, childList: true, characterData: true, attributes: true });
        const stream = new EventSource("/api/live/events");
        stream.addEventListener("windows", () => {
          marks.pushed ??= performance.now();
        });
        return new Promise((resolve) => stream.addEventListener("open", resolve, { once: true }));
      });
      expect(await post([activity(eventTime, "VIEW", "u6")])).toMatchObject({ accepted: 1 });
      const marks = await until(
        () => page.evaluate(() => (window as unknown as { marks: Record<string, number> }).marks),
        (m) => m.pushed !== undefined && m.drawn !== undefined,
        10_000,
      );
      expect(marks.pushed, "no `windows` push reached the browser").toBeDefined();
      expect(marks.drawn, "the page never showed the new count").toBeDefined();
      expect(marks.drawn! - marks.pushed!).toBeLessThan(1_000);

      // A duplicate (same event_id) is dropped by the stream job and counted; the page shows the job's totals.
      await post([{ ...batch[0]! }]);
      const progress = await until(
        () => api<Progress>("/api/stream/progress"),
        (p) => p.totals.duplicates === 1,
      );
      expect(progress.totals).toMatchObject({
        input: 14,
        accepted: 13,
        duplicates: 1,
        late: 0,
        deadLettered: 0,
      });
      const counts = (metric: string) => values(page, `#stream-counts [data-metric="${metric}"]`);
      await expect.poll(() => counts("duplicates"), { timeout: 5_000 }).toEqual([1]);
      for (const metric of ["input", "accepted", "late", "partiallyLate", "deadLettered"]) {
        expect(await counts(metric), metric).toEqual([progress.totals[metric]]);
      }
      const watermark = await page
        .locator('#freshness-summary [data-metric="watermark"] time')
        .getAttribute("data-value");
      expect(Number(watermark)).toBe(progress.eventTime.watermarkMs);
      // The collector's reject is on the dead-letter topic (polled every 2 s).
      await expect
        .poll(() => values(page, '#dlq-counts tr[data-topic="user-activity.dlq"] [data-metric="messages"]'), {
          timeout: 6_000,
        })
        .toEqual([1]);

      await screenshot(page, "web-live");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    "lists the topics with the log's partitions and end offsets, the registry's subjects, a schema diff and the dead letter's reason",
    async () => {
      // The schema diff needs a subject with two versions.
      const subject = "dashboard-test-value";
      const schema = { type: "record", name: "T", fields: [{ name: "a", type: "string" }] };
      for (const fields of [
        schema.fields,
        [...schema.fields, { name: "b", type: ["null", "long"], default: null }],
      ]) {
        const registered = await fetch(`${url}/subjects/${subject}/versions`, {
          method: "POST",
          headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
          body: JSON.stringify({ schema: JSON.stringify({ ...schema, fields }) }),
        });
        expect(registered.status).toBe(200);
      }
      const { page, errors } = await open("/ops");

      // Topics: the same partitions and high watermarks as the log file says, read by another process.
      const report = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir]);
      expect(report.topics.map((t) => t.name)).toContain("user-activity.dlq");
      await page.locator('#topics-table tr[data-topic="user-activity"]').waitFor();
      for (const topic of report.topics) {
        const rowOf = `#topics-table tr[data-topic="${topic.name}"]`;
        expect(await values(page, `${rowOf} [data-metric="partitions"]`), topic.name).toEqual([
          topic.partitions,
        ]);
        expect(await values(page, `${rowOf} [data-metric="end_offset"]`), topic.name).toEqual([
          topic.high_watermarks.reduce((a, b) => a + b, 0),
        ]);
        const highs = await page
          .locator(`${rowOf} [data-metric="high_watermarks"]`)
          .getAttribute("data-value");
        expect(highs, topic.name).toBe(topic.high_watermarks.join(","));
      }
      expect(await page.locator("#topics-table tbody tr").count()).toBe(report.topics.length);

      // Schema subjects: those the registry's own REST API lists.
      const subjects = (await api<string[]>("/subjects")).sort();
      expect(subjects).toContain(subject);
      await page.locator(`#subjects-table tr[data-subject="${subject}"]`).waitFor();
      expect(
        await page
          .locator("#subjects-table tbody tr")
          .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.subject)),
      ).toEqual(subjects);
      await page.locator(`#subjects-table tr[data-subject="${subject}"] button`).click();
      await expect
        .poll(() => page.locator("#schema-diff-summary").textContent())
        .toMatch(/^v1 .* → v2 .*lines differ$/);
      expect(await page.locator("#schema-detail pre .line.added").allTextContents()).toContain(
        '+       "name": "b",\n',
      );

      // The dead-letter browser: the malformed purchase, with its reason code at its partition and offset.
      const dlq = report.topics.find((t) => t.name === "user-activity.dlq")!;
      const partition = dlq.high_watermarks.indexOf(1);
      expect(partition).toBeGreaterThanOrEqual(0);
      const letter = page.locator('#dlq-table tr[data-code="PULSE_VALIDATION_NEGATIVE_AMOUNT"]');
      await letter.waitFor();
      expect(await letter.getAttribute("data-partition")).toBe(String(partition));
      expect(await letter.getAttribute("data-offset")).toBe("0");
      await letter.locator("summary").click();
      expect(await letter.locator("pre").textContent()).toContain('"amount": -5');

      await screenshot(page, "web-ops");
      expect(errors).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it("is reachable by keyboard: Tab reaches the skip link, then the nav links, and Enter follows them", async () => {
    const { page, errors } = await open("/ops");
    await page.locator("#nav a").first().waitFor();
    const focused: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press("Tab");
      focused.push(await page.evaluate(() => document.activeElement?.textContent?.trim() ?? ""));
    }
    expect(focused.slice(0, 1)).toEqual(["Skip to content"]);
    expect(focused).toContain("Live");
    expect(focused).toContain("Pipeline");
    expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe("Pipeline");
    // Back to the Live link, and follow it.
    while ((await page.evaluate(() => document.activeElement?.textContent?.trim())) !== "Live") {
      await page.keyboard.press("Shift+Tab");
    }
    await Promise.all([page.waitForURL(`${url}/`), page.keyboard.press("Enter")]);
    await page.locator("#activity-latest-table").waitFor();
    expect(await page.locator('#nav a[aria-current="page"]').textContent()).toBe("Live");
    expect(errors).toEqual([]);
  });

  it("fits a phone and follows a dark colour scheme", async () => {
    const { page, errors } = await open("/", { colorScheme: "dark", width: 390 });
    await page.locator("#activity-latest-table tbody tr").first().waitFor();
    // Nothing wider than the screen: tables scroll inside their panels.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(15, 17, 21)");
    await screenshot(page, "web-live-phone-dark");
    expect(errors).toEqual([]);
  });
});
