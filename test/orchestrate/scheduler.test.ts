// The scheduler on a SQLite run store: retries with growing waits, timeouts, trigger rules, maxActiveRuns, pools, clears, callbacks and logs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DagSpec, defineDag, type OrchestrateEvent, type TaskSpec } from "../../src/orchestrate/dag.ts";
import { clearRun, createBackfill, triggerRun } from "../../src/orchestrate/operations.ts";
import type { DagRun, RunStore } from "../../src/orchestrate/runs/index.ts";
import { SqliteRunStore } from "../../src/orchestrate/runs/sqlite/index.ts";
import { SkipTask } from "../../src/orchestrate/run-try.ts";
import { Scheduler, type SchedulerOptions } from "../../src/orchestrate/scheduler.ts";
import { readTaskLog } from "../../src/orchestrate/task-log.ts";

const START = new Date("2026-12-01T00:00:00Z");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let store: RunStore;
let scheduler: Scheduler | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pulse-scheduler-"));
  store = SqliteRunStore.open({ path: join(dir, "runs.db") });
});
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function dagOf(tasks: TaskSpec[], spec: Partial<DagSpec> = {}) {
  return defineDag({ id: "t", schedule: "@daily", startDate: START, tasks, ...spec });
}

function start(options: Partial<SchedulerOptions> & Pick<SchedulerOptions, "dags">): Scheduler {
  scheduler = new Scheduler({ store, logsDir: join(dir, "logs"), pollMs: 10, createRuns: false, ...options });
  scheduler.start();
  return scheduler;
}

