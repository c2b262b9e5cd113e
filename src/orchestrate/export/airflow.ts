// The Airflow export: renders a Pulse DAG as an Airflow 3 DAG file (Python) whose tasks run the pulse CLI with Bash.
//
// One DAG file per Pulse DAG, `<dag_id>.py`, with the same dag_id, cron schedule, start date (in the DAG's
// time zone, which is where Airflow evaluates the cron), catchup, max_active_runs, tags and description.
// Each task is a BashOperator with the task's retries, retry delay, backoff, timeout, pool and trigger rule,
// and the dependencies are written as `upstream >> task`. The command is the `pulse` argv followed by the
// task's `command`, or `dags run-task <dag> <task>` with the data interval and try number when it has none.
//
// A bash_command goes through two languages: Jinja first (Airflow renders `{{ ds }}` and the like), then
// Bash. Every argument is quoted for Bash as shlex.quote does (single quotes when it holds anything but
// [A-Za-z0-9_@%+=:,./-]); Jinja does not care about the quotes, so `'{{ ds }}'` renders to `'2026-12-06'`.
// The task's `command` is meant to hold templates and is left for Jinja; the pulse argv, the env values
// and cwd are not, so any Jinja markup in them is wrapped in `{% raw %}`.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OrchestrateError, OrchestrateErrorCode } from "../../errors.ts";
import type { Dag, Task } from "../dag.ts";

export interface AirflowExportOptions {
  /** The argv that runs pulse on the Airflow workers, e.g. ["node", "/opt/pulse/bin/pulse.js"]. */
  pulse: readonly string[];
  /** Variables every task runs with, on top of the worker's environment (e.g. PULSE_DATA_DIR). */
  env?: Readonly<Record<string, string>>;
  /** The folder each task's command runs in; by default Airflow's temporary folder. */
  cwd?: string;
}

