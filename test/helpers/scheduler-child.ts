// A scheduler in a child process, for the crash and shared-store tests: runs one test DAG on a run store until its run ends (or it is killed).
//
// argv: <run store URL> <work dir> <mode> <owner>
//   crash: DAG "crashy": task "slow" notes "started <try>" in <work dir>/marks, and its first try then
//          hangs (the test SIGKILLs this process); later tries succeed; "after" runs downstream of it.
//   many:  DAG "many": 60 independent tasks, each appending "<task> <try> <owner>" to <work dir>/marks.
// The run is created (or found) for 2026-12-06; the process exits 0 once it has ended.

import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { defineDag, type TaskSpec } from "../../src/orchestrate/dag.ts";
import { triggerRun } from "../../src/orchestrate/operations.ts";
import { openRunStore } from "../../src/orchestrate/runs/open.ts";
import { Scheduler } from "../../src/orchestrate/scheduler.ts";

const [url, workDir, mode, owner] = process.argv.slice(2) as [string, string, string, string];
const marks = join(workDir, "marks");
const mark = (line: string) => appendFileSync(marks, `${line}\n`);

const tasks: TaskSpec[] =
  mode === "crash"
    ? [
        {
          id: "slow",
          run: async (ctx) => {
            ctx.log.info(`working on try ${ctx.tryNumber}`);
            mark(`started ${ctx.tryNumber}`);
            if (ctx.tryNumber === 1) await new Promise(() => {});
          },
          options: { retries: 2, retryDelayMs: 0 },
        },
        { id: "after", upstream: ["slow"], run: () => mark("after") },
      ]
    : Array.from({ length: 60 }, (_, i) => ({
        id: `t${String(i).padStart(2, "0")}`,
        run: async (ctx) => {
          mark(`${ctx.taskId} ${ctx.tryNumber} ${owner}`);
          await new Promise((resolve) => setTimeout(resolve, 5 + (i % 7)));
        },
      }));

const dag = defineDag({
  id: mode === "crash" ? "crashy" : "many",
  schedule: "@daily",
  startDate: new Date("2026-12-01T00:00:00Z"),
  tasks,
});
const store = await openRunStore(url, { dataDir: workDir });
const { run } = await triggerRun(store, dag, { date: new Date("2026-12-06T00:00:00Z") });
const scheduler = new Scheduler({
  dags: [dag],
  store,
  owner,
  logsDir: join(workDir, "logs"),
  leaseMs: 1_000,
  pollMs: 20,
  parallelism: 8,
  createRuns: false,
});
scheduler.start();
for (;;) {
  const current = await store.getRun(dag.id, run.runId);
  if (current?.state === "success" || current?.state === "failed") break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await scheduler.stop();
await store.close();
process.stdout.write(`${JSON.stringify({ owner, runId: run.runId })}\n`);