/** Polls until the run has ended, then returns it. */
async function ended(dagId: string, runId: string, timeoutMs = 10_000): Promise<DagRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await store.getRun(dagId, runId);
    if (run && (run.state === "success" || run.state === "failed")) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run?.state} after ${timeoutMs} ms`);
    await sleep(10);
  }
}

const day = (d: string) => new Date(`${d}T00:00:00Z`);

describe("Scheduler", () => {
  it("retries a task that fails twice, with growing waits, and it succeeds on try 3", async () => {
    let calls = 0;
    const dag = dagOf([
      {
        id: "flaky",
        run: () => {
          calls++;
          if (calls < 3) throw new Error(`boom ${calls}`);
        },
        options: { retries: 3, retryDelayMs: 150, backoffFactor: 2 },
      },
    ]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("success");
    const [ti] = await store.taskInstances("t", run.runId);
    expect(ti).toMatchObject({ state: "success", tryNumber: 3 });
    const moves = (await store.history("t", run.runId)).filter((h) => h.taskId === "flaky");
    expect(moves.map((m) => `${m.to}@${m.tryNumber}`)).toEqual([
      "queued@0",
      "running@1",
      "up_for_retry@1",
      "running@2",
      "up_for_retry@2",
      "running@3",
      "success@3",
    ]);
    expect(moves[2]!.reason).toContain("boom 1");
    const wait1 = moves[3]!.at.getTime() - moves[2]!.at.getTime();
    const wait2 = moves[5]!.at.getTime() - moves[4]!.at.getTime();
    expect(wait1).toBeGreaterThanOrEqual(150);
    expect(wait2).toBeGreaterThanOrEqual(300);
    expect(wait2).toBeGreaterThan(wait1);
    // Each try has its own log file, written as it ran.
    expect(readTaskLog(join(dir, "logs"), ti!, 1).text).toContain("boom 1");
    expect(readTaskLog(join(dir, "logs"), ti!).text).toMatch(/try 3 ended: success/);
  });

  it("fails a try that runs past timeoutMs, with a timeout reason, and aborts its work", async () => {
    let aborted = false;
    const dag = dagOf([
      {
        id: "slow",
        run: (ctx) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5_000);
            ctx.signal.addEventListener("abort", () => {
              aborted = true;
              clearTimeout(timer);
            });
          }),
        options: { timeoutMs: 100 },
      },
    ]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    const began = Date.now();
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("failed");
    expect(Date.now() - began).toBeLessThan(4_000);
    const [ti] = await store.taskInstances("t", run.runId);
    expect(ti).toMatchObject({ state: "failed", tryNumber: 1 });
    expect(ti!.reason).toMatch(/timed out after 100 ms/);
    expect(aborted).toBe(true);
  });

  it("marks downstream tasks upstream_failed, runs all_done cleanup, and fails the run", async () => {
    const ran: string[] = [];
    const dag = dagOf([
      { id: "extract", run: () => void ran.push("extract") },
      {
        id: "transform",
        upstream: ["extract"],
        run: () => {
          ran.push("transform");
          throw new Error("bad rows");
        },
      },
      { id: "publish", upstream: ["transform"], run: () => void ran.push("publish") },
      { id: "notify", upstream: ["publish"], run: () => void ran.push("notify") },
      {
        id: "cleanup",
        upstream: ["transform"],
        run: () => void ran.push("cleanup"),
        options: { triggerRule: "all_done" },
      },
    ]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("failed");
    const states = Object.fromEntries(
      (await store.taskInstances("t", run.runId)).map((ti) => [ti.taskId, ti.state]),
    );
    expect(states).toEqual({
      extract: "success",
      transform: "failed",
      publish: "upstream_failed",
      notify: "upstream_failed",
      cleanup: "success",
    });
    expect(ran.sort()).toEqual(["cleanup", "extract", "transform"]);
  });

  it("skips the downstream of a task that skipped itself", async () => {
    const dag = dagOf([
      {
        id: "check",
        run: () => {
          throw new SkipTask("nothing new");
        },
      },
      { id: "build", upstream: ["check"], run: () => {} },
    ]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("success");
    const tis = await store.taskInstances("t", run.runId);
    expect(tis.map((ti) => [ti.taskId, ti.state, ti.reason])).toEqual([
      ["check", "skipped", "nothing new"],
      ["build", "skipped", "an upstream task was skipped"],
    ]);
  });

  it("backfills one run per interval, never more active at once than maxActiveRuns", async () => {
    let active = 0;
    let peak = 0;
    const seen: string[] = [];
    const dag = dagOf(
      [
        {
          id: "work",
          run: async (ctx) => {
            active++;
            peak = Math.max(peak, active);
            seen.push(`${ctx.dataIntervalStart.toISOString()}/${ctx.dataIntervalEnd.toISOString()}`);
            await sleep(40);
            active--;
          },
        },
      ],
      { maxActiveRuns: 2 },
    );
    const runs = await createBackfill(store, dag, day("2026-12-01"), day("2026-12-06"));
    expect(runs.map((r) => r.run.runId)).toEqual([
      "backfill__2026-12-01T00:00:00.000Z",
      "backfill__2026-12-02T00:00:00.000Z",
      "backfill__2026-12-03T00:00:00.000Z",
      "backfill__2026-12-04T00:00:00.000Z",
      "backfill__2026-12-05T00:00:00.000Z",
    ]);
    start({ dags: [dag] });
    for (const { run } of runs) expect((await ended("t", run.runId)).state).toBe("success");
    expect(peak).toBe(2);
    expect(seen.sort()[0]).toBe("2026-12-01T00:00:00.000Z/2026-12-02T00:00:00.000Z");
    expect(seen).toHaveLength(5);
  });

  it("runs no more tries of a pool at once than its slots", async () => {
    let active = 0;
    let peak = 0;
    const work = async () => {
      active++;
      peak = Math.max(peak, active);
      await sleep(30);
      active--;
    };
    const dag = dagOf(
      ["a", "b", "c", "d"].map((id) => ({ id, run: work })),
      { defaultTaskOptions: { pool: "warehouse" } },
    );
    expect(() => new Scheduler({ dags: [dag], store, logsDir: dir })).toThrow(
      /pool "warehouse" has no slots/,
    );
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    start({ dags: [dag], pools: { warehouse: 1 } });
    expect((await ended("t", run.runId)).state).toBe("success");
    expect(peak).toBe(1);
  });

  it("clears a failed task and its downstream, which run again with fresh retries", async () => {
    let fail = true;
    const ran: string[] = [];
    const dag = dagOf([
      { id: "a", run: () => void ran.push("a") },
      {
        id: "b",
        upstream: ["a"],
        run: () => {
          ran.push("b");
          if (fail) throw new Error("not yet");
        },
        options: { retries: 1, retryDelayMs: 0 },
      },
      { id: "c", upstream: ["b"], run: () => void ran.push("c") },
    ]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("failed");
    expect(ran).toEqual(["a", "b", "b"]);
    fail = false;
    expect(await clearRun(store, dag, run.runId, { taskId: "b" })).toEqual(["b", "c"]);
    expect((await ended("t", run.runId)).state).toBe("success");
    expect(ran).toEqual(["a", "b", "b", "b", "c"]);
    const b = (await store.taskInstances("t", run.runId)).find((ti) => ti.taskId === "b");
    expect(b).toMatchObject({ state: "success", tryNumber: 3 });
  });

  it("calls task and DAG callbacks and the notifier, and a throwing callback changes nothing", async () => {
    const heard: string[] = [];
    const notified: OrchestrateEvent[] = [];
    let calls = 0;
    const dag = dagOf(
      [
        {
          id: "x",
          run: () => {
            if (++calls === 1) throw new Error("first");
          },
          options: { retries: 1, retryDelayMs: 0 },
          callbacks: {
            onRetry: (e) => void heard.push(`retry ${e.taskId} ${e.tryNumber} ${e.reason}`),
            onSuccess: (e) => {
              heard.push(`success ${e.taskId} ${e.tryNumber}`);
              throw new Error("callback bug");
            },
          },
        },
      ],
      { callbacks: { onSuccess: (e) => void heard.push(`run ${e.kind} ${e.runId}`) } },
    );
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    const lines: string[] = [];
    start({ dags: [dag], notify: (e) => void notified.push(e), log: (line) => lines.push(line) });
    expect((await ended("t", run.runId)).state).toBe("success");
    await sleep(50);
    expect(heard).toEqual(["retry x 1 first", "success x 2", `run run_success ${run.runId}`]);
    expect(notified.map((e) => e.kind)).toEqual(["task_retry", "task_success", "run_success"]);
    expect(notified[0]).toMatchObject({
      dagId: "t",
      taskId: "x",
      logicalDate: "2026-12-02T00:00:00.000Z",
      dataIntervalEnd: "2026-12-03T00:00:00.000Z",
    });
    expect(lines.some((l) => l.includes("callback failed: callback bug"))).toBe(true);
  });

  it("creates the due runs of the schedule, catching up or not", async () => {
    const now = Date.parse("2026-12-04T09:30:00Z");
    const make = (catchup: boolean) =>
      defineDag({
        id: `c${catchup}`,
        schedule: "@daily",
        startDate: START,
        catchup,
        tasks: [{ id: "a", run: () => {} }],
      });
    const dags = [make(true), make(false)];
    const once = new Scheduler({ dags, store, logsDir: dir, clock: () => now });
    await once.tick();
    await once.settled();
    expect((await store.listRuns("ctrue")).map((r) => r.runId)).toEqual([
      "scheduled__2026-12-01T00:00:00.000Z",
      "scheduled__2026-12-02T00:00:00.000Z",
      "scheduled__2026-12-03T00:00:00.000Z",
    ]);
    expect((await store.listRuns("cfalse")).map((r) => r.runId)).toEqual([
      "scheduled__2026-12-03T00:00:00.000Z",
    ]);
    await once.tick();
    expect(await store.listRuns("cfalse")).toHaveLength(1);
    await once.stop();
  });

  it("fails or retries a try whose lease expired because its owner died", async () => {
    const dag = dagOf([{ id: "a", run: () => {}, options: { retries: 1, retryDelayMs: 0 } }]);
    const { run } = await triggerRun(store, dag, { date: day("2026-12-02") });
    const key = { dagId: "t", runId: run.runId, taskId: "a" };
    expect(await store.claim(key, "dead-scheduler", 50)).not.toBeNull();
    await sleep(80);
    start({ dags: [dag] });
    expect((await ended("t", run.runId)).state).toBe("success");
    const moves = (await store.history("t", run.runId)).filter((h) => h.taskId === "a");
    expect(moves.map((m) => `${m.to}@${m.tryNumber}`)).toEqual([
      "queued@0",
      "running@1",
      "up_for_retry@1",
      "running@2",
      "success@2",
    ]);
    expect(moves[2]!.reason).toMatch(/lease expired: dead-scheduler stopped heartbeating/);
  });
});
