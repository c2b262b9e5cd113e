// DAG definitions as plain data: defineDag checks a spec (ids, upstreams, cycles, schedule) and resolves its task options.
//
// A Dag is data only: nothing here runs a task or reads a clock. The scheduler (later) reads a Dag, the
// schedule module turns its schedule into data intervals, and the RunStore keeps what happened.

import { Cron } from "croner";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";

/** When a task runs, given its upstream tasks' final states. */
export type TriggerRule = "all_success" | "all_done";

/** What a task's try may do: its retries, their delays, its timeout, its pool and its trigger rule. */
export interface TaskOptions {
  /** How many times a failed try is retried (0: a failure is final). */
  retries: number;
  /** The wait before the first retry; each later wait is `backoffFactor` times the one before. */
  retryDelayMs: number;
  /** The growth of the wait from one retry to the next (1: a constant wait). */
  backoffFactor: number;
  /** The longest wait between two tries, however many tries came before. */
  maxRetryDelayMs: number;
  /** A try that runs longer fails with a timeout and its signal is aborted; undefined: no limit. */
  timeoutMs: number | undefined;
  /** The pool whose slots bound how many tries of its tasks run at once; undefined: no pool. */
  pool: string | undefined;
  triggerRule: TriggerRule;
}

/** Prints a try's log lines; the executor (later) writes them to the try's log file. */
export interface TaskLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a task's callable gets for one try. The interval is [dataIntervalStart, dataIntervalEnd). */
export interface TaskContext {
  dagId: string;
  taskId: string;
  runId: string;
  /** The run's logical date: the start of its data interval (Airflow's `ds`). */
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** 1 for the first try, 2 for the first retry, … */
  tryNumber: number;
  log: TaskLogger;
  /** Aborted when the try times out or the run is stopped; a task passes it on to what it awaits. */
  signal: AbortSignal;
}

export type TaskCallable = (context: TaskContext) => Promise<void> | void;

/** What a callback or the webhook notifier is told: a try's or a run's end. */
export interface OrchestrateEvent {
  kind: "task_success" | "task_retry" | "task_failure" | "run_success" | "run_failure";
  dagId: string;
  runId: string;
  /** null for a run's event. */
  taskId: string | null;
  /** The try that ended (0 for a run's event). */
  tryNumber: number;
  /** The state it ended in. */
  state: string;
  reason: string | null;
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  at: string;
}

export type OrchestrateCallback = (event: OrchestrateEvent) => Promise<void> | void;

/**
 * A task's callbacks are called when one of its tries succeeds, fails for good, or fails and is retried; a
 * DAG's when one of its runs ends (onSuccess, onFailure). A callback that throws is logged and changes nothing.
 */
export interface Callbacks {
  onSuccess?: OrchestrateCallback;
  onFailure?: OrchestrateCallback;
  onRetry?: OrchestrateCallback;
}

export interface TaskSpec {
  id: string;
  run: TaskCallable;
  /** The tasks that run before this one, by id. */
  upstream?: readonly string[];
  /** Overrides the DAG's default task options. */
  options?: Partial<TaskOptions>;
  /**
   * The same work as a `pulse` command line, for schedulers outside Pulse (the Airflow export): argv after
   * `pulse`, where `{{ ds }}`, `{{ data_interval_start }}` and `{{ data_interval_end }}` stand for the run's
   * interval, as in Airflow's templates. Without it the export runs `pulse dags run-task <dag> <task>`.
   */
  command?: readonly string[];
  callbacks?: Callbacks;
}

/**
 * A DAG as written. `schedule` is a 5-field cron expression ("0 2 * * *"), a preset ("@hourly", "@daily",
 * "@weekly", "@monthly", "@yearly") or "manual" (runs only when triggered); it is evaluated in `timezone`
 * (an IANA name, default "UTC").
 */
export interface DagSpec {
  id: string;
  schedule: string;
  timezone?: string;
  /** No data interval starts before this instant. */
  startDate: Date;
  /** Whether missed intervals are all run (true) or only the latest one (false, the default). */
  catchup?: boolean;
  /** How many runs of the DAG may be active at once (default 16). */
  maxActiveRuns?: number;
  defaultTaskOptions?: Partial<TaskOptions>;
  tags?: readonly string[];
  description?: string;
  callbacks?: Callbacks;
  tasks: readonly TaskSpec[];
}

export interface Task {
  id: string;
  run: TaskCallable;
  upstream: readonly string[];
  options: TaskOptions;
  /** See TaskSpec.command; undefined when the task has no command form. */
  command: readonly string[] | undefined;
  callbacks: Callbacks;
}

