// The exported daily_metrics DAG on real Airflow 3: `airflow dags test` over a seeded data folder writes the same reconciliation records as Pulse's own scheduler.
import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AirflowHome, airflowCommand, airflowExecutable, airflowHome } from "../helpers/airflow.ts";
import { pulseQuery, runPulse, runPulseJson, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { produceAndDrain } from "../helpers/seeded-days.ts";

const DAY = "2026-12-01";
const suite = new SuiteCleanups();
let home: AirflowHome;
let pulseDir: string;
let airflowDir: string;

const records = async (dataDir: string) =>
  (
    await pulseQuery(
      dataDir,
      `SELECT CAST(activity_date AS VARCHAR) AS activity_date, event_type, batch_count, speed_count, late_count,
              late_copies, late_pending, unexplained
         FROM pulse_audit.reconciliation ORDER BY activity_date, event_type`,
    )
  ).map((row) => ({ ...row }));

beforeAll(async () => {
  home = await airflowHome(await airflowExecutable(), suite.add);
  pulseDir = tempDir(suite.add);
  // Two days, out of order and with duplicates, then day 1 again: late copies of counted events.
  await produceAndDrain(pulseDir, [
    [`${DAY}T10:00:00Z`, 1, 3000],
    ["2026-12-02T10:00:00Z", 2, 2000],
    [`${DAY}T10:00:00Z`, 1, 300],
  ]);
  // The same data for Airflow's run, before either builds anything.
  airflowDir = join(tempDir(suite.add), "data");
  cpSync(pulseDir, airflowDir, { recursive: true });
  const exported = await runPulseJson<{ files: string[] }>([
    "dags",
    "export",
    "airflow",
    "--out",
    home.dagsFolder,
    "--json",
    "--data-dir",
    airflowDir,
  ]);
  expect(exported.files.map((f) => f.slice(home.dagsFolder.length + 1)).sort()).toEqual([
    "daily_metrics.py",
    "intraday_metrics.py",
  ]);
  await airflowCommand(home, ["pools", "set", "warehouse", "1", "One writer of the warehouse at a time"]);
}, 900_000);
afterAll(suite.run);

describe("daily_metrics exported to Airflow", () => {
  it("succeeds under airflow dags test and writes the records Pulse's scheduler writes", async () => {
    const pulse = await runPulse(
      ["dags", "backfill", "daily_metrics", "--from", DAY, "--to", "2026-12-02", "--data-dir", pulseDir],
      { timeoutMs: 180_000 },
    );
    expect(pulse.code, pulse.stderr).toBe(0);
    const expected = await records(pulseDir);
    expect(expected.length).toBeGreaterThan(5);
    expect(expected.every((r) => r.activity_date === DAY && r.unexplained === 0)).toBe(true);
    expect(expected.some((r) => Number(r.late_copies) > 0)).toBe(true);

    const test = await airflowCommand(home, ["dags", "test", "daily_metrics", DAY], 600_000);
    expect(`${test.stdout}\n${test.stderr}`).toMatch(/reconcile/);
    expect(await records(airflowDir)).toEqual(expected);
  }, 900_000);
});
