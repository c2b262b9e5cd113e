// The PostgreSQL run store against a real server (scripts/services/postgres.sh): the RunStore contract, each case in a database of its own, concurrent opens, failures, and a claim race between two real processes.
import { randomBytes } from "node:crypto";
import { Pool, type QueryResultRow } from "pg";
import { describe, expect, it, type TestContext } from "vitest";
import { OrchestrateError, OrchestrateErrorCode } from "../../src/errors.ts";
import type { RunStore } from "../../src/orchestrate/runs/index.ts";
import { openRunStore } from "../../src/orchestrate/runs/open.ts";
import { PostgresRunStore } from "../../src/orchestrate/runs/postgres/index.ts";
import { type RunStoreSubject, runRunStoreConformance } from "../conformance/run-store.ts";
import { createRaceRun, RACE_RUN_ID, raceClaims } from "../helpers/claim-race.ts";
import { usePostgres } from "./services.ts";

const postgres = usePostgres();

/** A new database; its URL. Dropped, with any session left on it, by the returned function. */
async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const database = `pulse_runs_test_${randomBytes(6).toString("hex")}`;
  await postgres.admin.query(`CREATE DATABASE ${database}`);
  return {
    url: postgres.urlOf(database),
    drop: async () => {
      await postgres.admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on the database `url` names, on a connection of its own. */
async function queryOn<R extends QueryResultRow>(url: string, sql: string): Promise<{ rows: R[] }> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    return await pool.query<R>(sql);
  } finally {
    await pool.end();
  }
}

/** A database for one test, dropped (after the handles opened on it close) when the test ends. */
async function freshDatabase(ctx: TestContext): Promise<{ url: string; opened: RunStore[] }> {
  const { url, drop } = await createDatabase();
  const opened: RunStore[] = [];
  ctx.onTestFinished(async () => {
    for (const store of opened) await store.close();
    await drop();
  });
  return { url, opened };
}

runRunStoreConformance("postgres", async (): Promise<RunStoreSubject> => {
  const { url, drop } = await createDatabase();
  const handles: RunStore[] = [];
  return {
    open: async (clock) => {
      const store = await PostgresRunStore.open({ url, clock });
      handles.push(store);
      return store;
    },
    cleanup: async () => {
      for (const handle of handles) await handle.close();
      await drop();
    },
  };
});

const DAY = new Date("2026-12-06T00:00:00Z");
const RUN = {
  dagId: "d",
  logicalDate: DAY,
  dataIntervalStart: DAY,
  dataIntervalEnd: new Date("2026-12-07T00:00:00Z"),
  runType: "manual",
  taskIds: ["t"],
} as const;
const KEY = { dagId: "d", runId: "manual__2026-12-06T00:00:00.000Z", taskId: "t" };

