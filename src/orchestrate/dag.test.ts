// defineDag: what a checked DAG holds, the errors a bad spec gets, and the retry delays of retryDelayMs.
import { describe, expect, it } from "vitest";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import { type DagSpec, DEFAULT_TASK_OPTIONS, defineDag, retryDelayMs, type TaskSpec } from "./dag.ts";

const noop = (): void => {};
const task = (id: string, upstream: string[] = [], options: TaskSpec["options"] = {}): TaskSpec => ({
  id,
  run: noop,
  upstream,
  options,
});
const spec = (overrides: Partial<DagSpec> = {}): DagSpec => ({
  id: "daily_metrics",
  schedule: "@daily",
  startDate: new Date("2026-01-01T00:00:00Z"),
  tasks: [task("load"), task("models_build", ["load"]), task("models_test", ["models_build"])],
  ...overrides,
});

function failure(make: () => unknown): OrchestrateError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestrateError);
    return error as OrchestrateError;
  }
  throw new OrchestrateError(OrchestrateErrorCode.badArgument, "expected an error, got none");
}

describe("defineDag", () => {
  it("resolves defaults, presets and task options over the DAG's defaults", () => {
    const dag = defineDag(
      spec({
        timezone: "Europe/Berlin",
        catchup: true,
        tags: ["batch"],
        description: "The daily KPIs",
        defaultTaskOptions: { retries: 2, retryDelayMs: 1000 },
        tasks: [
          task("load", [], { timeoutMs: 60_000, pool: "warehouse" }),
          task("cleanup", ["load"], { triggerRule: "all_done" }),
        ],
      }),
    );
    expect(dag.id).toBe("daily_metrics");
    expect(dag.cron).toBe("0 0 * * *");
    expect(dag.timezone).toBe("Europe/Berlin");
    expect(dag.catchup).toBe(true);
    expect(dag.maxActiveRuns).toBe(16);
    expect(dag.tags).toEqual(["batch"]);
    expect(dag.description).toBe("The daily KPIs");
    expect(dag.tasks.map((t) => [t.id, t.upstream, t.options])).toEqual([
      [
        "load",
        [],
        { ...DEFAULT_TASK_OPTIONS, retries: 2, retryDelayMs: 1000, timeoutMs: 60_000, pool: "warehouse" },
      ],
      [
        "cleanup",
        ["load"],
        { ...DEFAULT_TASK_OPTIONS, retries: 2, retryDelayMs: 1000, triggerRule: "all_done" },
      ],
    ]);
  });

  it("defaults to UTC, no catchup, and keeps manual DAGs without a cron", () => {
    const dag = defineDag(spec({ schedule: "manual" }));
    expect([dag.cron, dag.timezone, dag.catchup]).toEqual([null, "UTC", false]);
    expect(defineDag(spec({ schedule: "30 1 * * 1-5" })).cron).toBe("30 1 * * 1-5");
    expect(defineDag(spec({ schedule: "@hourly" })).cron).toBe("0 * * * *");
    expect(defineDag(spec({ schedule: "@weekly" })).cron).toBe("0 0 * * 0");
    expect(defineDag(spec({ schedule: "@monthly" })).cron).toBe("0 0 1 * *");
  });

  it("orders tasks upstream first, ties in written order", () => {
    const dag = defineDag(
      spec({
        tasks: [
          task("reconcile", ["test", "late"]),
          task("test", ["build"]),
          task("late"),
          task("build", ["load"]),
          task("load"),
        ],
      }),
    );
    expect(dag.tasks.map((t) => t.id)).toEqual(["late", "load", "build", "test", "reconcile"]);
  });

  it("refuses a duplicate task id, naming the DAG and the id", () => {
    const error = failure(() => defineDag(spec({ tasks: [task("load"), task("load")] })));
    expect(error.code).toBe("PULSE_ORCHESTRATE_BAD_DAG");
    expect(error.message).toBe(
      'DAG "daily_metrics" has two tasks with the id "load"; task ids must be unique.',
    );
  });

  it("refuses an unknown upstream, naming the task and the upstream", () => {
    const error = failure(() => defineDag(spec({ tasks: [task("load"), task("build", ["lod"])] })));
    expect(error.code).toBe("PULSE_ORCHESTRATE_BAD_DAG");
    expect(error.message).toBe(
      'DAG "daily_metrics", task "build": upstream task "lod" is not a task of this DAG.',
    );
  });

  it("refuses a cycle, naming the tasks on it in dependency order, from the first written", () => {
    const error = failure(() =>
      defineDag(
        spec({
          tasks: [
            task("load"),
            task("a", ["load", "c"]),
            task("b", ["a"]),
            task("c", ["b"]),
            task("d", ["c"]),
          ],
        }),
      ),
    );
    expect(error.code).toBe("PULSE_ORCHESTRATE_CYCLE");
    expect(error.message).toBe(
      'DAG "daily_metrics" has a dependency cycle: a → b → c → a; remove one of these upstream links.',
    );
    expect(error.details).toEqual({ dagId: "daily_metrics", cycle: ["a", "b", "c"] });
    const self = failure(() => defineDag(spec({ tasks: [task("load", ["load"])] })));
    expect(self.message).toBe(
      'DAG "daily_metrics" has a dependency cycle: load → load; remove one of these upstream links.',
    );
  });

  it("refuses a bad cron expression, naming the DAG and the expression", () => {
    const error = failure(() => defineDag(spec({ schedule: "61 * * * *" })));
    expect(error.code).toBe("PULSE_ORCHESTRATE_BAD_SCHEDULE");
    expect(error.message).toBe(
      'DAG "daily_metrics": schedule "61 * * * *" is not a valid cron expression: CronPattern: Invalid value for minute: 61.',
    );
    const fields = failure(() => defineDag(spec({ schedule: "0 0 * *" })));
    expect(fields.message).toBe(
      'DAG "daily_metrics": schedule "0 0 * *" is not a 5-field cron expression ("minute hour day month weekday"), ' +
        'a preset (@hourly, @daily, @weekly, @monthly, @yearly) or "manual".',
    );
    expect(failure(() => defineDag(spec({ schedule: "@fortnightly" }))).code).toBe(
      "PULSE_ORCHESTRATE_BAD_SCHEDULE",
    );
  });

  it("refuses an unknown time zone", () => {
    const error = failure(() => defineDag(spec({ timezone: "Mars/Olympus" })));
    expect(error.code).toBe("PULSE_ORCHESTRATE_BAD_SCHEDULE");
    expect(error.message).toBe(
      'DAG "daily_metrics": schedule "@daily": time zone "Mars/Olympus" is not an IANA time zone (e.g. "Europe/Berlin").',
    );
  });

  it("refuses bad options, ids and empty DAGs", () => {
    expect(failure(() => defineDag(spec({ maxActiveRuns: 0 }))).message).toBe(
      'DAG "daily_metrics": maxActiveRuns must be a whole number ≥ 1, got 0.',
    );
    expect(failure(() => defineDag(spec({ tasks: [task("load", [], { retries: -1 })] }))).message).toBe(
      'DAG "daily_metrics", task "load": retries must be a whole number ≥ 0, got -1.',
    );
    expect(failure(() => defineDag(spec({ defaultTaskOptions: { backoffFactor: 0.5 } }))).message).toBe(
      'DAG "daily_metrics": backoffFactor must be a number ≥ 1, got 0.5.',
    );
    expect(failure(() => defineDag(spec({ id: "daily metrics" }))).code).toBe("PULSE_ORCHESTRATE_BAD_DAG");
    expect(failure(() => defineDag(spec({ tasks: [] }))).message).toBe(
      'DAG "daily_metrics" has no tasks; give it at least one.',
    );
    expect(failure(() => defineDag(spec({ startDate: new Date(Number.NaN) }))).message).toBe(
      'DAG "daily_metrics": startDate must be a valid Date.',
    );
  });
});

describe("retryDelayMs", () => {
  const options = { retryDelayMs: 1000, backoffFactor: 2, maxRetryDelayMs: 10_000 };

  it("doubles the wait after each failed try, up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((tryNumber) => retryDelayMs(options, tryNumber))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });

  it("keeps a constant wait with a factor of 1, and refuses a try number below 1", () => {
    expect([1, 2, 3].map((n) => retryDelayMs({ ...options, backoffFactor: 1 }, n))).toEqual([
      1000, 1000, 1000,
    ]);
    expect(retryDelayMs({ ...options, backoffFactor: 3 }, 3)).toBe(9000);
    expect(failure(() => retryDelayMs(options, 0)).code).toBe("PULSE_ORCHESTRATE_BAD_ARGUMENT");
  });
});
