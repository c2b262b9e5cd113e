// Real Airflow 3 runs an exported DAG: `airflow dags test` runs each task's pulse command once, in dependency order, with its templates rendered, and retries a failed try.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dag, defineDag } from "../../src/orchestrate/dag.ts";
import { nextInterval } from "../../src/orchestrate/schedule.ts";
import { writeAirflowDags } from "../../src/orchestrate/export/airflow.ts";
import { type AirflowHome, airflowCommand, airflowExecutable, airflowHome } from "../helpers/airflow.ts";
import { REPO_ROOT, SuiteCleanups, tempDir } from "../helpers/cli.ts";

const DAG_ID = "pulse_airflow_export";
const LOGICAL_DATE = "2026-12-06";

/**
 * Stands in for pulse on the Airflow side: appends its argv (one JSON line per call) to $RECORD_FILE, then
 * `config …` runs the real pulse with the same argv, `flaky --try N` fails its first try and `sleep`
 * waits a minute, recording the SIGTERM that ends it sooner. Anything else (such as `dags run-task`, which
 * this test does not need to exist) only records.
 */
const RECORDER = `
import { appendFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
const argv = process.argv.slice(2);
const entry = { argv };
if (argv[0] === "config") {
  const pulse = spawnSync(process.execPath, [process.env.PULSE_BIN, ...argv], { encoding: "utf8" });
  entry.status = pulse.status;
  entry.dataDir = pulse.status === 0 ? JSON.parse(pulse.stdout).data_dir : pulse.stderr;
}
const append = (entry) => appendFileSync(process.env.RECORD_FILE, JSON.stringify(entry) + "\\n");
append(entry);
if (argv[0] === "sleep") {
  process.on("SIGTERM", () => {
    append({ argv, signal: "SIGTERM" });
    process.exit(143);
  });
  setTimeout(() => append({ argv, slept: true }), 60_000);
}
if (argv[0] === "flaky" && argv[argv.indexOf("--try") + 1] === "1") process.exit(1);
else if (argv[0] !== "sleep") process.exit(entry.status ?? 0);
`;

interface Recorded {
  argv: string[];
  signal?: string;
  status?: number;
  dataDir?: string;
}

const noop = (): void => {};
const suite = new SuiteCleanups();
let home: AirflowHome;
let dir: string;
let recorder: string;
let record: string;
let dataDir: string;
let dag: Dag;
const timingsMs: Record<string, number> = {};

async function timed<T>(step: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timingsMs[step] = Math.round(performance.now() - started);
  }
}

beforeAll(async () => {
  const airflow = await timed("airflow-env.sh", airflowExecutable);
  home = await timed("airflow db migrate", () => airflowHome(airflow, suite.add));
  dir = tempDir(suite.add, "pulse-airflow-export-");
  recorder = join(dir, "recorder.mjs");
  writeFileSync(recorder, RECORDER);
  record = join(dir, "record.jsonl");
  writeFileSync(record, "");
  dataDir = join(dir, "pulse data");
  dag = defineDag({
    id: DAG_ID,
    schedule: "@daily",
    timezone: "Europe/Berlin",
    startDate: new Date("2026-11-30T23:00:00Z"),
    catchup: true,
    maxActiveRuns: 1,
    tags: ["pulse", "test"],
    description: "Exported by the Airflow export's services test.",
    defaultTaskOptions: { retries: 0, retryDelayMs: 1_000, backoffFactor: 1 },
    tasks: [
      { id: "extract", run: noop, command: ["extract", "--date", "{{ ds }}", 'it\'s "quoted" $HOME'] },
      {
        id: "flaky",
        upstream: ["extract"],
        run: noop,
        command: ["flaky", "--date", "{{ ds }}", "--try", "{{ ti.try_number }}"],
        options: { retries: 1, timeoutMs: 60_000 },
      },
      { id: "config", upstream: ["flaky"], run: noop, command: ["config", "--json"] },
      // No command: the export runs `pulse dags run-task` with the data interval and the try number.
      { id: "report", upstream: ["config"], run: noop, options: { triggerRule: "all_done" } },
    ],
  });
  const [file] = writeAirflowDags([dag], home.dagsFolder, {
    pulse: [process.execPath, recorder],
    env: { RECORD_FILE: record, PULSE_BIN: join(REPO_ROOT, "bin/pulse.js"), PULSE_DATA_DIR: dataDir },
    cwd: dir,
  });
  expect(file).toBe(join(home.dagsFolder, `${DAG_ID}.py`));
}, 900_000);
afterAll(async () => {
  console.log(`Airflow export test timings (ms): ${JSON.stringify(timingsMs)}`);
  await suite.run();
});

