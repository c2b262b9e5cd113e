// A child process for the claim race: opens the run store a URL names, waits for the start time, claims every task of the "race" run, prints the ids it won as JSON.
import { openRunStore } from "../../src/orchestrate/runs/open.ts";

const [url, owner, startAt] = process.argv.slice(2) as [string, string, string];
const store = await openRunStore(url, { dataDir: process.cwd() });
const runId = "manual__2026-12-06T00:00:00.000Z";
const taskIds = (await store.taskInstances("race", runId)).map((ti) => ti.taskId);
while (Date.now() < Number(startAt)) {
  // Spin until the shared start so the processes claim at once.
}
const won: string[] = [];
for (const taskId of taskIds) {
  if ((await store.claim({ dagId: "race", runId, taskId }, owner, 60_000)) !== null) won.push(taskId);
}
await store.close();
process.stdout.write(JSON.stringify(won));
