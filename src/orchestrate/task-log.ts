// Each try's log as a file written line by line while the try runs, so it survives a crash, and its reader.
//
// Layout, as Airflow's: <logsDir>/dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<try>.log. Every line
// is "<ISO time> <LEVEL> <message>", written with one write() call: nothing waits in a buffer of the
// process, so a try killed mid-way leaves every line it logged.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { TaskLogger } from "./dag.ts";
import type { TaskInstanceKey } from "./runs/index.ts";

/** The file of one try's log. */
export function taskLogPath(logsDir: string, key: TaskInstanceKey, tryNumber: number): string {
  return join(
    logsDir,
    `dag_id=${key.dagId}`,
    `run_id=${key.runId}`,
    `task_id=${key.taskId}`,
    `attempt=${tryNumber}.log`,
  );
}

/** An open try log: a TaskLogger whose lines go straight to the file. */
export class TaskLogFile implements TaskLogger {
  readonly path: string;
  #fd: number | undefined;
  readonly #clock: () => number;

  constructor(path: string, clock: () => number = Date.now) {
    this.path = path;
    this.#clock = clock;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, "a");
  }

  info(message: string): void {
    this.#line("INFO", message);
  }

  warn(message: string): void {
    this.#line("WARN", message);
  }

  error(message: string): void {
    this.#line("ERROR", message);
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #line(level: string, message: string): void {
    if (this.#fd === undefined) return;
    const text = String(message).replace(/\n/g, "\n    ");
    writeSync(this.#fd, `${new Date(this.#clock()).toISOString()} ${level} ${text}\n`);
  }
}

/** The tries whose logs exist for a task instance, in order. */
export function loggedTries(logsDir: string, key: TaskInstanceKey): number[] {
  const dir = dirname(taskLogPath(logsDir, key, 1));
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^attempt=(\d+)\.log$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** One try's log text (the latest try's when tryNumber is undefined); a clear error when there is none. */
export function readTaskLog(
  logsDir: string,
  key: TaskInstanceKey,
  tryNumber?: number,
): { tryNumber: number; text: string } {
  const tries = loggedTries(logsDir, key);
  const chosen = tryNumber ?? tries.at(-1);
  const where = `task "${key.taskId}" of run "${key.runId}" of DAG "${key.dagId}"`;
  if (chosen === undefined) {
    throw new OrchestrateError(
      OrchestrateErrorCode.notFound,
      `There is no log for ${where}: it has not run yet (or its logs are elsewhere than ${logsDir}).`,
    );
  }
  if (!tries.includes(chosen)) {
    throw new OrchestrateError(
      OrchestrateErrorCode.notFound,
      `There is no log of try ${chosen} for ${where}; the tries logged are ${tries.join(", ") || "none"}.`,
    );
  }
  return { tryNumber: chosen, text: readFileSync(taskLogPath(logsDir, key, chosen), "utf8") };
}
