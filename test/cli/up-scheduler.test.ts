// `pulse up` runs the batch DAGs: within seconds of start the analytics API has today's KPIs, and the runs and their logs are served under /api/dags.
import { describe, expect, it } from "vitest";
import { startPulse, tempDir } from "../helpers/cli.ts";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.ts";

const API_LINE = /API on (http:\/\/[^\s]+) /;

interface RunJson {
  runId: string;
  runType: string;
  state: string;
  tasks: Array<{ taskId: string; state: string }>;
}

describe("pulse up with the scheduler", () => {
  it("builds today's marts from what it streams, and serves its runs, logs and reconciliation", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const targetDir = tempDir(onTestFinished);
    const up = await startPulse(
      [
        "up",
        "--duration",
        "120",
        "--port",
        "0",
        "--rate",
        "200",
        "--wikimedia",
        "off",
        "--data-dir",
        dataDir,
      ],
      {
        waitFor: API_LINE,
        onCleanup: onTestFinished,
        env: { PULSE_ADMIN_TOKEN: "s3cret", DBT_TARGET_PATH: targetDir },
      },
    );
    const url = up.match[1]!;
    const today = new Date().toISOString().slice(0, 10);

    // The scheduler's first runs load what the stream job has put in the raw lake and build the marts.
    let rows: Array<{ activity_date: string; event_count: number }> = [];
    for (let attempt = 0; attempt < 300 && rows.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const answer = await fetch(`${url}/api/analytics/daily-user-metrics?from=${today}&to=${today}`);
      if (answer.status !== 200) continue;
      rows = ((await answer.json()) as { rows: typeof rows }).rows;
    }
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => String(r.activity_date).startsWith(today) && r.event_count > 0)).toBe(true);

    const dags = (await (await fetch(`${url}/api/dags`)).json()) as { dags: Array<{ id: string }> };
    expect(dags.dags.map((d) => d.id)).toEqual(["daily_metrics", "intraday_metrics"]);
    const runs = (await (await fetch(`${url}/api/dags/daily_metrics/runs`)).json()) as { runs: RunJson[] };
    expect(runs.runs.map((r) => r.runType)).toEqual(["scheduled"]);
    expect(runs.runs[0]!.tasks[0]).toMatchObject({ taskId: "load" });
    const log = await fetch(
      `${url}/api/dags/daily_metrics/runs/${encodeURIComponent(runs.runs[0]!.runId)}/logs/load`,
    );
    expect(log.status).toBe(200);
    expect(((await log.json()) as { text: string }).text).toMatch(/try 1 of load/);

    // The daily run's data tests, from the run_results.json its models_test wrote.
    interface ModelsRun {
      command: string;
      counts: { pass: number; fail: number; error: number };
      results: unknown[];
    }
    let models = null as ModelsRun | null;
    for (let attempt = 0; attempt < 200 && models?.command !== "test"; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      models = ((await (await fetch(`${url}/api/dags/models`)).json()) as { run: typeof models }).run;
    }
    expect(models?.command).toBe("test");
    expect(models!.counts.pass).toBeGreaterThan(10);
    expect(models!.counts.fail + models!.counts.error).toBe(0);
    expect(models!.results).toHaveLength(models!.counts.pass);

    // GET /metrics counts the runs by state (a parser reads the exposition, not a regex), once the run ended.
    for (let attempt = 0; attempt < 200; attempt++) {
      const { runs } = (await (await fetch(`${url}/api/dags/daily_metrics/runs`)).json()) as {
        runs: RunJson[];
      };
      if (runs[0]?.state === "success") break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const metrics = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    const dagRuns = (dag: string, state: string) => sampleValue(metrics, "pulse_dag_runs", { dag, state });
    const runsNow = (await (await fetch(`${url}/api/dags/daily_metrics/runs`)).json()) as { runs: RunJson[] };
    for (const state of ["queued", "running", "success", "failed"])
      expect(dagRuns("daily_metrics", state), state).toBe(
        runsNow.runs.filter((r) => r.state === state).length,
      );
    expect(dagRuns("daily_metrics", "success")).toBe(1);
    expect(sampleValue(metrics, "pulse_dag_task_instances", { dag: "daily_metrics", state: "success" })).toBe(
      4,
    );

    // Writes need the admin token.
    const anonymous = await fetch(`${url}/api/dags/daily_metrics/trigger`, { method: "POST" });
    expect(anonymous.status).toBe(401);
    const badBody = await fetch(`${url}/api/dags/daily_metrics/trigger`, {
      method: "POST",
      headers: { authorization: "Bearer s3cret", "content-type": "application/json" },
      body: JSON.stringify({ date: "yesterday" }),
    });
    expect(badBody.status).toBe(400);
    expect(((await badBody.json()) as { error: { message: string } }).error.message).toMatch(/YYYY-MM-DD/);
    // A manual run takes the hourly interval holding the date's midnight. Not today's: between 01:00 and
    // 02:00 UTC the scheduler's own run holds that interval already, and the trigger answers it with 200.
    const yesterday = new Date(Date.parse(today) - 86_400_000).toISOString().slice(0, 10);
    const triggered = await fetch(`${url}/api/dags/intraday_metrics/trigger`, {
      method: "POST",
      headers: { authorization: "Bearer s3cret", "content-type": "application/json" },
      body: JSON.stringify({ date: yesterday }),
    });
    expect(triggered.status).toBe(201);
    expect(((await triggered.json()) as { run: RunJson }).run.runId).toBe(
      `manual__${yesterday}T00:00:00.000Z`,
    );
    const unknown = await fetch(`${url}/api/dags/nope/runs`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
      /no DAG "nope"; the DAGs are daily_metrics, intraday_metrics/,
    );
    const result = await up.stop();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/pulse up: scheduler: daily_metrics: run scheduled__\S+ created/);
  }, 180_000);
});
