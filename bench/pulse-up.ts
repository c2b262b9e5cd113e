// `pulse up` as a child process of a benchmark or script: started, its API's URL found, its output kept.

import { type ChildProcessByStdio, spawn } from "node:child_process";
import { join } from "node:path";
import type { Readable } from "node:stream";

export interface PulseUp {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The API's base URL, from the line `pulse up` prints once it serves; rejects if it exits first. */
  url: Promise<string>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Everything it has written so far, stdout and stderr as they came. */
  output(): string;
}

/** This process's environment without any PULSE_* variable, so only what a run sets reaches pulse. */
export function envWithoutPulse(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("PULSE_")) env[name] = value;
  return env;
}

/**
 * Starts `pulse up <args>` with `env` as its whole environment. Run from the repository's root, as
 * bench/run.ts and scripts/soak.sh do (a benchmark runs from a build in dist/, so no path of its own).
 */
export function startPulseUp(args: readonly string[], env: NodeJS.ProcessEnv): PulseUp {
  const root = process.cwd();
  const child = spawn(process.execPath, [join(root, "bin", "pulse.js"), "up", ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", resolveExit));
  const url = new Promise<string>((resolveUrl, reject) => {
    // Only the output before the URL is searched (a line may come in two chunks).
    let out: string | undefined = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      chunks.push(text);
      if (out === undefined) return;
      out += text;
      const match = /API on (http:\/\/[^\s(]+)/.exec(out);
      if (match === null) return;
      out = undefined;
      resolveUrl(match[1]!);
    });
    void exited.then((code) =>
      reject(new Error(`pulse up exited ${code} before serving: ${chunks.join("").slice(-4000)}`)),
    );
  });
  // A run that never awaits the URL (it failed before) must not leave it rejecting unseen.
  url.catch(() => undefined);
  child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { child, url, exited, output: () => chunks.join("") };
}
