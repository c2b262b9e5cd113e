// The SQLite run store: the RunStore contract over handles on one temp file, and a claim race between two real processes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunStore } from "../../src/orchestrate/runs/index.ts";
import { SqliteRunStore } from "../../src/orchestrate/runs/sqlite/index.ts";
import { type RunStoreSubject, runRunStoreConformance } from "../conformance/run-store.ts";
import { createRaceRun, RACE_RUN_ID, raceClaims } from "../helpers/claim-race.ts";

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
      const taskIds = await createRaceRun(store, 200);
      const [a, b] = (await raceClaims(path, ["proc-a", "proc-b"])) as [string[], string[]];
      expect([...a, ...b].sort()).toEqual(taskIds);
      const instances = await store.taskInstances("race", RACE_RUN_ID);
      expect(instances.every((ti) => ti.state === "running" && ti.tryNumber === 1)).toBe(true);
      expect(instances.filter((ti) => ti.leaseOwner === "proc-a").map((ti) => ti.taskId)).toEqual(a);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
