// Two scheduler processes on one PostgreSQL run store share a run of 60 short tasks: each task runs exactly once, and the run succeeds.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openRunStore } from "../../src/orchestrate/runs/open.ts";
import { REPO_ROOT, tempDir } from "../helpers/cli.ts";
import { usePostgres } from "./services.ts";

const postgres = usePostgres();
const CHILD = join(REPO_ROOT, "test/helpers/scheduler-child.ts");

function scheduler(url: string, dir: string, owner: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, url, dir, "many", owner], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`scheduler ${owner} exited ${code}: ${err}`)),
    );
  });
}

describe("two schedulers on one PostgreSQL run store", () => {
  it("never run the same task try twice", async ({ onTestFinished }) => {
    const database = `pulse_sched_test_${randomBytes(6).toString("hex")}`;
    await postgres.admin.query(`CREATE DATABASE ${database}`);
    onTestFinished(async () => {
      await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });
    const url = postgres.urlOf(database);
    const dir = tempDir(onTestFinished);
    await Promise.all([scheduler(url, dir, "alpha"), scheduler(url, dir, "beta")]);

    const marks = readFileSync(join(dir, "marks"), "utf8").trim().split("\n");
    const tasks = marks.map((line) => line.split(" ")[0]!);
    expect(tasks).toHaveLength(60);
    expect(new Set(tasks).size).toBe(60);
    expect(marks.every((line) => / 1 (alpha|beta)$/.test(line))).toBe(true);
    const owners = new Set(marks.map((line) => line.split(" ")[2]));
    expect(owners.size, "both schedulers took tasks").toBe(2);

    const store = await openRunStore(url, { dataDir: dir });
    try {
      const runId = "manual__2026-12-06T00:00:00.000Z";
      expect((await store.getRun("many", runId))?.state).toBe("success");
      const tis = await store.taskInstances("many", runId);
      expect(tis.every((ti) => ti.state === "success" && ti.tryNumber === 1)).toBe(true);
      const started = (await store.history("many", runId)).filter(
        (h) => h.taskId !== null && h.to === "running",
      );
      expect(started).toHaveLength(60);
    } finally {
      await store.close();
    }
  }, 120_000);
});
