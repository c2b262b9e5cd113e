// The daily DAG on PostgreSQL: warehouse and run store on a real server, the same reconciliation records as on DuckDB, and the analytics and DAGs APIs reading them.
import { cpSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pulseQuery, runPulse, runPulseJson, startPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { produceAndDrain } from "../helpers/seeded-days.ts";
import { usePostgres } from "./services.ts";

const postgres = usePostgres();
const DAYS = ["2026-12-01", "2026-12-02"];
const RECORDS = `SELECT CAST(activity_date AS VARCHAR) AS activity_date, event_type, batch_count, speed_count, late_count,
                       late_copies, late_pending, unexplained, run_id
                  FROM pulse_audit.reconciliation ORDER BY activity_date, event_type`;

describe("daily_metrics with a PostgreSQL warehouse and run store", () => {
  const cleanups = new SuiteCleanups();
  let pgDir: string;
  let duckDir: string;
  let pg: Record<string, string>;

  beforeAll(async () => {
    const database = `pulse_dags_${randomBytes(6).toString("hex")}`;
    await postgres.admin.query(`CREATE DATABASE ${database}`);
    cleanups.add(async () => {
      await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });
    const url = postgres.urlOf(database);
    pg = { PULSE_WAREHOUSE: url, PULSE_RUNS: url, PULSE_ADMIN_TOKEN: "pg-token" };
    pgDir = tempDir(cleanups.add);
    await produceAndDrain(pgDir, [
      [`${DAYS[0]}T10:00:00Z`, 1, 3000],
      [`${DAYS[1]}T10:00:00Z`, 2, 3000],
      [`${DAYS[0]}T10:00:00Z`, 1, 300],
    ]);
    duckDir = join(tempDir(cleanups.add), "data");
    cpSync(pgDir, duckDir, { recursive: true });
  }, 300_000);
  afterAll(cleanups.run);

  it("backfills both days and writes the records the DuckDB warehouse gets", async () => {
    const backfill = [
      "dags",
      "backfill",
      "daily_metrics",
      "--from",
      DAYS[0]!,
      "--to",
      "2026-12-03",
      "--json",
    ];
    const onPg = await runPulseJson<{ runs: Array<{ state: string }> }>([...backfill, "--data-dir", pgDir], {
      env: pg,
      timeoutMs: 300_000,
    });
    expect(onPg.runs.map((r) => r.state)).toEqual(["success", "success"]);
    const onDuck = await runPulseJson<{ runs: Array<{ state: string }> }>(
      [...backfill, "--data-dir", duckDir],
      {
        timeoutMs: 300_000,
      },
    );
    expect(onDuck.runs.map((r) => r.state)).toEqual(["success", "success"]);

    const pgRecords = await pulseQuery(pgDir, RECORDS, pg);
    expect(pgRecords.length).toBeGreaterThan(10);
    expect(pgRecords.every((r) => Number(r.unexplained) === 0)).toBe(true);
    expect(pgRecords.some((r) => Number(r.late_copies) > 0)).toBe(true);
    const numbers = (rows: Record<string, unknown>[]) =>
      rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v]),
        ),
      );
    expect(numbers(pgRecords)).toEqual(numbers(await pulseQuery(duckDir, RECORDS)));

    // The runs are in PostgreSQL: a data folder of their own lists them from there.
    const listed = await runPulseJson<{ runs: Array<{ runId: string; state: string }> }>(
      ["dags", "runs", "daily_metrics", "--json", "--data-dir", tempDir(cleanups.add)],
      { env: pg },
    );
    expect(listed.runs.map((r) => [r.runId, r.state])).toEqual(
      DAYS.map((d) => [`backfill__${d}T00:00:00.000Z`, "success"]),
    );
  }, 600_000);

  it("serves the PostgreSQL marts and records over the analytics and DAGs APIs", async () => {
    const serve = await startPulse(["serve", "--port", "0", "--data-dir", pgDir], {
      waitFor: /listening on (http:\/\/[^\s]+) /,
      onCleanup: cleanups.add,
      env: pg,
    });
    const url = serve.match[1]!;
    const daily = (await (
      await fetch(`${url}/api/analytics/daily-user-metrics?from=${DAYS[0]}&to=${DAYS[1]}`)
    ).json()) as {
      rows: Array<{ activity_date: string; event_type: string; event_count: number; unique_users: number }>;
    };
    const expected = await pulseQuery(
      pgDir,
      `SELECT CAST(activity_date AS VARCHAR) AS activity_date, event_type, event_count, unique_users
         FROM monitoring_datalake.fct_daily_user_metrics ORDER BY activity_date, event_type`,
      pg,
    );
    expect(
      daily.rows.map((r) => [
        String(r.activity_date).slice(0, 10),
        r.event_type,
        r.event_count,
        r.unique_users,
      ]),
    ).toEqual(
      expected.map((r) => [r.activity_date, r.event_type, Number(r.event_count), Number(r.unique_users)]),
    );
    const records = (await (await fetch(`${url}/api/dags/reconciliation?date=${DAYS[1]}`)).json()) as {
      records: Array<{ activity_date: string; unexplained: number }>;
    };
    expect(records.records.length).toBeGreaterThan(5);
    expect(records.records.every((r) => r.activity_date === DAYS[1] && r.unexplained === 0)).toBe(true);
    const marts = (await (await fetch(`${url}/api/analytics/marts`)).json()) as {
      reports: Record<string, boolean>;
    };
    expect(marts.reports).toEqual({ "daily-user-metrics": true, revenue: true, funnel: true, wiki: true });
    const bad = await runPulse(["reconcile", "--date", DAYS[0]!, "--data-dir", pgDir], {
      env: { ...pg, PULSE_WAREHOUSE: postgres.urlOf("pulse_no_such_database") },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/pulse_no_such_database/);
  }, 300_000);
});
