// The RunStore conformance suite: every run store (SQLite, PostgreSQL) runs these cases on handles that share one storage.
import { describe, expect, it } from "vitest";
import { OrchestrateError } from "../../src/errors.ts";
import type { NewRun, RunStore, TaskInstanceKey } from "../../src/orchestrate/runs/index.ts";
import { freshSubjectPerTest } from "../helpers/subjects.ts";

export interface RunStoreSubject {
  /**
   * A new handle on the case's storage, as another process would open it, reading time from `clock`.
   * The subject closes the handles it opened in cleanup (closing one twice is harmless).
   */
  open(clock: () => number): Promise<RunStore>;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 11, 7, 12);
const DAY = new Date("2026-12-06T00:00:00.000Z");
const NEXT_DAY = new Date("2026-12-07T00:00:00.000Z");

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    dagId: "daily_metrics",
    logicalDate: DAY,
    dataIntervalStart: DAY,
    dataIntervalEnd: NEXT_DAY,
    runType: "scheduled",
    taskIds: ["load", "models_build", "reconcile"],
    ...overrides,
  };
}

const RUN_ID = "scheduled__2026-12-06T00:00:00.000Z";
const key = (taskId: string, runId = RUN_ID): TaskInstanceKey => ({ dagId: "daily_metrics", runId, taskId });

/*
 * Each case gets fresh, empty storage from makeSubject. A server-backed factory should create a
 * uniquely named database (or schema) per call and drop it in cleanup.
 */
