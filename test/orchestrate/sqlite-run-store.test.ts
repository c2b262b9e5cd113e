// The SQLite run store: the RunStore contract over handles on one temp file, and a claim race between two real processes.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { RunStore } from "../../src/orchestrate/runs/index.ts";
import { SqliteRunStore } from "../../src/orchestrate/runs/sqlite/index.ts";
import { type RunStoreSubject, runRunStoreConformance } from "../conformance/run-store.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

runRunStoreConformance("sqlite", async (): Promise<RunStoreSubject> => {
  const dir = mkdtempSync(join(tmpdir(), "pulse-runs-"));
  const handles: RunStore[] = [];
  return {
    open: async (clock) => {
      const store = SqliteRunStore.open({ path: join(dir, "runs.db"), clock });
      handles.push(store);
      return store;
    },
    cleanup: async () => {
      for (const handle of handles) await handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Runs the claim-race child: it claims every task it can on the file from `startAtMs` on, and prints what it won. */
function racer(path: string, owner: string, startAtMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(HERE, "claim-race-child.ts"), path, owner, String(startAtMs)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out) as string[]);
      else reject(new Error(`claim-race child ${owner} exited ${code}: ${err}`));
    });
  });
}

describe("SqliteRunStore", () => {
  it("refuses calls after close with PULSE_ORCHESTRATE_CLOSED, naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-runs-closed-"));
    try {
      const store = SqliteRunStore.open({ path: join(dir, "runs.db") });
      await store.close();
      await store.close();
      await expect(store.listRuns("d")).rejects.toMatchObject({
        code: "PULSE_ORCHESTRATE_CLOSED",
        message: `The run store ${store.path} is closed; open a new SqliteRunStore.`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SqliteRunStore across processes", () => {
  it("gives each task instance to exactly one of two processes claiming at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-runs-race-"));
    try {
      const path = join(dir, "runs.db");
      const store = SqliteRunStore.open({ path });
      const taskIds = Array.from({ length: 200 }, (_, i) => `t${String(i).padStart(3, "0")}`);
      const logicalDate = new Date("2026-12-06T00:00:00Z");
      await store.createRun({
        dagId: "race",
        logicalDate,
        dataIntervalStart: logicalDate,
        dataIntervalEnd: new Date("2026-12-07T00:00:00Z"),
        runType: "manual",
        taskIds,
      });
      const startAtMs = Date.now() + 2500;
      const [a, b] = await Promise.all([racer(path, "proc-a", startAtMs), racer(path, "proc-b", startAtMs)]);
      expect([...a, ...b].sort()).toEqual(taskIds);
      const instances = await store.taskInstances("race", "manual__2026-12-06T00:00:00.000Z");
      expect(instances.every((ti) => ti.state === "running" && ti.tryNumber === 1)).toBe(true);
      expect(instances.filter((ti) => ti.leaseOwner === "proc-a").map((ti) => ti.taskId)).toEqual(a);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