/** A checked DAG: its schedule resolved to a cron expression (or null when manual), its tasks in run order. */
export interface Dag {
  id: string;
  schedule: string;
  /** The 5-field cron expression the schedule stands for; null for "manual". */
  cron: string | null;
  timezone: string;
  startDate: Date;
  catchup: boolean;
  maxActiveRuns: number;
  tags: readonly string[];
  description: string;
  callbacks: Callbacks;
  /** Topologically ordered: each task after its upstreams, ties in the order they were written. */
  tasks: readonly Task[];
}

export const DEFAULT_TASK_OPTIONS: TaskOptions = {
  retries: 0,
  retryDelayMs: 300_000,
  backoffFactor: 2,
  maxRetryDelayMs: 3_600_000,
  timeoutMs: undefined,
  pool: undefined,
  triggerRule: "all_success",
};

/** The presets and the cron expressions they stand for (Airflow's). */
export const SCHEDULE_PRESETS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
};

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The wait before try `tryNumber + 1`, after try `tryNumber` (≥ 1) failed:
 * min(maxRetryDelayMs, retryDelayMs × backoffFactor^(tryNumber − 1)).
 */
export function retryDelayMs(
  options: Pick<TaskOptions, "retryDelayMs" | "backoffFactor" | "maxRetryDelayMs">,
  tryNumber: number,
): number {
  if (!Number.isSafeInteger(tryNumber) || tryNumber < 1) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `retryDelayMs: tryNumber must be a whole number ≥ 1, got ${tryNumber}.`,
    );
  }
  const delay = options.retryDelayMs * options.backoffFactor ** (tryNumber - 1);
  return Math.min(options.maxRetryDelayMs, Math.round(delay));
}

/** Checks a DAG spec and returns it resolved; every problem is an OrchestrateError naming the DAG. */
export function defineDag(spec: DagSpec): Dag {
  const dagId = spec.id;
  if (typeof dagId !== "string" || !ID.test(dagId)) {
    throw bad(`A DAG id must be letters, digits, "_", "." or "-", got ${JSON.stringify(dagId)}.`);
  }
  const where = `DAG "${dagId}"`;
  if (!(spec.startDate instanceof Date) || Number.isNaN(spec.startDate.getTime())) {
    throw bad(`${where}: startDate must be a valid Date.`);
  }
  const maxActiveRuns = spec.maxActiveRuns ?? 16;
  if (!Number.isSafeInteger(maxActiveRuns) || maxActiveRuns < 1) {
    throw bad(`${where}: maxActiveRuns must be a whole number ≥ 1, got ${maxActiveRuns}.`);
  }
  const timezone = spec.timezone ?? "UTC";
  const cron = resolveSchedule(dagId, spec.schedule, timezone);
  const defaults = { ...DEFAULT_TASK_OPTIONS, ...spec.defaultTaskOptions };
  checkOptions(where, defaults);
  if (spec.tasks.length === 0) throw bad(`${where} has no tasks; give it at least one.`);

  const byId = new Map<string, TaskSpec>();
  for (const task of spec.tasks) {
    if (typeof task.id !== "string" || !ID.test(task.id)) {
      throw bad(
        `${where}: a task id must be letters, digits, "_", "." or "-", got ${JSON.stringify(task.id)}.`,
      );
    }
    if (byId.has(task.id))
      throw bad(`${where} has two tasks with the id "${task.id}"; task ids must be unique.`);
    if (typeof task.run !== "function") throw bad(`${where}, task "${task.id}": run must be a function.`);
    byId.set(task.id, task);
  }
  const tasks: Task[] = spec.tasks.map((task) => {
    const upstream = [...new Set(task.upstream ?? [])];
    for (const up of upstream) {
      if (!byId.has(up)) {
        throw bad(`${where}, task "${task.id}": upstream task "${up}" is not a task of this DAG.`);
      }
    }
    const options = { ...defaults, ...task.options };
    checkOptions(`${where}, task "${task.id}"`, options);
    if (
      task.command !== undefined &&
      (!Array.isArray(task.command) ||
        task.command.length === 0 ||
        !task.command.every((arg) => typeof arg === "string"))
    ) {
      throw bad(
        `${where}, task "${task.id}": command must be a non-empty list of strings (argv after "pulse").`,
      );
    }
    const command = task.command === undefined ? undefined : [...task.command];
    return { id: task.id, run: task.run, upstream, options, command, callbacks: { ...task.callbacks } };
  });

  return {
    id: dagId,
    schedule: spec.schedule,
    cron,
    timezone,
    startDate: new Date(spec.startDate.getTime()),
    catchup: spec.catchup ?? false,
    maxActiveRuns,
    tags: [...(spec.tags ?? [])],
    description: spec.description ?? "",
    callbacks: { ...spec.callbacks },
    tasks: inRunOrder(dagId, tasks),
  };
}