export function runRunStoreConformance(name: string, makeSubject: () => Promise<RunStoreSubject>): void {
  describe(`RunStore contract: ${name}`, () => {
    let subject: RunStoreSubject;
    /** The time every handle of the case reads; cases move it. */
    let now = T0;
    const clock = (): number => now;
    freshSubjectPerTest(makeSubject, (made) => {
      subject = made;
      now = T0;
    });

    it("creates one run per (DAG, logical date), with queued task instances, whichever handle asks", async () => {
      const [a, b] = [await subject.open(clock), await subject.open(clock)];
      const first = await a.createRun(newRun());
      expect(first.created).toBe(true);
      expect(first.run).toEqual({
        dagId: "daily_metrics",
        runId: RUN_ID,
        logicalDate: DAY,
        dataIntervalStart: DAY,
        dataIntervalEnd: NEXT_DAY,
        runType: "scheduled",
        state: "queued",
        createdAt: new Date(T0),
        updatedAt: new Date(T0),
      });
      now = T0 + 5000;
      const again = await b.createRun(newRun({ runType: "manual", taskIds: ["other"] }));
      expect(again).toEqual({ run: first.run, created: false });
      expect(
        (await b.taskInstances("daily_metrics", RUN_ID)).map((ti) => [ti.taskId, ti.state, ti.tryNumber]),
      ).toEqual([
        ["load", "queued", 0],
        ["models_build", "queued", 0],
        ["reconcile", "queued", 0],
      ]);
      await b.createRun(newRun({ logicalDate: new Date("2026-12-04T00:00:00Z"), runType: "backfill" }));
      await a.createRun(newRun({ dagId: "intraday", taskIds: ["refresh"] }));
      expect((await a.listRuns("daily_metrics")).map((run) => run.runId)).toEqual([
        "backfill__2026-12-04T00:00:00.000Z",
        RUN_ID,
      ]);
      expect((await a.listRuns("intraday")).map((run) => run.runId)).toEqual([RUN_ID]);
      // Filtered by state: the scheduler asks for the active runs only.
      await b.setRunState("daily_metrics", RUN_ID, "success");
      const ids = async (states: Parameters<RunStore["listRuns"]>[1]) =>
        (await a.listRuns("daily_metrics", states)).map((run) => run.runId);
      expect(await ids({ states: ["queued", "running"] })).toEqual(["backfill__2026-12-04T00:00:00.000Z"]);
      expect(await ids({ states: ["success"] })).toEqual([RUN_ID]);
      expect(await ids({ states: [] })).toEqual([]);
      await expect(a.listRuns("daily_metrics", { states: ["done" as never] })).rejects.toMatchObject({
        code: "PULSE_ORCHESTRATE_BAD_ARGUMENT",
      });
      expect(await a.getRun("daily_metrics", "scheduled__2030-01-01T00:00:00.000Z")).toBeNull();
      expect(await a.getTaskInstance(key("nope"))).toBeNull();
    });

    it("persists each transition with its time, try number, owner and reason", async () => {
      const store = await subject.open(clock);
      await store.createRun(newRun());
      now = T0 + 1000;
      expect((await store.setRunState("daily_metrics", RUN_ID, "running"))?.state).toBe("running");
      const claimed = await store.claim(key("load"), "worker-1", 30_000);
      expect(claimed).toEqual({
        ...key("load"),
        state: "running",
        tryNumber: 1,
        leaseOwner: "worker-1",
        leaseExpiresAt: new Date(T0 + 31_000),
        reason: null,
        updatedAt: new Date(T0 + 1000),
      });
      now = T0 + 2000;
      expect(await store.finish(key("load"), "worker-1", 1, "up_for_retry", "exit 1")).toBe(true);
      now = T0 + 3000;
      expect((await store.claim(key("load"), "worker-2", 30_000))?.tryNumber).toBe(2);
      now = T0 + 4000;
      expect(await store.finish(key("load"), "worker-2", 2, "failed", "exit 1")).toBe(true);
      expect(
        await store.setTaskState(key("models_build"), "upstream_failed", { from: ["queued"] }),
      ).toMatchObject({
        state: "upstream_failed",
        tryNumber: 0,
      });
      expect(await store.setTaskState(key("reconcile"), "skipped")).toMatchObject({ state: "skipped" });
      now = T0 + 5000;
      expect((await store.setRunState("daily_metrics", RUN_ID, "failed", "load failed"))?.updatedAt).toEqual(
        new Date(T0 + 5000),
      );
      const history = (await store.history("daily_metrics", RUN_ID)).map((t) => [
        t.taskId,
        t.from,
        t.to,
        t.tryNumber,
        t.owner,
        t.reason,
        t.at.getTime() - T0,
      ]);
      expect(history).toEqual([
        [null, null, "queued", 0, null, null, 0],
        ["load", null, "queued", 0, null, null, 0],
        ["models_build", null, "queued", 0, null, null, 0],
        ["reconcile", null, "queued", 0, null, null, 0],
        [null, "queued", "running", 0, null, null, 1000],
        ["load", "queued", "running", 1, "worker-1", null, 1000],
        ["load", "running", "up_for_retry", 1, "worker-1", "exit 1", 2000],
        ["load", "up_for_retry", "running", 2, "worker-2", null, 3000],
        ["load", "running", "failed", 2, "worker-2", "exit 1", 4000],
        ["models_build", "queued", "upstream_failed", 0, null, null, 4000],
        ["reconcile", "queued", "skipped", 0, null, null, 4000],
        [null, "running", "failed", 0, null, "load failed", 5000],
      ]);
      expect(await store.getTaskInstance(key("load"))).toMatchObject({
        state: "failed",
        tryNumber: 2,
        leaseOwner: null,
        leaseExpiresAt: null,
        reason: "exit 1",
      });
    });

    it("sets a task's state only from the states and try it is told, and claims only what can run", async () => {
      const store = await subject.open(clock);
      await store.createRun(newRun());
      expect(await store.setTaskState(key("load"), "failed", { from: ["running"] })).toBeNull();
      expect(await store.setTaskState(key("load"), "queued", { tryNumber: 3 })).toBeNull();
      expect(await store.setTaskState(key("nope"), "queued")).toBeNull();
      expect(
        await store.setRunState("daily_metrics", "scheduled__2030-01-01T00:00:00.000Z", "running"),
      ).toBeNull();
      await store.setTaskState(key("load"), "success");
      expect(await store.claim(key("load"), "worker-1", 1000)).toBeNull();
      expect(await store.claim(key("nope"), "worker-1", 1000)).toBeNull();
      await expect(store.claim(key("models_build"), "worker-1", 0)).rejects.toMatchObject({
        code: "PULSE_ORCHESTRATE_BAD_ARGUMENT",
      });
      await expect(store.claim(key("models_build"), "", 1000)).rejects.toBeInstanceOf(OrchestrateError);
      expect((await store.history("daily_metrics", RUN_ID)).length).toBe(5);
    });

    it("keeps a lease to its owner until it expires; a heartbeat extends it; then another owner takes the next try", async () => {
      const [a, b] = [await subject.open(clock), await subject.open(clock)];
      await a.createRun(newRun());
      expect((await a.claim(key("load"), "worker-a", 1000))?.tryNumber).toBe(1);
      now = T0 + 999;
      expect(await b.claim(key("load"), "worker-b", 1000)).toBeNull();
      expect(await a.claim(key("load"), "worker-a", 1000)).toBeNull();
      now = T0 + 500;
      expect(await b.heartbeat(key("load"), "worker-b", 1, 1000)).toBe(false);
      expect(await a.heartbeat(key("load"), "worker-a", 2, 1000)).toBe(false);
      expect(await a.heartbeat(key("load"), "worker-a", 1, 1000)).toBe(true);
      expect((await b.getTaskInstance(key("load")))?.leaseExpiresAt).toEqual(new Date(T0 + 1500));
      now = T0 + 1499;
      expect(await b.claim(key("load"), "worker-b", 1000)).toBeNull();
      expect(await b.finish(key("load"), "worker-b", 1, "success")).toBe(false);
      now = T0 + 1500;
      expect(await a.heartbeat(key("load"), "worker-a", 1, 1000)).toBe(false);
      const taken = await b.claim(key("load"), "worker-b", 1000);
      expect(taken).toMatchObject({ state: "running", tryNumber: 2, leaseOwner: "worker-b" });
      expect(await a.finish(key("load"), "worker-a", 1, "success")).toBe(false);
      expect(await b.finish(key("load"), "worker-b", 2, "success")).toBe(true);
      const load = (await a.history("daily_metrics", RUN_ID)).filter((t) => t.taskId === "load");
      expect(load.map((t) => [t.from, t.to, t.tryNumber, t.owner, t.reason, t.at.getTime() - T0])).toEqual([
        [null, "queued", 0, null, null, 0],
        ["queued", "running", 1, "worker-a", null, 0],
        ["running", "failed", 1, "worker-a", "lease expired", 1500],
        ["failed", "running", 2, "worker-b", null, 1500],
        ["running", "success", 2, "worker-b", null, 1500],
      ]);
    });

    it("finds the expired leases of a handle that died, from another handle, and retries them", async () => {
      const dead = await subject.open(clock);
      await dead.createRun(newRun());
      await dead.claim(key("models_build"), "worker-dead", 2000);
      now = T0 + 100;
      await dead.claim(key("load"), "worker-dead", 1000);
      await dead.close();

      now = T0 + 60_000;
      const alive = await subject.open(clock);
      expect(await alive.expiredLeases(new Date(T0 + 1099))).toEqual([]);
      expect((await alive.expiredLeases(new Date(T0 + 1100))).map((ti) => ti.taskId)).toEqual(["load"]);
      const expired = await alive.expiredLeases(new Date(now));
      expect(
        expired.map((ti) => [ti.taskId, ti.tryNumber, ti.leaseOwner, ti.leaseExpiresAt?.getTime()]),
      ).toEqual([
        ["load", 1, "worker-dead", T0 + 1100],
        ["models_build", 1, "worker-dead", T0 + 2000],
      ]);
      const retried = await alive.setTaskState(key("load"), "up_for_retry", {
        from: ["running"],
        tryNumber: 1,
        reason: "lease expired",
      });
      expect(retried).toMatchObject({
        state: "up_for_retry",
        tryNumber: 1,
        leaseOwner: null,
        leaseExpiresAt: null,
      });
      expect(await alive.setTaskState(key("load"), "failed", { from: ["running"], tryNumber: 1 })).toBeNull();
      await alive.setTaskState(key("models_build"), "failed", { from: ["running"], reason: "lease expired" });
      expect(await alive.expiredLeases(new Date(now))).toEqual([]);
      expect((await alive.claim(key("load"), "worker-alive", 1000))?.tryNumber).toBe(2);
    });

    it("lets exactly one of many concurrent claims from two handles win each task instance", async () => {
      const [a, b] = [await subject.open(clock), await subject.open(clock)];
      const taskIds = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, "0")}`);
      await a.createRun(newRun({ taskIds }));
      const attempts = taskIds.flatMap((taskId) => [
        a.claim(key(taskId), "worker-a", 10_000).then((won) => (won === null ? null : [taskId, "worker-a"])),
        b.claim(key(taskId), "worker-b", 10_000).then((won) => (won === null ? null : [taskId, "worker-b"])),
        b.claim(key(taskId), "worker-c", 10_000).then((won) => (won === null ? null : [taskId, "worker-c"])),
      ]);
      const wins = (await Promise.all(attempts)).filter((win) => win !== null) as string[][];
      expect(wins.map(([taskId]) => taskId).sort()).toEqual(taskIds);
      for (const [taskId, owner] of wins) {
        expect(await b.getTaskInstance(key(taskId as string))).toMatchObject({
          tryNumber: 1,
          leaseOwner: owner,
        });
      }
    });
  });
}
