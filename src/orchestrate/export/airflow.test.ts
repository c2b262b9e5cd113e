// The Airflow export's text: the DAG and task fields it writes, that it parses as Python, and that Bash gets each argument back unchanged.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OrchestrateError, OrchestrateErrorCode } from "../../errors.ts";
import { type DagSpec, defineDag } from "../dag.ts";
import { bashQuote, pyString, renderAirflowDag, writeAirflowDags } from "./airflow.ts";

const noop = (): void => {};
const PULSE = ["node", "/opt/pulse/bin/pulse.js"];

const spec = (overrides: Partial<DagSpec> = {}): DagSpec => ({
  id: "daily_metrics",
  schedule: "@daily",
  timezone: "Europe/Berlin",
  startDate: new Date("2025-12-31T23:00:00Z"),
  catchup: true,
  maxActiveRuns: 1,
  defaultTaskOptions: { retries: 2, retryDelayMs: 60_000 },
  tags: ["batch", "pulse"],
  description: 'Daily KPIs from the "raw" lake',
  tasks: [
    { id: "load", run: noop, command: ["load", "--date", "{{ ds }}"] },
    {
      id: "models_build",
      upstream: ["load"],
      run: noop,
      command: ["models", "build"],
      options: { timeoutMs: 600_000, pool: "warehouse", backoffFactor: 1.5, maxRetryDelayMs: 900_000 },
    },
    { id: "models.test", upstream: ["models_build"], run: noop, options: { backoffFactor: 1 } },
    { id: "cleanup", upstream: ["load", "models.test"], run: noop, options: { triggerRule: "all_done" } },
  ],
  ...overrides,
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-airflow-export-"));
  dirs.push(dir);
  return dir;
}

/** The file parsed by Python's own parser; returns each BashOperator's task_id and bash_command. */
function parsePython(source: string): Record<string, string> {
  const file = join(tempDir(), "dag.py");
  writeFileSync(file, source);
  const script = `
import ast, json, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
commands = {}
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BashOperator":
        kw = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg in ("task_id", "bash_command")}
        commands[kw["task_id"]] = kw["bash_command"]
print(json.dumps(commands))
`;
  return JSON.parse(execFileSync("python3", ["-c", script, file], { encoding: "utf8" }));
}

/** The argv Bash makes of a command line that starts with `printf '%s\0'`. */
function bashArgv(line: string): string[] {
  return execFileSync("bash", ["-c", line], { encoding: "utf8" }).split("\0").slice(0, -1);
}

describe("renderAirflowDag", () => {
  it("writes the DAG's fields and each task's options as Airflow 3 arguments", () => {
    const lines = renderAirflowDag(defineDag(spec()), {
      pulse: PULSE,
      env: { PULSE_DATA_DIR: "/srv/pulse data" },
    }).split("\n");
    const expectLines = (wanted: string[]): void => {
      const start = lines.indexOf(wanted[0] as string);
      expect(start, `line ${JSON.stringify(wanted[0])}`).toBeGreaterThanOrEqual(0);
      expect(lines.slice(start, start + wanted.length)).toEqual(wanted);
    };
    expect(lines[0]).toBe(
      '# Airflow 3 DAG file for the Pulse DAG "daily_metrics", written by `pulse dags export airflow`.',
    );
    expectLines([
      "from datetime import timedelta",
      "",
      "import pendulum",
      "from airflow.providers.standard.operators.bash import BashOperator",
      "from airflow.sdk import DAG, CronDataIntervalTimetable",
    ]);
    expectLines(["PULSE_ENV = {", '    "PULSE_DATA_DIR": "/srv/pulse data",', "}"]);
    expectLines([
      "with DAG(",
      '    dag_id="daily_metrics",',
      '    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Berlin"),',
      '    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin"),',
      "    catchup=True,",
      "    max_active_runs=1,",
      '    tags=["batch", "pulse"],',
      '    description="Daily KPIs from the \\"raw\\" lake",',
      '    doc_md="Daily KPIs from the \\"raw\\" lake",',
      ") as dag:",
    ]);
    expectLines([
      "    task_load = BashOperator(",
      '        task_id="load",',
      `        bash_command="node /opt/pulse/bin/pulse.js load --date '{{ ds }}'",`,
      "        env=PULSE_ENV,",
      "        append_env=True,",
      "        retries=2,",
      "        retry_delay=timedelta(seconds=60),",
    ]);
    expectLines([
      "        retry_exponential_backoff=2,",
      "        max_retry_delay=timedelta(seconds=3600),",
      '        trigger_rule="all_success",',
      "    )",
    ]);
    expectLines([
      "        retry_exponential_backoff=1.5,",
      "        max_retry_delay=timedelta(seconds=900),",
      "        execution_timeout=timedelta(seconds=600),",
      "        # Airflow pools must exist before the task runs: airflow pools set <name> <slots> <description>",
      '        pool="warehouse",',
    ]);
    // Without a command the task runs `pulse dags run-task` with the interval and the try number.
    expectLines([
      "    task_models_test = BashOperator(",
      '        task_id="models.test",',
      `        bash_command="node /opt/pulse/bin/pulse.js dags run-task daily_metrics models.test --start '{{ data_interval_start }}' --end '{{ data_interval_end }}' --try '{{ ti.try_number }}'",`,
      "        env=PULSE_ENV,",
      "        append_env=True,",
      "        retries=2,",
      "        retry_delay=timedelta(seconds=60),",
      '        trigger_rule="all_success",',
      "    )",
    ]);
    expect(lines).toContain('        trigger_rule="all_done",');
    expectLines([
      "    task_load >> task_models_build",
      "    task_models_build >> task_models_test",
      "    [task_load, task_models_test] >> task_cleanup",
      "",
    ]);
    expect(lines.at(-1)).toBe("");
    // A constant delay has no backoff arguments: four tasks, three with backoff.
    expect(lines.filter((line) => line.includes("retry_exponential_backoff="))).toHaveLength(3);
  });

  it("parses as Python, with one BashOperator per task", () => {
    const commands = parsePython(renderAirflowDag(defineDag(spec()), { pulse: PULSE }));
    expect(Object.keys(commands)).toEqual(["load", "models_build", "models.test", "cleanup"]);
    expect(commands.models_build).toBe("node /opt/pulse/bin/pulse.js models build");
  });

  it("quotes awkward arguments so Bash gets each one back unchanged", () => {
    const awkward = [
      "it's",
      'say "hi"',
      "$HOME `id` $(id)",
      "a;b|c&d>e<f",
      "*.json",
      "",
      "back\\slash",
      "two\nlines",
      "tab\there",
      "ünïcødé ✓",
      "--flag=value with space",
      "run.sh",
    ];
    const dag = defineDag(spec({ tasks: [{ id: "awkward", run: noop, command: awkward }], description: "" }));
    const source = renderAirflowDag(dag, { pulse: ["printf", "%s\\0", "/path with space/pulse's.js"] });
    const commands = parsePython(source);
    const line = commands.awkward as string;
    // Airflow reads a command ending in .sh as a template file's path; the trailing space prevents it.
    expect(line.endsWith("run.sh ")).toBe(true);
    expect(bashArgv(line)).toEqual(["/path with space/pulse's.js", ...awkward]);
    expect(source).not.toContain("description=");
  });

  it("leaves the command's templates to Jinja but keeps Jinja markup in the pulse path, env and cwd literal", () => {
    const dag = defineDag(spec({ tasks: [{ id: "t", run: noop, command: ["load", "--date", "{{ ds }}"] }] }));
    const source = renderAirflowDag(dag, {
      pulse: ["/opt/{{odd}}/pulse"],
      env: { PULSE_DATA_DIR: "/data/{% x %}" },
      cwd: "/work/{#c#}",
    });
    expect(source).toContain(
      `bash_command="{% raw %}'/opt/{{odd}}/pulse'{% endraw %} load --date '{{ ds }}'",`,
    );
    expect(source).toContain('"PULSE_DATA_DIR": "{% raw %}/data/{% x %}{% endraw %}",');
    expect(source).toContain('cwd="{% raw %}/work/{#c#}{% endraw %}",');
  });

  it("writes schedule=None for a manual DAG and an explicit fold for a start in a repeated hour", () => {
    // 2026-10-25 00:30 UTC is 02:30 CEST, the first of Berlin's two 02:30s that night.
    const dag = defineDag(
      spec({ schedule: "manual", startDate: new Date("2026-10-25T00:30:00.250Z"), tags: [] }),
    );
    const source = renderAirflowDag(dag, { pulse: PULSE });
    expect(source).toContain("    schedule=None,\n");
    expect(source).toContain(
      '    start_date=pendulum.datetime(2026, 10, 25, 2, 30, 0, 250000, tz="Europe/Berlin", fold=0),\n',
    );
    expect(source).toContain("    tags=[],\n");
    const second = renderAirflowDag(defineDag(spec({ startDate: new Date("2026-10-25T01:30:00Z") })), {
      pulse: PULSE,
    });
    expect(second).toContain('    start_date=pendulum.datetime(2026, 10, 25, 2, 30, tz="Europe/Berlin"),\n');
  });

  it("gives tasks whose ids mangle alike distinct variables", () => {
    const dag = defineDag(
      spec({
        tasks: [
          { id: "a.b", run: noop },
          { id: "a-b", run: noop, upstream: ["a.b"] },
          { id: "a_b", run: noop, upstream: ["a-b"] },
        ],
      }),
    );
    const source = renderAirflowDag(dag, { pulse: PULSE });
    expect(source).toContain("    task_a_b >> task_a_b_2\n    task_a_b_2 >> task_a_b_3\n");
    expect(Object.keys(parsePython(source))).toEqual(["a.b", "a-b", "a_b"]);
  });

  it("refuses ids Airflow does not take and a bad pulse command or variable name", () => {
    const code = (make: () => unknown): string | undefined => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(OrchestrateError);
        return (error as OrchestrateError).code;
      }
      return undefined;
    };
    const long = defineDag(spec({ tasks: [{ id: "t".repeat(251), run: noop }] }));
    expect(code(() => renderAirflowDag(long, { pulse: PULSE }))).toBe(OrchestrateErrorCode.badDag);
    const dag = defineDag(spec());
    expect(code(() => renderAirflowDag(dag, { pulse: [] }))).toBe(OrchestrateErrorCode.badArgument);
    expect(code(() => renderAirflowDag(dag, { pulse: PULSE, env: { "BAD-NAME": "x" } }))).toBe(
      OrchestrateErrorCode.badArgument,
    );
  });
});

describe("writeAirflowDags", () => {
  it("writes <dag_id>.py per DAG and returns the paths", () => {
    const out = join(tempDir(), "dags");
    const daily = defineDag(spec());
    const hourly = defineDag(spec({ id: "intraday", schedule: "@hourly" }));
    const paths = writeAirflowDags([daily, hourly], out, { pulse: PULSE });
    expect(paths).toEqual([join(out, "daily_metrics.py"), join(out, "intraday.py")]);
    expect(readFileSync(paths[1] as string, "utf8")).toBe(renderAirflowDag(hourly, { pulse: PULSE }));
    expect(() => writeAirflowDags([daily, daily], out, { pulse: PULSE })).toThrow(/Two DAGs have the id/);
  });
});

describe("bashQuote and pyString", () => {
  it("quote as Python's shlex.quote and repr do", () => {
    expect(bashQuote("plain-arg_1.0/x:y,z@%+=")).toBe("plain-arg_1.0/x:y,z@%+=");
    expect(bashQuote("")).toBe("''");
    expect(bashQuote("it's")).toBe(`'it'"'"'s'`);
    expect(pyString('a"b\\c\nd\u0001')).toBe('"a\\"b\\\\c\\nd\\x01"');
  });
});
