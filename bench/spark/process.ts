// Runs a command for the Spark bench and measures it the same way for either engine: wall time, CPU seconds and the peak RSS of its process tree.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";

const RUSAGE_MARK = "PULSE-BENCH-RUSAGE ";
/*
 * The command runs under this Python wrapper, which waits for it with wait4 and prints its rusage: CPU
 * (user + system) of the command and of every descendant it waited for. spark-submit execs the JVM, and the
 * JVM waits for its Python driver, so Spark's figure holds both; a Pulse command is one Node process.
 */
const WRAPPER = `
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, status, ru = os.wait4(p.pid, 0)
sys.stderr.write("\\n${RUSAGE_MARK}" + json.dumps({"cpu_s": ru.ru_utime + ru.ru_stime}) + "\\n")
sys.exit(os.waitstatus_to_exitcode(status))
`;
/** How often the process tree's RSS is summed. */
const SAMPLE_MS = 100;
const PAGE_BYTES = 4096;

export interface Measured {
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User + system CPU of the command and its descendants. */
  cpuSeconds: number;
  /** Largest sum of RSS over the command's process tree (the JVM and its Python driver together). */
  peakRssBytes: number;
  loadStart: number;
  loadEnd: number;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Called with each line the command prints on stdout. */
  onLine?: (line: string) => void;
}

/** Each process's parent and RSS, from /proc. */
function processTable(): Map<number, { ppid: number; rssBytes: number }> {
  const table = new Map<number, { ppid: number; rssBytes: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    table.set(Number(name), { ppid: Number(fields[1]), rssBytes: Number(fields[21]) * PAGE_BYTES });
  }
  return table;
}

/** Sum of RSS over `root`'s descendants (the wrapper itself left out). */
function treeRssBytes(root: number): number {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) {
    const list = children.get(p.ppid);
    if (list === undefined) children.set(p.ppid, [pid]);
    else list.push(pid);
  }
  let sum = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    sum += table.get(pid)?.rssBytes ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

/** The lines that name an error (a Python traceback's last line, a JVM exception), first few, before the output's tail. */
function errorLines(output: string): string {
  const lines = output
    .split("\n")
    .filter((l) => /^(\w+\.)*\w*(Error|Exception)\b/.test(l.trim()))
    .slice(0, 5)
    .map((l) => l.slice(0, 600));
  return lines.length === 0 ? "" : `${lines.join("\n")}\n…\n`;
}

/** Runs `command args` to its end; a non-zero exit throws with the end of its output. */
export async function runMeasured(
  command: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<Measured> {
  const loadStart = loadavg()[0]!;
  const startMs = performance.now();
  const child = spawn("python3", ["-c", WRAPPER, command, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    if (options.onLine === undefined) return;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) options.onLine(line);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 4_000_000) stderr = stderr.slice(-1_000_000);
  });
  let peakRssBytes = 0;
  const sampler = setInterval(() => {
    if (child.pid !== undefined) peakRssBytes = Math.max(peakRssBytes, treeRssBytes(child.pid));
  }, SAMPLE_MS);
  const timeoutMs = options.timeoutMs ?? 1_800_000;
  const timer = setTimeout(() => {
    // The whole group: the wrapper, the JVM and its Python driver.
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode));
  }).finally(() => {
    clearInterval(sampler);
    clearTimeout(timer);
  });
  const wallMs = performance.now() - startMs;
  const mark = stderr.split("\n").find((l) => l.startsWith(RUSAGE_MARK));
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${code ?? "by signal"}${wallMs >= timeoutMs ? `, killed after ${timeoutMs} ms` : ""}):\n${errorLines(`${stdout}\n${stderr}`)}${stderr.slice(-3000)}`,
    );
  }
  const cpuSeconds =
    mark === undefined ? Number.NaN : (JSON.parse(mark.slice(RUSAGE_MARK.length)) as { cpu_s: number }).cpu_s;
  return { stdout, stderr, wallMs, cpuSeconds, peakRssBytes, loadStart, loadEnd: loadavg()[0]! };
}

/** A running command the caller stops (the latency runs' stream jobs); its tree's peak RSS is sampled. */
export interface Started {
  pid: number;
  /** SIGTERM to the group, then its exit. */
  stop(): Promise<{ peakRssBytes: number; output: string }>;
  exited: Promise<number | null>;
}

export function startCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {},
): Started {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  let partial = "";
  const onData = (chunk: string) => {
    output += chunk;
    if (output.length > 4_000_000) output = output.slice(-1_000_000);
    if (options.onLine === undefined) return;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) options.onLine(line);
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  let peakRssBytes = 0;
  const sampler = setInterval(() => {
    if (child.pid !== undefined)
      peakRssBytes = Math.max(
        peakRssBytes,
        treeRssBytes(child.pid) + (processTable().get(child.pid)?.rssBytes ?? 0),
      );
  }, SAMPLE_MS);
  void exited.then(() => clearInterval(sampler));
  return {
    pid: child.pid!,
    exited,
    async stop() {
      clearInterval(sampler);
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // Gone.
        }
      }, 20_000);
      await exited;
      clearTimeout(timer);
      return { peakRssBytes, output };
    },
  };
}