/** Airflow's rule for dag and task ids (airflow.sdk.definitions._internal.node.validate_key). */
const AIRFLOW_KEY = /^[\w.-]+$/;
const AIRFLOW_KEY_MAX_LENGTH = 250;
/** Arguments Bash takes as they are (Python's shlex.quote leaves these bare). */
const BASH_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** Airflow reads a bash_command ending so as the path of a template file; a trailing space prevents it. */
const TEMPLATE_FILE_ENDINGS = [".sh", ".bash"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The Airflow 3 DAG file (Python source) for `dag`. */
export function renderAirflowDag(dag: Dag, options: AirflowExportOptions): string {
  checkOptions(dag, options);
  checkKey(dag.id, `DAG "${dag.id}": its id`);
  const variables = taskVariables(dag.tasks);
  const env = options.env === undefined ? [] : Object.entries(options.env);
  const lines: string[] = [
    `# Airflow 3 DAG file for the Pulse DAG "${dag.id}", written by \`pulse dags export airflow\`.`,
    "# Change the DAG in Pulse and export it again rather than editing this file.",
    "#",
    "# Each task runs the pulse CLI with Bash: Airflow renders the Jinja templates ({{ ds }},",
    "# {{ data_interval_start }}, …) first, then Bash runs the command.",
    "from datetime import timedelta",
    "",
    "import pendulum",
    "from airflow.providers.standard.operators.bash import BashOperator",
    "from airflow.sdk import DAG, CronDataIntervalTimetable",
    "",
  ];
  if (env.length > 0) {
    lines.push("# Added to the worker's environment for every task (append_env=True).", "PULSE_ENV = {");
    for (const [name, value] of env) lines.push(`    ${pyString(name)}: ${pyString(jinjaLiteral(value))},`);
    lines.push("}", "");
  }
  lines.push(
    "with DAG(",
    `    dag_id=${pyString(dag.id)},`,
    `    schedule=${schedule(dag)},`,
    `    start_date=${pendulumDatetime(dag.startDate, dag.timezone)},`,
    `    catchup=${dag.catchup ? "True" : "False"},`,
    `    max_active_runs=${dag.maxActiveRuns},`,
    `    tags=[${dag.tags.map(pyString).join(", ")}],`,
  );
  if (dag.description !== "") {
    lines.push(`    description=${pyString(dag.description)},`, `    doc_md=${pyString(dag.description)},`);
  }
  lines.push(") as dag:");
  for (const task of dag.tasks) {
    lines.push(...renderTask(dag, task, variables.get(task.id) as string, options, env.length > 0), "");
  }
  const edges = dag.tasks.filter((task) => task.upstream.length > 0);
  for (const task of edges) {
    const upstream = task.upstream.map((id) => variables.get(id) as string);
    const from = upstream.length === 1 ? upstream[0] : `[${upstream.join(", ")}]`;
    lines.push(`    ${from} >> ${variables.get(task.id)}`);
  }
  if (edges.length === 0) lines.pop();
  return `${lines.join("\n")}\n`;
}

/**
 * Airflow 3 reads a bare cron string as a CronTriggerTimetable, whose runs have an empty data interval
 * ending at the tick. Pulse's intervals run from one tick to the next with the logical date at the start,
 * which is Airflow's CronDataIntervalTimetable (Airflow 2's meaning of a cron schedule), so it is named.
 */
function schedule(dag: Dag): string {
  if (dag.cron === null) return "None";
  return `CronDataIntervalTimetable(${pyString(dag.cron)}, timezone=${pyString(dag.timezone)})`;
}

/** Writes `<dag_id>.py` for each DAG into `outDir` (created if missing) and returns the files' paths. */
export function writeAirflowDags(
  dags: readonly Dag[],
  outDir: string,
  options: AirflowExportOptions,
): string[] {
  const seen = new Set<string>();
  for (const dag of dags) {
    if (seen.has(dag.id)) {
      throw new OrchestrateError(
        OrchestrateErrorCode.badDag,
        `Two DAGs have the id "${dag.id}"; each becomes ${dag.id}.py, so DAG ids must be unique.`,
      );
    }
    seen.add(dag.id);
  }
  const sources = dags.map((dag) => ({ dag, source: renderAirflowDag(dag, options) }));
  mkdirSync(outDir, { recursive: true });
  return sources.map(({ dag, source }) => {
    const path = join(outDir, `${dag.id}.py`);
    // Airflow parses every *.py in its DAGs folder at any moment: a rename never shows it half a file.
    const partial = `${path}.partial`;
    writeFileSync(partial, source);
    renameSync(partial, path);
    return path;
  });
}

function renderTask(dag: Dag, task: Task, variable: string, options: AirflowExportOptions, withEnv: boolean) {
  checkKey(task.id, `DAG "${dag.id}", task "${task.id}": its id`);
  const o = task.options;
  const lines = [
    `    ${variable} = BashOperator(`,
    `        task_id=${pyString(task.id)},`,
    `        bash_command=${pyString(bashCommand(dag, task, options.pulse))},`,
  ];
  if (withEnv) lines.push("        env=PULSE_ENV,", "        append_env=True,");
  if (options.cwd !== undefined) lines.push(`        cwd=${pyString(jinjaLiteral(options.cwd))},`);
  lines.push(`        retries=${o.retries},`, `        retry_delay=${timedelta(o.retryDelayMs)},`);
  if (o.backoffFactor > 1) {
    lines.push(
      "        # Airflow's backoff is its own formula: the wait after try n is ceil(retry_delay ×",
      "        # factor^(n − 1)) seconds plus a jitter of up to as much again (a hash of the try), capped",
      "        # at max_retry_delay. Pulse's is the same without the rounding and the jitter.",
      `        retry_exponential_backoff=${o.backoffFactor},`,
      `        max_retry_delay=${timedelta(o.maxRetryDelayMs)},`,
    );
  }
  if (o.timeoutMs !== undefined) lines.push(`        execution_timeout=${timedelta(o.timeoutMs)},`);
  if (o.pool !== undefined) {
    lines.push(
      "        # Airflow pools must exist before the task runs: airflow pools set <name> <slots> <description>",
      `        pool=${pyString(o.pool)},`,
    );
  }
  lines.push(`        trigger_rule=${pyString(o.triggerRule)},`, "    )");
  return lines;
}

/** The Bash command line of a task: pulse's argv, then the task's command or `dags run-task …`. */
function bashCommand(dag: Dag, task: Task, pulse: readonly string[]): string {
  const command = task.command ?? [
    "dags",
    "run-task",
    dag.id,
    task.id,
    "--start",
    "{{ data_interval_start }}",
    "--end",
    "{{ data_interval_end }}",
    "--try",
    "{{ ti.try_number }}",
  ];
  // The ids in the default command are Airflow keys ([\w.-]), so they hold no Jinja markup.
  const line = [...pulse.map((arg) => jinjaLiteral(bashQuote(arg))), ...command.map(bashQuote)].join(" ");
  return TEMPLATE_FILE_ENDINGS.some((ending) => line.endsWith(ending)) ? `${line} ` : line;
}

/** One argument for Bash, quoted as Python's shlex.quote does. */
export function bashQuote(arg: string): string {
  if (BASH_SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** Text Jinja must leave as it is: any markup in it is wrapped in a raw block. */
function jinjaLiteral(text: string): string {
  if (!/\{[{%#]/.test(text)) return text;
  // A raw block ends at the first endraw, so text holding one is split around it.
  return text
    .split(/(\{%-?\s*endraw\s*-?%\})/)
    .map((part) =>
      /^\{%-?\s*endraw/.test(part) ? `{{ ${pyString(part)} }}` : `{% raw %}${part}{% endraw %}`,
    )
    .join("");
}

/** A Python string literal for any text (double-quoted; the file is UTF-8). */
export function pyString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === "\\") out += "\\\\";
    else if (char === '"') out += '\\"';
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    // Lone surrogates and the line separators Python's tokenizer may split on.
    else if ((code >= 0xd800 && code <= 0xdfff) || code === 0x2028 || code === 0x2029 || code === 0x85)
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

/** `timedelta(...)` for a duration in milliseconds, in whole seconds where it is one. */
function timedelta(ms: number): string {
  return ms % 1000 === 0 ? `timedelta(seconds=${ms / 1000})` : `timedelta(milliseconds=${ms})`;
}

/**
 * `pendulum.datetime(...)` for an instant, as its wall time in `timezone`. Where that wall time occurs twice
 * (the hour a DST change repeats), pendulum picks the second occurrence unless told fold=0.
 */
function pendulumDatetime(instant: Date, timezone: string): string {
  const wall = wallTime(instant.getTime(), timezone);
  const fields = [wall.year, wall.month, wall.day];
  const time = [wall.hour, wall.minute, wall.second, wall.millisecond * 1000];
  while (time.length > 0 && time.at(-1) === 0) time.pop();
  const args = [...fields, ...time].map(String);
  args.push(`tz=${pyString(timezone)}`);
  const key = wallKey(wall);
  const repeatedLater = [30, 60, 120].some(
    (minutes) => wallKey(wallTime(instant.getTime() + minutes * 60_000, timezone)) === key,
  );
  if (repeatedLater) args.push("fold=0");
  return `pendulum.datetime(${args.join(", ")})`;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

function wallTime(epochMs: number, timezone: string): WallTime {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(epochMs));
  const part = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value);
  return {
    year: part("year"),
    month: part("month"),
    day: part("day"),
    hour: part("hour"),
    minute: part("minute"),
    second: part("second"),
    millisecond: ((epochMs % 1000) + 1000) % 1000,
  };
}

function wallKey(wall: WallTime): string {
  return [wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond].join("-");
}

/** A Python variable per task: `task_` and the id with every character outside [A-Za-z0-9_] made "_". */
function taskVariables(tasks: readonly Task[]): Map<string, string> {
  const variables = new Map<string, string>();
  const taken = new Set<string>();
  for (const task of tasks) {
    const base = `task_${task.id.replace(/[^A-Za-z0-9_]/g, "_")}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    variables.set(task.id, name);
  }
  return variables;
}

function checkKey(id: string, what: string): void {
  if (!AIRFLOW_KEY.test(id) || id.length > AIRFLOW_KEY_MAX_LENGTH) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badDag,
      `${what} is not a valid Airflow id: Airflow takes letters, digits, "_", "." and "-", at most ` +
        `${AIRFLOW_KEY_MAX_LENGTH} characters; rename it to export the DAG.`,
    );
  }
}

function checkOptions(dag: Dag, options: AirflowExportOptions): void {
  const where = `Exporting DAG "${dag.id}" to Airflow`;
  if (options.pulse.length === 0 || options.pulse.some((arg) => typeof arg !== "string" || arg === "")) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `${where}: the pulse command must be a non-empty list of non-empty strings, e.g. ["node", "/opt/pulse/bin/pulse.js"].`,
    );
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!ENV_NAME.test(name) || typeof value !== "string") {
      throw new OrchestrateError(
        OrchestrateErrorCode.badArgument,
        `${where}: the environment variable ${JSON.stringify(name)} must have a name of letters, digits and "_" and a string value.`,
      );
    }
  }
}
