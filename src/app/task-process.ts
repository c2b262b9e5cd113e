// Runs each try's work in a child `pulse dags run-task --child` process, so a load or a model build never stalls the scheduler's process.
//
// The child gets the scheduler's resolved configuration (as a config file, with the same environment)
// and the try's interval, try number and run id; its "LEVEL message" lines go to the try's log. When
// the try's signal aborts (a timeout, a lost lease, the scheduler stopping) the child gets SIGTERM, then
// SIGKILL after a grace period. If the scheduler's process dies, the child's stdin closes and it stops.

import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PulseConfig } from "../config/index.ts";
import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { TaskLogger } from "../orchestrate/dag.ts";
import type { TaskRunner } from "../orchestrate/run-try.ts";
import { projectFile } from "../paths.ts";

export interface TaskProcesses {
  runner: TaskRunner;
  /** Removes the configuration file the children read. */
  close(): void;
}

export interface TaskProcessOptions {
  /** The argv that runs pulse; this Node and bin/pulse.js by default. */
  pulse?: readonly string[];
  /** Between SIGTERM and SIGKILL (default 10 s). */
  killGraceMs?: number;
}

const LEVEL = /^(INFO|WARN|ERROR) (.*)$/s;

export function taskProcesses(config: PulseConfig, options: TaskProcessOptions = {}): TaskProcesses {
  const dir = mkdtempSync(join(tmpdir(), "pulse-task-config-"));
  const configFile = join(dir, "pulse.config.json");
  // YAML reads JSON; the file may hold API keys, so only this user can read it.
  const { dags_folder } = config.orchestrator;
  const resolved = {
    ...config,
    data_dir: resolve(config.data_dir),
    orchestrator: { ...config.orchestrator, dags_folder: dags_folder === "" ? "" : resolve(dags_folder) },
  };
  writeFileSync(configFile, JSON.stringify(resolved), { mode: 0o600 });
  chmodSync(configFile, 0o600);
  const pulse = options.pulse ?? [process.execPath, fileURLToPath(projectFile("bin/pulse.js"))];
  const grace = options.killGraceMs ?? 10_000;
  const runner: TaskRunner = (dagId, task, context) =>
    new Promise<void>((done, fail) => {
      const args = [
        ...pulse.slice(1),
        "dags",
        "run-task",
        dagId,
        task.id,
        "--start",
        context.dataIntervalStart.toISOString(),
        "--end",
        context.dataIntervalEnd.toISOString(),
        "--try",
        String(context.tryNumber),
        "--run-id",
        context.runId,
        "--config",
        configFile,
        "--child",
      ];
      const child = spawn(pulse[0]!, args, { stdio: ["pipe", "pipe", "pipe"] });
      const lastErrors: string[] = [];
      lines(child.stdout, (line) => route(context.log, line));
      lines(child.stderr, (line) => {
        context.log.error(line);
        lastErrors.push(line);
        if (lastErrors.length > 5) lastErrors.shift();
      });
      let killer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        child.kill("SIGTERM");
        killer = setTimeout(() => child.kill("SIGKILL"), grace);
      };
      context.signal.addEventListener("abort", onAbort, { once: true });
      child.on("error", (error) => {
        context.signal.removeEventListener("abort", onAbort);
        fail(
          new OrchestrateError(
            OrchestrateErrorCode.taskFailed,
            `The task process could not start: ${error.message}.`,
          ),
        );
      });
      child.on("close", (code, signal) => {
        context.signal.removeEventListener("abort", onAbort);
        if (killer !== undefined) clearTimeout(killer);
        if (code === 0) return done();
        const last = lastErrors.at(-1)?.replace(/^pulse [\w-]+: /, "") ?? "";
        fail(
          new OrchestrateError(
            OrchestrateErrorCode.taskFailed,
            `${last || `The task process ended with ${signal ?? `exit code ${code}`}`}`,
          ),
        );
      });
      // stdin stays open: the child watches it to stop when this process dies.
      child.stdin.on("error", () => undefined);
    });
  return {
    runner,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function route(log: TaskLogger, line: string): void {
  const match = LEVEL.exec(line);
  if (match === null) log.info(line);
  else if (match[1] === "WARN") log.warn(match[2]!);
  else if (match[1] === "ERROR") log.error(match[2]!);
  else log.info(match[2]!);
}

/** Calls `each` with every complete line of a stream, and the last partial one at its end. */
function lines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const part of parts) if (part !== "") each(part);
  });
  stream.on("end", () => {
    if (rest !== "") each(rest);
  });
}
