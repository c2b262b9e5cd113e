// The claim race between real processes: a "race" run of many tasks, and child processes that each claim every task of it at once.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunStore } from "../../src/orchestrate/runs/index.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The race run's id. */
export const RACE_RUN_ID = "manual__2026-12-06T00:00:00.000Z";

/** Creates the "race" run with `count` task instances on `store`; returns their ids, in order. */
export async function createRaceRun(store: RunStore, count: number): Promise<string[]> {
  const taskIds = Array.from({ length: count }, (_, i) => `t${String(i).padStart(3, "0")}`);
  const logicalDate = new Date("2026-12-06T00:00:00Z");
  await store.createRun({
    dagId: "race",
    logicalDate,
    dataIntervalStart: logicalDate,
    dataIntervalEnd: new Date("2026-12-07T00:00:00Z"),
    runType: "manual",
    taskIds,
  });
  return taskIds;
}

/**
 * Runs one child per owner on the run store `url` (a path or any URL openRunStore takes); they start
 * claiming together once all have loaded. Returns what each owner won, in the order of `owners`.
 */
export async function raceClaims(url: string, owners: readonly string[]): Promise<string[][]> {
  const startAtMs = Date.now() + 2500;
  return Promise.all(owners.map((owner) => racer(url, owner, startAtMs)));
}

function racer(url: string, owner: string, startAtMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(HERE, "claim-race-child.ts"), url, owner, String(startAtMs)],
      { stdio: ["ignore", "pipe", "pipe"] },
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