/** The cron expression a schedule stands for (null when manual), checked with croner in its time zone. */
function resolveSchedule(dagId: string, schedule: string, timezone: string): string | null {
  if (schedule === "manual") return null;
  const cron = SCHEDULE_PRESETS[schedule] ?? schedule;
  const where = `DAG "${dagId}": schedule ${JSON.stringify(schedule)}`;
  if (typeof cron !== "string" || cron.trim().split(/\s+/).length !== 5 || cron.includes("@")) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badSchedule,
      `${where} is not a 5-field cron expression ("minute hour day month weekday"), a preset ` +
        `(${Object.keys(SCHEDULE_PRESETS).join(", ")}) or "manual".`,
    );
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new OrchestrateError(
      OrchestrateErrorCode.badSchedule,
      `${where}: time zone ${JSON.stringify(timezone)} is not an IANA time zone (e.g. "Europe/Berlin").`,
    );
  }
  try {
    new Cron(cron, { timezone, mode: "5-part", paused: true }).nextRun(new Date(0));
  } catch (error) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badSchedule,
      `${where} is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}.`,
      { cause: error },
    );
  }
  return cron;
}

function checkOptions(where: string, options: TaskOptions): void {
  const wholeAtLeast = (name: keyof TaskOptions, value: unknown, min: number): void => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      throw bad(`${where}: ${name} must be a whole number ≥ ${min}, got ${String(value)}.`);
    }
  };
  wholeAtLeast("retries", options.retries, 0);
  wholeAtLeast("retryDelayMs", options.retryDelayMs, 0);
  wholeAtLeast("maxRetryDelayMs", options.maxRetryDelayMs, 0);
  if (options.timeoutMs !== undefined) wholeAtLeast("timeoutMs", options.timeoutMs, 1);
  if (
    typeof options.backoffFactor !== "number" ||
    !(options.backoffFactor >= 1) ||
    !Number.isFinite(options.backoffFactor)
  ) {
    throw bad(`${where}: backoffFactor must be a number ≥ 1, got ${String(options.backoffFactor)}.`);
  }
  if (options.triggerRule !== "all_success" && options.triggerRule !== "all_done") {
    throw bad(
      `${where}: triggerRule must be "all_success" or "all_done", got ${JSON.stringify(options.triggerRule)}.`,
    );
  }
  if (options.pool !== undefined && (typeof options.pool !== "string" || options.pool === "")) {
    throw bad(`${where}: pool must be a non-empty name, got ${JSON.stringify(options.pool)}.`);
  }
}

/**
 * Kahn's algorithm over the tasks in written order, so the order is deterministic. Tasks left over are
 * on a cycle or downstream of one; the error names one cycle, found by walking upstream edges.
 */
function inRunOrder(dagId: string, tasks: Task[]): Task[] {
  const waiting = new Map(tasks.map((task) => [task.id, task.upstream.length]));
  const downstream = new Map<string, string[]>(tasks.map((task) => [task.id, []]));
  for (const task of tasks) for (const up of task.upstream) downstream.get(up)?.push(task.id);
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const ordered: Task[] = [];
  const ready = tasks.filter((task) => task.upstream.length === 0).map((task) => task.id);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    ordered.push(byId.get(id) as Task);
    for (const down of downstream.get(id) ?? []) {
      const left = (waiting.get(down) ?? 0) - 1;
      waiting.set(down, left);
      if (left === 0) ready.push(down);
    }
  }
  if (ordered.length === tasks.length) return ordered;
  const placed = new Set(ordered.map((task) => task.id));
  const stuck = tasks.find((task) => !placed.has(task.id)) as Task;
  // Walk upstream through unplaced tasks until one repeats: the walk from there is a cycle.
  const path: string[] = [];
  let at = stuck.id;
  while (!path.includes(at)) {
    path.push(at);
    at = (byId.get(at) as Task).upstream.find((up) => !placed.has(up)) as string;
  }
  // In dependency order (each task feeds the next), from the task written first.
  const loop = path.slice(path.indexOf(at)).reverse();
  const written = tasks.map((task) => task.id);
  const first = loop.reduce((best, id) => (written.indexOf(id) < written.indexOf(best) ? id : best));
  const cycle = [...loop.slice(loop.indexOf(first)), ...loop.slice(0, loop.indexOf(first))];
  throw new OrchestrateError(
    OrchestrateErrorCode.cycle,
    `DAG "${dagId}" has a dependency cycle: ${[...cycle, cycle[0]].join(" → ")}; remove one of these upstream links.`,
    { details: { dagId, cycle } },
  );
}

function bad(message: string): OrchestrateError {
  return new OrchestrateError(OrchestrateErrorCode.badDag, message);
}
