// `pulse live`: the latest windows from the live store after a drained stream job, as JSON and as a table.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO_ROOT, runPulse, runPulseJson, tempDir } from "../helpers/cli.ts";

const COSMETICS = "fixtures/activity/rees46-cosmetics-derived-2022-10-01.csv";

describe("pulse live", () => {
  it("shows every drained window of the REES46 cosmetics replay; event counts add up to the distinct rows", async () => {
    const dataDir = tempDir(onTestFinished);
    await runPulseJson([
      "produce",
      "activity",
      "--replay",
      COSMETICS,
      "--speed",
      "0",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    await runPulseJson(["stream", "--drain", "--json", "--data-dir", dataDir]);

    // Independently: distinct data rows of the file (an exact duplicate row is one event). SOURCES.md: 741.
    const rows = readFileSync(join(REPO_ROOT, COSMETICS), "utf8")
      .split("\n")
      .slice(1)
      .filter((l) => l !== "");
    const distinct = new Set(rows.map((l) => l.replace(/\r$/, ""))).size;
    expect(distinct).toBe(741);

    const live = await runPulseJson<{
      window_ms: number;
      windows: Array<{ event_count: number; final: boolean; event_type: string }>;
    }>(["live", "activity", "--json", "--last", "1000", "--data-dir", dataDir]);
    expect(live.window_ms).toBe(60_000);
    expect(live.windows.reduce((sum, w) => sum + w.event_count, 0)).toBe(distinct);
    expect(live.windows.every((w) => w.final)).toBe(true);
    // The replay spans 00:00:00–00:24:48, so 25 one-minute windows hold every event.
    expect(
      new Set(live.windows.map((w) => (w as unknown as { window_start: number }).window_start)).size,
    ).toBe(25);

    const table = await runPulse(["live", "activity", "--last", "1", "--data-dir", dataDir]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^window \(UTC\)/);
    expect(table.stdout).toContain("2022-10-01 00:24:00");
  }, 120_000);

  it("rejects a bad subcommand and a bad --window with exit 2", async () => {
    const dataDir = tempDir(onTestFinished);
    expect((await runPulse(["live", "sales", "--data-dir", dataDir])).code).toBe(2);
    const bad = await runPulse(["live", "activity", "--window", "soon", "--data-dir", dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--window");
  });
});
