// Benchmark: from a window's push (the stream job's commit) to the frame that shows it on the Live page, in headless Chromium, with pulse up at 10k events/s.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { envWithoutPulse, startPulseUp } from "./pulse-up.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const RATE = Number(process.env.PULSE_BENCH_UI_RATE ?? 10_000);
const WARMUP_MS = 8_000;
const MEASURE_MS = Number(process.env.PULSE_BENCH_UI_SECONDS ?? 30) * 1000;
const GOAL_P95_MS = 1_000;
/** bench/run.ts runs each module from the repository root. */
const ROOT = process.cwd();

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export async function run(): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "pulse-bench-ui-"));
  const seconds = Math.ceil((WARMUP_MS + MEASURE_MS) / 1000) + 30;
  const up = startPulseUp(
    [
      "--port",
      "0",
      "--rate",
      String(RATE),
      "--wikimedia",
      "off",
      "--duration",
      String(seconds),
      "--data-dir",
      dataDir,
    ],
    envWithoutPulse(),
  );
  // Debian's Chromium, as the dashboard tests drive it (scripts/services/chromium.sh installs it).
  const executablePath = execFileSync(join(ROOT, "scripts/services/chromium.sh"), ["path"], {
    encoding: "utf8",
  }).trim();
  const browser = await chromium.launch({ executablePath, headless: true });
  try {
    const url = await up.url;
    const page = await browser.newPage();
    await page.goto(`${url}/?latency`);
    await page.waitForTimeout(WARMUP_MS);
    const health0 = (await (await fetch(`${url}/api/health`)).json()) as {
      parts: { stream: { read?: number; accepted?: number } };
    };
    await page.evaluate(() => {
      (globalThis as unknown as { __pulseDrawLatencies: number[] }).__pulseDrawLatencies.length = 0;
    });
    const started = Date.now();
    await page.waitForTimeout(MEASURE_MS);
    const latencies = await page.evaluate(() => [
      ...(globalThis as unknown as { __pulseDrawLatencies: number[] }).__pulseDrawLatencies,
    ]);
    const elapsed = (Date.now() - started) / 1000;
    const health1 = (await (await fetch(`${url}/api/health`)).json()) as typeof health0;
    const read = (h: typeof health0) => Number(h.parts.stream.accepted ?? 0);
    const rate = Math.round((read(health1) - read(health0)) / elapsed);
    const sorted = [...latencies].sort((a, b) => a - b);
    const p95 = quantile(sorted, 0.95);
    const detail = `${sorted.length} pushes over ${Math.round(elapsed)} s; stream ${rate.toLocaleString("en-US")} events/s accepted`;
    return [
      { name: "ui.push_to_frame_p50", value: Math.round(quantile(sorted, 0.5)), unit: "ms", detail },
      {
        name: "ui.push_to_frame_p95",
        value: Math.round(p95),
        unit: "ms",
        detail: `goal ≤ ${GOAL_P95_MS} ms at ${RATE.toLocaleString("en-US")} events/s: ${p95 <= GOAL_P95_MS ? "met" : "NOT met"}`,
      },
      { name: "ui.push_to_frame_max", value: Math.round(sorted.at(-1) ?? Number.NaN), unit: "ms" },
    ];
  } finally {
    await browser.close();
    up.child.kill("SIGTERM");
    await up.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResults(await run());
