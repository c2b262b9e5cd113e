// Tries in child processes: log lines and failures come back, a timeout kills the child, and a `pulse dags run-task --child` stops when its scheduler's pipe closes.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { taskProcesses } from "../../src/app/task-process.ts";
import { loadConfig } from "../../src/config/index.ts";
import { defineDag, type TaskContext } from "../../src/orchestrate/dag.ts";
import type { ActivityWindowRow } from "../../src/store/index.ts";
import { open as openStore } from "../../src/store/open.ts";
import { pulseEnv, REPO_ROOT } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "pulse-task-process-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Stands in for pulse: records its argv, then does what the task id says. */
const FAKE = `
import { appendFileSync } from "node:fs";
const argv = process.argv.slice(2);
appendFileSync(process.env.RECORD, JSON.stringify(argv) + "\\n");
const task = argv[3];
console.log("INFO working on " + task);
console.log("WARN careful");
if (task === "fails") { console.error("pulse dags: the warehouse is gone [PULSE_X]"); process.exit(1); }
if (task === "hangs") {
  process.on("SIGTERM", () => { appendFileSync(process.env.RECORD, "SIGTERM\\n"); process.exit(143); });
  setInterval(() => {}, 1000);
}
`;

function context(taskId: string, signal: AbortSignal, lines: string[]): TaskContext {
  const log = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return {
    dagId: "d",
    taskId,
    runId: "manual__2026-12-06T00:00:00.000Z",
    logicalDate: new Date("2026-12-06T00:00:00Z"),
    dataIntervalStart: new Date("2026-12-06T00:00:00Z"),
    dataIntervalEnd: new Date("2026-12-07T00:00:00Z"),
    tryNumber: 2,
    log: { info: log("INFO"), warn: log("WARN"), error: log("ERROR") },
    signal,
  };
}

describe("taskProcesses", () => {
  const fake = join(dir, "fake-pulse.mjs");
  writeFileSync(fake, FAKE);
  const record = join(dir, "record");
  process.env.RECORD = record;
  const config = loadConfig({ env: {}, overrides: { data_dir: join(dir, "data") } });
  const dag = defineDag({
    id: "d",
    schedule: "@daily",
    startDate: new Date("2026-12-01T00:00:00Z"),
    tasks: ["works", "fails", "hangs"].map((id) => ({ id, run: () => {} })),
  });
  const task = (id: string) => dag.tasks.find((t) => t.id === id)!;
  const processes = taskProcesses(config, { pulse: [process.execPath, fake], killGraceMs: 2_000 });
  afterAll(() => processes.close());

  it("runs pulse dags run-task with the try's interval, try, run id and config, its lines in the try's log", async () => {
    const lines: string[] = [];
    await processes.runner("d", task("works"), context("works", new AbortController().signal, lines));
    expect(lines).toEqual(["INFO working on works", "WARN careful"]);
    const argv = JSON.parse(readFileSync(record, "utf8").trim().split("\n").at(-1)!) as string[];
    expect(argv.slice(0, 12)).toEqual([
      "dags",
      "run-task",
      "d",
      "works",
      "--start",
      "2026-12-06T00:00:00.000Z",
      "--end",
      "2026-12-07T00:00:00.000Z",
      "--try",
      "2",
      "--run-id",
      "manual__2026-12-06T00:00:00.000Z",
    ]);
    const configFile = argv[argv.indexOf("--config") + 1]!;
    expect(JSON.parse(readFileSync(configFile, "utf8"))).toMatchObject({ data_dir: join(dir, "data") });
    expect(argv.at(-1)).toBe("--child");
  });

  it("fails with the child's last words when it exits with an error", async () => {
    const lines: string[] = [];
    await expect(
      processes.runner("d", task("fails"), context("fails", new AbortController().signal, lines)),
    ).rejects.toMatchObject({
      code: "PULSE_ORCHESTRATE_TASK_FAILED",
      message: "the warehouse is gone [PULSE_X]",
    });
    expect(lines).toContain("ERROR pulse dags: the warehouse is gone [PULSE_X]");
  });

  it("sends SIGTERM to the child when the try is aborted", async () => {
    const abort = new AbortController();
    const running = processes.runner("d", task("hangs"), context("hangs", abort.signal, []));
    await new Promise((resolve) => setTimeout(resolve, 500));
    abort.abort(new Error("timed out"));
    await expect(running).rejects.toMatchObject({ code: "PULSE_ORCHESTRATE_TASK_FAILED" });
    expect(readFileSync(record, "utf8")).toContain("SIGTERM");
  });
});

describe("pulse dags run-task --child", () => {
  it("stops when its scheduler's end of stdin closes", async () => {
    const dataDir = join(dir, "child-data");
    // An open day: the daily load waits for the speed layer to finalize it.
    const store = await openStore("embedded:store.db", { dataDir });
    const open: ActivityWindowRow = {
      partition: 0,
      window_start: Date.parse("2026-12-06T00:00:00Z"),
      window_end: Date.parse("2026-12-07T00:00:00Z"),
      event_type: "VIEW",
      event_count: 1,
      unique_users: 1,
      sessions: 1,
      revenue_cents: 0,
      final: false,
    };
    await store.commit({ daily: { activity: [open] }, checkpoints: [] });
    await store.close();
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, "bin/pulse.js"),
        "dags",
        "run-task",
        "daily_metrics",
        "load",
        "--start",
        "2026-12-06T00:00:00Z",
        "--end",
        "2026-12-07T00:00:00Z",
        "--child",
        "--data-dir",
        dataDir,
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: pulseEnv() },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    for (let i = 0; i < 200 && !out.includes("waiting for the speed layer"); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(out).toMatch(
      /^INFO waiting for the speed layer to finalize 2026-12-06: 0 of 1 daily rows final$/m,
    );
    const closedAt = Date.now();
    child.stdin.end();
    expect(await exited).not.toBe(0);
    expect(Date.now() - closedAt).toBeLessThan(5_000);
  }, 30_000);
});