describe("an exported DAG on Airflow 3", () => {
  it("runs each task's pulse command once, in order, with ds rendered, and retries a failed try", async () => {
    await timed("airflow dags test", () =>
      airflowCommand(home, ["dags", "test", DAG_ID, LOGICAL_DATE], 300_000),
    );

    const calls = readFileSync(record, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Recorded);
    expect(calls).toEqual([
      { argv: ["extract", "--date", LOGICAL_DATE, 'it\'s "quoted" $HOME'] },
      { argv: ["flaky", "--date", LOGICAL_DATE, "--try", "1"] },
      { argv: ["flaky", "--date", LOGICAL_DATE, "--try", "2"] },
      { argv: ["config", "--json"], status: 0, dataDir },
      {
        // A manual run (as `airflow dags test` makes) of logical date D (UTC midnight) gets the last
        // complete interval before D: Berlin's 12-05. A scheduled run's interval starts at its logical date.
        argv: [
          "dags",
          "run-task",
          DAG_ID,
          "report",
          "--start",
          "2026-12-04 23:00:00+00:00",
          "--end",
          "2026-12-05 23:00:00+00:00",
          "--try",
          "1",
        ],
      },
    ]);
  }, 300_000);

  it("fails a try that runs past its timeout, stops its command, and runs an all_done task after it", async () => {
    const timeoutRecord = join(dir, "timeout.jsonl");
    writeFileSync(timeoutRecord, "");
    const timeoutDag = defineDag({
      id: `${DAG_ID}_timeout`,
      schedule: "manual",
      startDate: new Date("2026-12-01T00:00:00Z"),
      tasks: [
        { id: "slow", run: noop, command: ["sleep"], options: { timeoutMs: 3_000 } },
        {
          id: "cleanup",
          upstream: ["slow"],
          run: noop,
          command: ["cleanup"],
          options: { triggerRule: "all_done" },
        },
      ],
    });
    writeAirflowDags([timeoutDag], home.dagsFolder, {
      pulse: [process.execPath, recorder],
      env: { RECORD_FILE: timeoutRecord },
    });
    const started = performance.now();
    // Airflow sets a run's state from its leaf tasks: cleanup succeeded, so the run succeeds and
    // `airflow dags test` exits 0 although slow failed.
    const { stdout, stderr } = await timed("airflow dags test (timeout)", () =>
      airflowCommand(home, ["dags", "test", timeoutDag.id, LOGICAL_DATE], 300_000),
    );
    expect(`${stdout}${stderr}`).toMatch(/AirflowTaskTimeout/);
    expect(performance.now() - started).toBeLessThan(50_000);
    const calls = readFileSync(timeoutRecord, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Recorded);
    expect(calls).toEqual([
      { argv: ["sleep"] },
      { argv: ["sleep"], signal: "SIGTERM" },
      { argv: ["cleanup"] },
    ]);
  }, 300_000);

  it("has the schedule, time zone, catchup, limits and tags Pulse gives it", async () => {
    const { stdout } = await timed("airflow dags details", () =>
      airflowCommand(home, ["dags", "details", DAG_ID, "--output", "json"]),
    );
    // Warnings (graphviz is not installed) come before the JSON.
    const details = (JSON.parse(stdout.slice(stdout.indexOf("[{"))) as Record<string, unknown>[])[0] ?? {};
    expect(details).toMatchObject({
      dag_id: DAG_ID,
      description: dag.description,
      timetable_summary: "0 0 * * *",
      max_active_runs: "1",
      has_import_errors: "False",
    });
    expect(((details.tags ?? []) as { name: string }[]).map((tag) => tag.name).sort()).toEqual([
      "pulse",
      "test",
    ]);
    // With catchup on, Airflow's first scheduled run is Pulse's first interval: Berlin's 2026-12-01.
    const first = nextInterval(dag, dag.startDate);
    expect(first?.start.toISOString()).toBe("2026-11-30T23:00:00.000Z");
    expect(new Date(details.next_dagrun_data_interval_start as string)).toEqual(first?.start);
    expect(new Date(details.next_dagrun_data_interval_end as string)).toEqual(first?.end);
    expect(new Date(details.next_dagrun_logical_date as string)).toEqual(first?.start);
  });
});
