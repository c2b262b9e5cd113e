// A scheduler SIGKILLed mid-task: a restarted one finds the try by its expired lease, fails it, retries it, and leaves nothing running.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteRunStore } from "../../src/orchestrate/runs/sqlite/index.ts";
import { readTaskLog } from "../../src/orchestrate/task-log.ts";
import { REPO_ROOT } from "../helpers/cli.ts";

const CHILD = join(REPO_ROOT, "test/helpers/scheduler-child.ts");

function child(url: string, dir: string, owner: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", CHILD, url, dir, "crash", owner], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function exited(
  proc: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  let err = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve) => proc.on("close", (code, signal) => resolve({ code, signal, err })));
}

describe("the scheduler after a SIGKILL", () => {
  it("retries the killed try once its lease expires, and the run ends in success", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-crash-"));
    try {
      const marks = join(dir, "marks");
      const lines = () => (existsSync(marks) ? readFileSync(marks, "utf8").trim().split("\n") : []);
      const first = child("embedded:runs.db", dir, "first");
      const firstExit = exited(first);
      await until(() => lines().includes("started 1"), 30_000, "the first try to start");
      first.kill("SIGKILL");
      expect((await firstExit).signal).toBe("SIGKILL");

      const store = SqliteRunStore.open({ path: join(dir, "runs.db") });
      try {
        const runId = "manual__2026-12-06T00:00:00.000Z";
        const key = { dagId: "crashy", runId, taskId: "slow" };
        // The killed try is still "running" under the dead owner's lease.
        expect(await store.getTaskInstance(key)).toMatchObject({
          state: "running",
          tryNumber: 1,
          leaseOwner: "first",
        });

        const second = child("embedded:runs.db", dir, "second");
        const secondExit = await exited(second);
        expect(secondExit.code, secondExit.err).toBe(0);
        expect(lines()).toEqual(["started 1", "started 2", "after"]);
        expect((await store.getRun("crashy", runId))?.state).toBe("success");
        const tis = await store.taskInstances("crashy", runId);
        expect(tis.map((ti) => [ti.taskId, ti.state, ti.tryNumber])).toEqual([
          ["slow", "success", 2],
          ["after", "success", 1],
        ]);
        const moves = (await store.history("crashy", runId)).filter((h) => h.taskId === "slow");
        expect(moves.map((m) => `${m.to}@${m.tryNumber} ${m.owner ?? "-"}`)).toEqual([
          "queued@0 -",
          "running@1 first",
          "up_for_retry@1 -",
          "running@2 second",
          "success@2 second",
        ]);
        expect(moves[2]!.reason).toMatch(/lease expired: first stopped heartbeating/);
        // The killed try's log survived it.
        expect(readTaskLog(join(dir, "logs"), key, 1).text).toMatch(/working on try 1/);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