describe("PostgresRunStore: its own", () => {
  it("creates its tables once when many processes open a new database at once, in the schema it is given", async (ctx) => {
    const { url, opened } = await freshDatabase(ctx);
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => PostgresRunStore.open({ url, schema: "runs_here" })),
    );
    opened.push(...stores);
    await stores[0]!.createRun(RUN);
    expect((await stores[7]!.listRuns("d")).map((run) => run.runId)).toEqual([KEY.runId]);
    // The tables are in the schema it was given, once each.
    const { rows } = await queryOn<{ name: string }>(
      url,
      "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_schema LIKE '%runs%' ORDER BY 1",
    );
    expect(rows.map((row) => row.name)).toEqual([
      "runs_here.dag_runs",
      "runs_here.schema_version",
      "runs_here.task_instances",
      "runs_here.transitions",
    ]);
    expect((await queryOn(url, "SELECT version FROM runs_here.schema_version")).rows).toEqual([
      { version: 1 },
    ]);
    const other = await PostgresRunStore.open({ url });
    opened.push(other);
    expect(await other.listRuns("d")).toEqual([]);
  });

  it("opens on made tables without waiting for a scheduler's open transaction on them", async (ctx) => {
    // A scheduler creating a run holds a write lock on each table until it commits; an open that ran
    // CREATE INDEX IF NOT EXISTS there would wait for it, and deadlock once that run reached its next table.
    const { url, opened } = await freshDatabase(ctx);
    opened.push(await PostgresRunStore.open({ url }));
    const writer = new Pool({ connectionString: url, max: 1 });
    const client = await writer.connect();
    ctx.onTestFinished(async () => {
      client.release();
      await writer.end();
    });
    await client.query("BEGIN");
    await client.query(
      "INSERT INTO pulse_runs.transitions (dag_id, run_id, to_state, try_number, at) VALUES ('d', 'r', 'queued', 0, now())",
    );
    await client.query(
      "INSERT INTO pulse_runs.task_instances (dag_id, run_id, task_id, ordinal, state, try_number, updated_at) VALUES ('d', 'r', 't', 0, 'queued', 0, now())",
    );
    const second = PostgresRunStore.open({ url });
    const outcome = await Promise.race([
      second.then(() => "opened"),
      new Promise((resolve) => setTimeout(() => resolve("waiting"), 5_000)),
    ]);
    await client.query("ROLLBACK");
    opened.push(await second);
    expect(outcome).toBe("opened");
  });

  it("creates a run once when several handles create it at once", async (ctx) => {
    const { url, opened } = await freshDatabase(ctx);
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresRunStore.open({ url })));
    opened.push(...stores);
    const results = await Promise.all(
      stores.flatMap((store) => [store.createRun(RUN), store.createRun({ ...RUN, runType: "scheduled" })]),
    );
    expect(results.filter((result) => result.created).length).toBe(1);
    expect(new Set(results.map((result) => result.run.runId)).size).toBe(1);
    const runId = results[0]!.run.runId;
    expect((await stores[0]!.taskInstances("d", runId)).map((ti) => ti.taskId)).toEqual(["t"]);
    expect((await stores[1]!.history("d", runId)).length).toBe(2);
  });

  it("refuses tables of a newer version, and a bad schema name, before touching anything", async (ctx) => {
    const { url, opened } = await freshDatabase(ctx);
    opened.push(await PostgresRunStore.open({ url }));
    await queryOn(url, "UPDATE pulse_runs.schema_version SET version = 99");
    const newer = await PostgresRunStore.open({ url }).catch((e: unknown) => e);
    expect(newer).toMatchObject({ code: OrchestrateErrorCode.storage, details: { version: 99 } });
    expect((newer as OrchestrateError).message).toContain("has version 99, newer than this Pulse's 1");
    await expect(PostgresRunStore.open({ url, schema: "x".repeat(64) })).rejects.toMatchObject({
      code: OrchestrateErrorCode.badArgument,
    });
    await expect(PostgresRunStore.open({ url: "mysql://h/db" })).rejects.toMatchObject({
      code: OrchestrateErrorCode.badArgument,
    });
  });

  it("gives a server that is not there, or a database that is not, as unavailable and retriable, without the password", async () => {
    const nowhere = await PostgresRunStore.open({
      url: "postgres://pulse:s3cret-pw@127.0.0.1:1/pulse",
    }).catch((e: unknown) => e);
    expect(nowhere).toBeInstanceOf(OrchestrateError);
    expect(nowhere).toMatchObject({ code: OrchestrateErrorCode.unavailable, retriable: true });
    expect((nowhere as OrchestrateError).message).toContain("postgres://pulse@127.0.0.1:1/pulse");
    expect((nowhere as OrchestrateError).message).not.toContain("s3cret-pw");

    const missing = await PostgresRunStore.open({ url: postgres.urlOf("pulse_no_such_database") }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ code: OrchestrateErrorCode.unavailable, details: { sqlstate: "3D000" } });
    expect((missing as OrchestrateError).message).toContain(
      'database "pulse_no_such_database" does not exist',
    );
  });

  it("refuses calls after close with PULSE_ORCHESTRATE_CLOSED, naming the URL", async (ctx) => {
    const { url } = await freshDatabase(ctx);
    const store = await PostgresRunStore.open({ url });
    await store.close();
    await store.close();
    await expect(store.listRuns("d")).rejects.toMatchObject({
      code: OrchestrateErrorCode.closed,
      message: `The run store at ${url} is closed; open a new PostgresRunStore.`,
    });
  });

  it("passes over an instance another transaction holds at once (SKIP LOCKED), and claims it once free", async (ctx) => {
    const { url, opened } = await freshDatabase(ctx);
    const store = (await openRunStore(url, { dataDir: "/nowhere" })) as PostgresRunStore;
    opened.push(store);
    expect(store).toBeInstanceOf(PostgresRunStore);
    await store.createRun(RUN);
    const other = new Pool({ connectionString: url, max: 1 });
    const client = await other.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT * FROM pulse_runs.task_instances FOR UPDATE");
      const started = Date.now();
      expect(await store.claim(KEY, "worker-a", 1000)).toBeNull();
      expect(Date.now() - started).toBeLessThan(2000);
      await client.query("ROLLBACK");
    } finally {
      client.release();
      await other.end();
    }
    expect(await store.claim(KEY, "worker-a", 1000)).toMatchObject({ tryNumber: 1, leaseOwner: "worker-a" });
  });
});

describe("PostgresRunStore across processes", () => {
  it("gives each task instance to exactly one of two processes claiming at once", async (ctx) => {
    const { url, opened } = await freshDatabase(ctx);
    const store = await PostgresRunStore.open({ url });
    opened.push(store);
    const taskIds = await createRaceRun(store, 200);
    const [a, b] = (await raceClaims(url, ["proc-a", "proc-b"])) as [string[], string[]];
    expect([...a, ...b].sort()).toEqual(taskIds);
    const instances = await store.taskInstances("race", RACE_RUN_ID);
    expect(instances.every((ti) => ti.state === "running" && ti.tryNumber === 1)).toBe(true);
    expect(instances.filter((ti) => ti.leaseOwner === "proc-a").map((ti) => ti.taskId)).toEqual(a);
    // One claim transition per instance: no try was started twice.
    const claims = (await store.history("race", RACE_RUN_ID)).filter((t) => t.to === "running");
    expect(claims.length).toBe(200);
  }, 60_000);
});
