// Runs the real `pulse` CLI as child processes, with temp data folders and servers that clean up after themselves.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PULSE_BIN = join(REPO_ROOT, "bin", "pulse.js");

const DEFAULT_TIMEOUT_MS = 100_000;
const STOP_GRACE_MS = 15_000;

export type Cleanup = () => void | Promise<void>;
/** Registers a cleanup: a test context's `onTestFinished`, or `SuiteCleanups.add` in a `beforeAll`. */
export type OnCleanup = (cleanup: Cleanup) => void;

/** Cleanups for state shared by a describe block: register with `add`, run with `afterAll(cleanups.run)`. */
export class SuiteCleanups {
  private readonly cleanups: Cleanup[] = [];
  readonly add: OnCleanup = (cleanup) => {
    this.cleanups.push(cleanup);
  };
  readonly run = async (): Promise<void> => {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  };
}

export interface CliResult {
  /** Exit code, or null when the process ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Variables added to the environment; every inherited PULSE_* variable is removed first. */
  env?: Record<string, string>;
  /** The run is killed (and the promise rejects) after this long. */
  timeoutMs?: number;
}

/** A copy of this process's environment without PULSE_* variables, plus `extra`. */
export function pulseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PULSE_")) env[name] = value;
  }
  return { ...env, ...extra };
}

/** A fresh temp folder, removed by the registered cleanup. */
export function tempDir(onCleanup: OnCleanup, prefix = "pulse-cli-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** Starts `pulse <args>` with its stdout and stderr piped, for tests that watch and signal it themselves. */
export function spawnPulse(args: readonly string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [PULSE_BIN, ...args], {
    cwd: REPO_ROOT,
    env: pulseEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

interface Collected {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<CliResult>;
}

function collect(child: ChildProcess): Collected {
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    // "close", not "exit": by then both pipes are drained.
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

function describeRun(args: readonly string[], stdout: string, stderr: string): string {
  return `pulse ${args.join(" ")}\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`;
}

/** Runs `pulse <args>` to completion and collects its output. */
export async function runPulse(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnPulse(args, options);
  const output = collect(child);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const result = await output.exited;
    if (timedOut)
      throw new Error(`timed out after ${timeoutMs} ms: ${describeRun(args, result.stdout, result.stderr)}`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `pulse <args>` (which should include --json), expects exit code 0 and parses stdout. */
export async function runPulseJson<T>(args: readonly string[], options: CliOptions = {}): Promise<T> {
  const result = await runPulse(args, options);
  if (result.code !== 0) {
    throw new Error(`exit code ${result.code}: ${describeRun(args, result.stdout, result.stderr)}`);
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON: ${describeRun(args, result.stdout, result.stderr)}`);
  }
}

/** The rows `pulse query "<sql>" --json` prints (one JSON object a line); a non-zero exit throws. */
export async function pulseQuery(
  dataDir: string,
  sql: string,
  env: Record<string, string> = {},
): Promise<Record<string, unknown>[]> {
  const args = ["query", sql, "--json", "--data-dir", dataDir];
  const result = await runPulse(args, { env });
  if (result.code !== 0)
    throw new Error(`exit code ${result.code}: ${describeRun(args, result.stdout, result.stderr)}`);
  return result.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Messages per topic, as `pulse topics --json` reports them for a data folder. */
export async function messagesByTopic(
  dataDir: string,
  options: CliOptions = {},
): Promise<Record<string, number>> {
  const report = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir], options);
  return Object.fromEntries(report.topics.map((t) => [t.name, t.messages]));
}

export interface RunningPulse {
  /** The match of `waitFor` against stdout. */
  match: RegExpExecArray;
  /** The process id (its RSS is in /proc/<pid>/status). */
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has ended by itself (or was stopped). */
  exited: Promise<CliResult>;
  /** Sends SIGTERM (Pulse stops cleanly on it) and waits for the exit; SIGKILL if it does not stop. */
  stop(): Promise<CliResult>;
  /** Sends a signal (e.g. SIGKILL for a crash test) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<CliResult>;
}

export interface StartOptions extends CliOptions {
  /** Resolves once stdout matches this (e.g. the "API on http://..." line). */
  waitFor: RegExp;
  onCleanup: OnCleanup;
}

/** Starts a long-running `pulse <args>`, waits for a stdout line, and stops it in cleanup if still running. */
export async function startPulse(args: readonly string[], options: StartOptions): Promise<RunningPulse> {
  const child = spawnPulse(args, options);
  const output = collect(child);
  let ended = false;
  void output.exited.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  const stop = async (): Promise<CliResult> => {
    if (!ended) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      try {
        return await output.exited;
      } finally {
        clearTimeout(killer);
      }
    }
    return output.exited;
  };
  options.onCleanup(async () => {
    await stop();
  });

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const check = (): void => {
      const found = options.waitFor.exec(output.stdout());
      if (found) done(() => resolve(found));
    };
    const timer = setTimeout(() => {
      done(() =>
        reject(
          new Error(
            `no ${options.waitFor} within ${timeoutMs} ms: ${describeRun(args, output.stdout(), output.stderr())}`,
          ),
        ),
      );
    }, timeoutMs);
    const onExit = (result: CliResult): void => {
      // The line may have been the last output before the exit.
      const found = options.waitFor.exec(result.stdout);
      if (found) done(() => resolve(found));
      else
        done(() =>
          reject(
            new Error(
              `exited (code ${result.code}) before printing ${options.waitFor}: ${describeRun(args, result.stdout, result.stderr)}`,
            ),
          ),
        );
    };
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout!.off("data", check);
      settle();
    };
    child.stdout!.on("data", check);
    output.exited.then(onExit, (error: unknown) => done(() => reject(error)));
  });
  const kill = async (signal: NodeJS.Signals): Promise<CliResult> => {
    if (!ended) child.kill(signal);
    return output.exited;
  };
  return {
    match,
    pid: child.pid!,
    stdout: output.stdout,
    stderr: output.stderr,
    exited: output.exited,
    stop,
    kill,
  };
}
