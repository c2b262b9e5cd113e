// Headless Chromium for the dashboard tests: Debian's browser (scripts/services/chromium.sh) driven by playwright-core, console errors collected.

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { type OnCleanup, REPO_ROOT } from "./cli.ts";

/** Screenshots of each page go here (kept out of git), one a test. */
export const SCREENSHOTS = join(REPO_ROOT, "test-results");

/** The Chromium binary the services script installed, or a clear failure naming the command that installs it. */
export function chromiumPath(): string {
  try {
    return execFileSync(join(REPO_ROOT, "scripts/services/chromium.sh"), ["path"], {
      encoding: "utf8",
    }).trim();
  } catch {
    throw new Error(
      "Chromium is missing: run scripts/services/chromium.sh (it installs Debian's chromium package with apt); the dashboard tests drive it headless",
    );
  }
}

export async function launchBrowser(onCleanup: OnCleanup): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
  onCleanup(() => browser.close());
  return browser;
}

/** Everything a page logs as an error, and uncaught exceptions: a page under test should have none. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  page.on("requestfailed", (request) => {
    // An EventSource or fetch cut short by navigation away is not a fault of the page.
    if (request.failure()?.errorText !== "net::ERR_ABORTED") errors.push(`request failed: ${request.url()}`);
  });
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The exact values (data-value) of the elements `selector` matches, as numbers. */
export async function values(page: Page, selector: string): Promise<number[]> {
  return page
    .locator(selector)
    .evaluateAll((elements) => elements.map((e) => Number(e.getAttribute("data-value"))));
}
