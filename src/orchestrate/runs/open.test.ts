// openRunStore: which backend each URL form opens, and the error for a value that is none of them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../errors.ts";
import type { RunStore } from "./index.ts";
import { openRunStore } from "./open.ts";
import { SqliteRunStore } from "./sqlite/index.ts";

describe("openRunStore", () => {
  const opened: RunStore[] = [];
  let dataDir = "";
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    if (dataDir !== "") rmSync(dataDir, { recursive: true, force: true });
    dataDir = "";
  });

  async function pathOf(url: string): Promise<string> {
    dataDir ||= mkdtempSync(join(tmpdir(), "pulse-open-runs-"));
    const store = await openRunStore(url, { dataDir, clock: () => 0 });
    opened.push(store);
    expect(store).toBeInstanceOf(SqliteRunStore);
    return (store as SqliteRunStore).path;
  }

  it("opens SQLite for embedded:, sqlite: and file paths, relative ones in the data folder", async () => {
    expect(await pathOf("embedded:runs.db")).toBe(join(dataDir, "runs.db"));
    expect(await pathOf("sqlite:nested/runs.sqlite")).toBe(join(dataDir, "nested/runs.sqlite"));
    expect(await pathOf(join(dataDir, "abs.db"))).toBe(join(dataDir, "abs.db"));
    expect(await pathOf(`sqlite:${join(dataDir, "abs2.db")}`)).toBe(join(dataDir, "abs2.db"));
    expect(await pathOf("plain.db")).toBe(join(dataDir, "plain.db"));
  });

  it("gives a store that works: the run made on one handle is read on another of the same URL", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "pulse-open-runs-"));
    const [a, b] = [
      await openRunStore("embedded:runs.db", { dataDir }),
      await openRunStore(join(dataDir, "runs.db"), { dataDir }),
    ];
    opened.push(a, b);
    const day = new Date("2026-12-06T00:00:00Z");
    await a.createRun({
      dagId: "d",
      logicalDate: day,
      dataIntervalStart: day,
      dataIntervalEnd: new Date("2026-12-07T00:00:00Z"),
      runType: "manual",
      taskIds: ["t"],
    });
    expect((await b.listRuns("d")).map((run) => run.runId)).toEqual(["manual__2026-12-06T00:00:00.000Z"]);
  });

  it("refuses any other value, naming it (without a password) and the accepted forms", async () => {
    for (const url of ["mysql://root:hunter2@db/runs", "localhost:5432/runs", "embedded:", "sqlite:", ""]) {
      const error = await openRunStore(url, { dataDir: "/nowhere" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toContain("not a run store URL");
      expect(message).toContain("embedded:<file>");
      expect(message).toContain("postgres://user@host:port/database");
      expect(message).not.toContain("hunter2");
    }
    const error = await openRunStore("mysql://root:hunter2@db/runs", { dataDir: "/nowhere" }).catch(
      (e: unknown) => e,
    );
    expect((error as ConfigError).message).toMatch(
      /^run store 'mysql:\/\/db\/runs': not a run store URL; use /,
    );
  });
});
