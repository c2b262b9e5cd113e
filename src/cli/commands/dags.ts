// `pulse dags list|trigger|backfill|runs|logs|clear|run-task|export`: the orchestrator's DAGs, runs and logs from the command line.

import { openOrchestrator, type Orchestrator } from "../../app/dags.ts";
import { UsageError } from "../../errors.ts";
import { clearRun, createBackfill, triggerRun, unknownTask } from "../../orchestrate/operations.ts";
import { dagJson, runJson, taskJson } from "../../orchestrate/json.ts";
import { readTaskLog } from "../../orchestrate/task-log.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";
import { abortOnSignals } from "../signals.ts";
import { findRun } from "../../orchestrate/find-run.ts";
import { dateFlag, runTaskOnce, untilRunsEnd } from "./dags-run.ts";

const OPTIONS = {
  ...valueFlags("date", "from", "to", "try", "task", "start", "end", "out", "run-id"),
  wait: { type: "boolean" },
  child: { type: "boolean" },
  progress: { type: "boolean" },
} as const;

const SUBCOMMANDS = ["list", "trigger", "backfill", "runs", "logs", "clear", "run-task", "export"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

export const dagsCommand: Command = {
  summary: "the batch DAGs: list, trigger, backfill, runs, logs, clear, run-task, export airflow",
  usage: [
    "pulse dags list [--json]                                 each DAG with its schedule and tasks",
    "pulse dags trigger <dag> [--date YYYY-MM-DD] [--wait]    a manual run (--wait: run it here, exit 1 if it fails)",
    "pulse dags backfill <dag> --from D1 --to D2 [--progress] a run per interval of [D1, D2), run here",
    "pulse dags runs <dag> [--json]                           runs with their task states",
    "pulse dags logs <dag> <run> <task> [--try N]             a try's log (the latest try by default)",
    "pulse dags clear <dag> <run> [--task T]                  queue a run (or a task and its downstream) again",
    "pulse dags run-task <dag> <task> --start T --end T [--try N] [--run-id R]   one task's callable for an interval, here",
    "pulse dags export airflow [--out dir]                    Airflow 3 DAG files running these tasks",
    "  <run> is a run id (scheduled__2026-12-06T00:00:00.000Z) or its logical date (2026-12-06).",
    "  Common: --json, --data-dir, --config.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseCommandArgs("dags", argv, OPTIONS);
    const sub = positionals[0] as Subcommand | undefined;
    if (sub === undefined || !SUBCOMMANDS.includes(sub))
      throw new UsageError(`pulse dags needs one of ${SUBCOMMANDS.join(", ")}, e.g. pulse dags list`);
    const args = positionals.slice(1);
    const config = configFromFlags(values);
    const orchestrator = await openOrchestrator(config);
    try {
      const json = values.json === true;
      switch (sub) {
        case "list":
          arity(sub, args, 0);
          return list(orchestrator, json);
        case "trigger": {
          const [dagId] = arity(sub, args, 1, "<dag>");
          const dag = orchestrator.dag(dagId!);
          const { run, created } = await triggerRun(orchestrator.store, dag, {
            date: dateFlag("date", values.date),
          });
          say(json, `${created ? "queued" : "already there"}: ${dag.id} ${run.runId}`);
          if (!values.wait) {
            if (json) print({ run: runJson(run), created });
            else if (created)
              say(json, "a scheduler (pulse up, or pulse scheduler) runs it; --wait runs it here");
            return 0;
          }
          const [ended] = await untilRunsEnd(orchestrator, [run], { json, progress: false });
          if (json) print({ run: runJson(ended!.run), tasks: ended!.tasks.map(taskJson) });
          return ended!.run.state === "success" ? 0 : 1;
        }
        case "backfill": {
          const [dagId] = arity(sub, args, 1, "<dag>");
          const dag = orchestrator.dag(dagId!);
          const from = dateFlag("from", values.from);
          const to = dateFlag("to", values.to);
          if (from === undefined || to === undefined)
            throw new UsageError(
              "pulse dags backfill needs --from and --to, e.g. --from 2026-12-01 --to 2026-12-04",
            );
          const runs = await createBackfill(orchestrator.store, dag, from, to);
          say(
            json,
            `${dag.id}: ${runs.length} runs from ${from.toISOString()} to ${to.toISOString()} (maxActiveRuns ${dag.maxActiveRuns})`,
          );
          const showProgress = values.progress === true || (process.stderr.isTTY && !json);
          const ended = await untilRunsEnd(
            orchestrator,
            runs.map((r) => r.run),
            { json, progress: showProgress },
          );
          if (json) print({ runs: ended.map((e) => ({ ...runJson(e.run), tasks: e.tasks.map(taskJson) })) });
          else for (const e of ended) say(json, `${e.run.state.padEnd(7)} ${e.run.runId}`);
          return ended.every((e) => e.run.state === "success") ? 0 : 1;
        }
        case "runs": {
          const [dagId] = arity(sub, args, 1, "<dag>");
          const dag = orchestrator.dag(dagId!);
          const runs = await orchestrator.store.listRuns(dag.id);
          const withTasks = await Promise.all(
            runs.map(async (run) => ({
              run,
              tasks: await orchestrator.store.taskInstances(dag.id, run.runId),
            })),
          );
          if (json)
            print({
              dag: dag.id,
              runs: withTasks.map((e) => ({ ...runJson(e.run), tasks: e.tasks.map(taskJson) })),
            });
          else if (runs.length === 0) process.stdout.write(`${dag.id} has no runs yet\n`);
          else
            for (const { run, tasks } of withTasks)
              process.stdout.write(
                `${run.state.padEnd(7)} ${run.runId}  ${tasks.map((t) => `${t.taskId}:${t.state}${t.tryNumber > 1 ? `(try ${t.tryNumber})` : ""}`).join(" ")}\n`,
              );
          return 0;
        }
        case "logs": {
          const [dagId, runRef, taskId] = arity(sub, args, 3, "<dag> <run> <task>");
          const dag = orchestrator.dag(dagId!);
          if (!dag.tasks.some((t) => t.id === taskId)) throw unknownTask(dag, taskId!);
          const run = await findRun(orchestrator.store, dag, runRef!);
          const tryNumber = numberFlag("try", values.try, { integer: true, min: 1 });
          const log = readTaskLog(
            orchestrator.logsDir,
            { dagId: dag.id, runId: run.runId, taskId: taskId! },
            tryNumber,
          );
          if (json) print({ dag: dag.id, run: run.runId, task: taskId, try: log.tryNumber, text: log.text });
          else process.stdout.write(log.text);
          return 0;
        }
        case "clear": {
          const [dagId, runRef] = arity(sub, args, 2, "<dag> <run>");
          const dag = orchestrator.dag(dagId!);
          const run = await findRun(orchestrator.store, dag, runRef!);
          const cleared = await clearRun(orchestrator.store, dag, run.runId, { taskId: values.task });
          if (json) print({ run: run.runId, cleared });
          else
            say(
              json,
              `${run.runId}: cleared ${cleared.join(", ") || "nothing (its tasks are running or queued)"}`,
            );
          return 0;
        }
        case "run-task": {
          const [dagId, taskId] = arity(sub, args, 2, "<dag> <task>");
          const dag = orchestrator.dag(dagId!);
          const start = dateFlag("start", values.start);
          const end = dateFlag("end", values.end);
          if (start === undefined || end === undefined)
            throw new UsageError("pulse dags run-task needs --start and --end (the data interval)");
          const tryNumber = numberFlag("try", values.try, { integer: true, min: 1 }) ?? 1;
          const signals = abortOnSignals();
          // --child: a scheduler's task process (src/app/task-process.ts): plain "LEVEL message" lines,
          // and it stops when the scheduler's end of stdin closes (the scheduler died).
          const child = values.child === true;
          const onParentGone = (): void => void process.kill(process.pid, "SIGTERM");
          if (child) {
            process.stdin.on("end", onParentGone).on("close", onParentGone).resume();
          }
          try {
            await runTaskOnce(dag, taskId!, {
              start,
              end,
              tryNumber,
              runId: values["run-id"],
              plain: child,
              signal: signals.signal,
            });
          } finally {
            signals.dispose();
            if (child) process.stdin.off("end", onParentGone).off("close", onParentGone).pause();
          }
          return 0;
        }
        case "export": {
          const [target] = arity(sub, args, 1, "airflow");
          if (target !== "airflow")
            throw new UsageError(`pulse dags export knows only 'airflow', got '${target}'`);
          const { exportAirflow } = await import("./dags-export.ts");
          const files = await exportAirflow(orchestrator.dags, values.out ?? "airflow-dags", config);
          if (json) print({ files });
          else for (const file of files) process.stdout.write(`wrote ${file}\n`);
          return 0;
        }
      }
    } finally {
      await orchestrator.close();
    }
  },
};

function list(orchestrator: Orchestrator, json: boolean): number {
  if (json) {
    print({ dags: orchestrator.dags.map(dagJson) });
    return 0;
  }
  for (const dag of orchestrator.dags) {
    process.stdout.write(`${dag.id}  ${dag.schedule} (${dag.timezone})  ${dag.description}\n`);
    for (const task of dag.tasks)
      process.stdout.write(`  ${task.id}${task.upstream.length ? ` ← ${task.upstream.join(", ")}` : ""}\n`);
  }
  return 0;
}

function arity(sub: string, args: string[], n: number, what = ""): string[] {
  if (args.length !== n)
    throw new UsageError(
      args.length < n
        ? `pulse dags ${sub} needs ${what}`
        : `unexpected argument '${args[n]}'; see pulse dags --help`,
    );
  return args;
}

function say(json: boolean, line: string): void {
  if (!json) process.stdout.write(`${line}\n`);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
