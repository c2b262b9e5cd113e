// pulse dags end to end on DuckDB: a 3-day backfill of the daily DAG over simulated data with late and duplicate events, its reconciliation exact; reruns, logs, errors.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { ACTIVITY_SERIES } from "../../src/store/index.ts";
import { open as openStore } from "../../src/store/open.ts";
import { open as openWarehouse } from "../../src/warehouse/open.ts";
import { pulseQuery, runPulse, runPulseJson, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { readTopic } from "../helpers/topics.ts";
import { produceAndDrain } from "../helpers/seeded-days.ts";

const TIMEOUT_MS = 180_000;
const DAYS = ["2026-12-01", "2026-12-02", "2026-12-03"];

interface RunJson {
  runId: string;
  state: string;
  tasks: Array<{ taskId: string; state: string; tryNumber: number }>;
}

interface Record_ {
  activity_date: string;
  event_type: string;
  batch_count: number;
  speed_count: number;
  late_count: number;
  late_copies: number;
  late_pending: number;
  unexplained: number;
  run_id: string;
}

const records = (dataDir: string) =>
  pulseQuery(
    dataDir,
    `SELECT CAST(activity_date AS VARCHAR) AS activity_date, event_type, batch_count, speed_count, late_count,
            late_copies, late_pending, unexplained, run_id
       FROM pulse_audit.reconciliation ORDER BY activity_date, event_type`,
  ) as unknown as Promise<Record_[]>;

describe("pulse dags backfill daily_metrics over three days of simulated activity", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let backfill: { runs: RunJson[] };

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    // A day each, out of order (20% up to 10 minutes) and with 5% producer duplicates; then day 1 again
    // (the same seed gives the same events): copies of events the speed layer counted, arriving late.
    await produceAndDrain(dataDir, [
      ["2026-12-01T10:00:00Z", 1, 3000],
      ["2026-12-02T10:00:00Z", 2, 3000],
      ["2026-12-03T10:00:00Z", 3, 3000],
      ["2026-12-01T10:00:00Z", 1, 300],
    ]);
    backfill = await runPulseJson(
      [
        "dags",
        "backfill",
        "daily_metrics",
        "--from",
        DAYS[0]!,
        "--to",
        "2026-12-04",
        "--json",
        "--data-dir",
        dataDir,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("makes three runs, one per day, each task successful on its first try", () => {
    expect(backfill.runs.map((r) => [r.runId, r.state])).toEqual(
      DAYS.map((d) => [`backfill__${d}T00:00:00.000Z`, "success"]),
    );
    for (const run of backfill.runs) {
      expect(run.tasks.map((t) => [t.taskId, t.state, t.tryNumber])).toEqual([
        ["load", "success", 1],
        ["models_build", "success", 1],
        ["models_test", "success", 1],
        ["reconcile", "success", 1],
      ]);
    }
  });

  it("writes reconciliation records whose parts are the log's, the speed layer's and its late events', with nothing unexplained", async () => {
    const got = await records(dataDir);
    // The batch side, independently: the log's events deduplicated by event_id, per UTC day and type.
    const log = await readTopic<UserActivityV2>(dataDir, "user-activity");
    const byId = new Map(log.map((r) => [r.value.event_id, r.value]));
    const batch = new Map<string, number>();
    for (const e of byId.values()) {
      const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
      batch.set(key, (batch.get(key) ?? 0) + 1);
    }
    // The speed side: its daily totals, and its late events by id (a copy of a counted id is no new event).
    const store = await openStore("embedded:store.db", { dataDir });
    const speed = new Map<string, number>();
    const lateIds = new Map<string, Set<string>>();
    try {
      for (const r of await store.daily(ACTIVITY_SERIES))
        speed.set(`${new Date(r.window_start).toISOString().slice(0, 10)}|${r.event_type}`, r.event_count);
      for (const row of await store.lateEvents(1_000_000)) {
        const e = JSON.parse(row.payload) as UserActivityV2;
        const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
        lateIds.set(key, (lateIds.get(key) ?? new Set()).add(e.event_id));
      }
    } finally {
      await store.close();
    }
    expect(got.map((r) => `${r.activity_date}|${r.event_type}`)).toEqual([...batch.keys()].sort());
    for (const r of got) {
      const key = `${r.activity_date}|${r.event_type}`;
      expect(r.batch_count, key).toBe(batch.get(key));
      expect(r.speed_count, key).toBe(speed.get(key) ?? 0);
      expect(r.late_count + r.late_copies, key).toBe(lateIds.get(key)?.size ?? 0);
      expect(r.late_pending, key).toBe(0);
      expect(r.unexplained, key).toBe(0);
      expect(r.run_id).toBe(`backfill__${r.activity_date}T00:00:00.000Z`);
    }
    const sum = (day: string, field: keyof Record_) =>
      got.filter((r) => r.activity_date === day).reduce((n, r) => n + Number(r[field]), 0);
    // Every day has late events; day 1's second copy brought late copies of counted events.
    for (const day of DAYS) expect(sum(day, "late_count"), day).toBeGreaterThan(0);
    expect(sum(DAYS[0]!, "late_copies")).toBeGreaterThan(100);
    expect(sum(DAYS[1]!, "late_copies")).toBe(0);
  });

  it("keeps each try's log, read with pulse dags logs", async () => {
    const log = await runPulse([
      "dags",
      "logs",
      "daily_metrics",
      DAYS[1]!,
      "reconcile",
      "--data-dir",
      dataDir,
    ]);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/try 1 of reconcile \(run backfill__2026-12-02T00:00:00.000Z/);
    expect(log.stdout).toMatch(/2026-12-02 VIEW: batch \d+ = speed \d+ \+ late \d+ .*unexplained 0/);
    expect(log.stdout).toMatch(/try 1 ended: success/);
    const missing = await runPulse([
      "dags",
      "logs",
      "daily_metrics",
      DAYS[1]!,
      "reconcile",
      "--try",
      "2",
      "--data-dir",
      dataDir,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no log of try 2 .* the tries logged are 1/);
  });

  it("reruns a cleared day to the same records", async () => {
    const before = await records(dataDir);
    const cleared = await runPulseJson<{ cleared: string[] }>([
      "dags",
      "clear",
      "daily_metrics",
      DAYS[1]!,
      "--json",
      "--data-dir",
      dataDir,
    ]);
    expect(cleared.cleared).toEqual(["load", "models_build", "models_test", "reconcile"]);
    const rerun = await runPulseJson<{ runs: RunJson[] }>(
      [
        "dags",
        "backfill",
        "daily_metrics",
        "--from",
        DAYS[1]!,
        "--to",
        DAYS[2]!,
        "--json",
        "--data-dir",
        dataDir,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    expect(rerun.runs.map((r) => [r.runId, r.state, r.tasks.map((t) => t.tryNumber)])).toEqual([
      [`backfill__${DAYS[1]}T00:00:00.000Z`, "success", [2, 2, 2, 2]],
    ]);
    expect(await records(dataDir)).toEqual(before);
  });

  it("fails reconcile with the difference when the batch has an event the speed layer never saw", async () => {
    // A row no log record gave: the batch counts one VIEW more on day 3 than the speed layer and its late events.
    const warehouse = await openWarehouse("embedded:warehouse.duckdb", { dataDir });
    try {
      await warehouse.query(
        `INSERT INTO raw.user_activity
           SELECT * REPLACE ('invented-' || event_id AS event_id, _offset + 1000000 AS _offset)
             FROM raw.user_activity
            WHERE event_type = 'VIEW' AND CAST(event_time AS DATE) = DATE '2026-12-03'
            ORDER BY _log_partition, _offset LIMIT 1`,
      );
    } finally {
      await warehouse.close();
    }
    expect((await runPulse(["models", "run", "--data-dir", dataDir])).code).toBe(0);
    const result = await runPulse(["reconcile", "--date", DAYS[2]!, "--data-dir", dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /2026-12-03: the batch and speed layers disagree on VIEW \(batch \d+, speed \d+, late \d+: \+1\)/,
    );
    const day3 = (await records(dataDir)).filter((r) => r.activity_date === DAYS[2]);
    expect(day3.map((r) => [r.event_type, r.unexplained]).filter(([, n]) => n !== 0)).toEqual([["VIEW", 1]]);
  });
});

describe("pulse dags: listing and mistakes", () => {
  const cleanups = new SuiteCleanups();
  afterAll(cleanups.run);

  it("lists the built-in DAGs with their tasks and the commands an external scheduler runs", async () => {
    const dataDir = tempDir(cleanups.add);
    const { dags } = await runPulseJson<{
      dags: Array<{
        id: string;
        schedule: string;
        tasks: Array<{ id: string; upstream: string[]; command: string[] | null }>;
      }>;
    }>(["dags", "list", "--json", "--data-dir", dataDir]);
    expect(dags.map((d) => [d.id, d.schedule])).toEqual([
      ["daily_metrics", "@daily"],
      ["intraday_metrics", "@hourly"],
    ]);
    expect(dags[0]!.tasks.map((t) => [t.id, t.upstream, t.command])).toEqual([
      ["load", [], ["load", "--date", "{{ ds }}", "--wait-final"]],
      ["models_build", ["load"], ["models", "run"]],
      ["models_test", ["models_build"], ["models", "test"]],
      ["reconcile", ["models_test"], ["reconcile", "--date", "{{ ds }}", "--run-id", "{{ run_id }}"]],
    ]);
  });

  it("names what exists when a DAG, a run or a flag is wrong", async () => {
    const dataDir = tempDir(cleanups.add);
    const unknown = await runPulse(["dags", "runs", "daily_metric", "--data-dir", dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no DAG "daily_metric"; the DAGs are daily_metrics, intraday_metrics/);
    const noRun = await runPulse(["dags", "clear", "daily_metrics", "2026-12-01", "--data-dir", dataDir]);
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/DAG "daily_metrics" has no run "2026-12-01" \(it has no runs\)/);
    const badDate = await runPulse([
      "dags",
      "backfill",
      "daily_metrics",
      "--from",
      "yesterday",
      "--to",
      "2026-12-04",
      "--data-dir",
      dataDir,
    ]);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/--from must be a date/);
    const badRange = await runPulse([
      "dags",
      "backfill",
      "daily_metrics",
      "--from",
      "2026-12-04",
      "--to",
      "2026-12-01",
      "--data-dir",
      dataDir,
    ]);
    expect(badRange.code).toBe(1);
    expect(badRange.stderr).toMatch(/needs --from before --to/);
    const badDay = await runPulse(["reconcile", "--date", "12/03/2026", "--data-dir", dataDir]);
    expect(badDay.code).toBe(1);
    expect(badDay.stderr).toMatch(/YYYY-MM-DD/);
  });
});
