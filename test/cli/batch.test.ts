// pulse batch end to end on DuckDB: the real fixtures through produce, stream and load into the marts, equal to awk and jq; a seeded run equal to the log and the speed layer; a rerun changes nothing; failures skip what depends on them.

import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { ACTIVITY_SERIES } from "../../src/store/index.ts";
import { open as openStore } from "../../src/store/open.ts";
import { pulseQuery, REPO_ROOT, runPulse, runPulseJson, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { expectedDailyUserMetrics, expectedDailyWikiMetrics } from "../helpers/expected-kpis.ts";
import { ACTIVITY_FIXTURES, WIKIMEDIA_FIXTURES } from "../helpers/raw-fixture-tables.ts";
import { readTopic } from "../helpers/topics.ts";

const TIMEOUT_MS = 180_000;
const MARTS = "monitoring_datalake";

interface BatchSummary {
  load: { topics: Array<{ topic: string; rows_loaded: number }> };
  models: {
    ok: boolean;
    counts: { pass: number; error: number; skip: number; total: number };
    results: Array<{ unique_id: string; status: string; message: string | null }>;
  };
}

/** Every table and view the batch writes, as text: equal texts, equal warehouses. */
async function everyTable(dataDir: string): Promise<string> {
  const relations = await pulseQuery(
    dataDir,
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_schema IN ('raw', '${MARTS}') AND table_name <> '_pulse_load_state' ORDER BY 1, 2`,
  );
  const out: string[] = [];
  for (const { s, t } of relations)
    out.push(JSON.stringify(await pulseQuery(dataDir, `SELECT * FROM "${s}"."${t}" ORDER BY ALL`)));
  return out.join("\n");
}

function batch(dataDir: string, targetDir: string, extra: string[] = []) {
  return runPulse(["batch", "--json", "--target-path", targetDir, "--data-dir", dataDir, ...extra], {
    timeoutMs: TIMEOUT_MS,
  });
}

describe("pulse batch over the real fixtures", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let target: string;
  let first: BatchSummary;

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    target = tempDir(cleanups.add);
    for (const file of ACTIVITY_FIXTURES)
      await runPulseJson([
        "produce",
        "activity",
        "--replay",
        file,
        "--speed",
        "0",
        "--json",
        "--data-dir",
        dataDir,
      ]);
    for (const file of WIKIMEDIA_FIXTURES)
      await runPulseJson([
        "produce",
        "wikimedia",
        "--replay",
        file,
        "--speed",
        "0",
        "--json",
        "--data-dir",
        dataDir,
      ]);
    await runPulseJson(["stream", "--drain", "--json", "--data-dir", dataDir], { timeoutMs: TIMEOUT_MS });
    const result = await batch(dataDir, target);
    expect(result.code, result.stderr).toBe(0);
    first = JSON.parse(result.stdout) as BatchSummary;
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("builds every model and passes every test", () => {
    expect(first.models.ok).toBe(true);
    expect(first.models.counts.error + first.models.counts.skip).toBe(0);
    expect(first.models.counts.pass).toBe(first.models.counts.total);
    expect(first.models.results.map((r) => r.unique_id)).toContain("model.analytics.fct_daily_user_metrics");
  });

  it("fct_daily_user_metrics equals awk over the CSVs, exact duplicates removed", async () => {
    const built = await pulseQuery(
      dataDir,
      `SELECT CAST(activity_date AS VARCHAR) AS activity_date, event_type, event_count, unique_users
         FROM ${MARTS}.fct_daily_user_metrics ORDER BY activity_date, event_type`,
    );
    expect(built).toEqual(expectedDailyUserMetrics());
  });

  it("fct_daily_wiki_metrics equals jq over the Wikimedia files", async () => {
    const built = await pulseQuery(
      dataDir,
      `SELECT CAST(activity_date AS VARCHAR) AS activity_date, wiki, edits, bot_edits, human_edits, new_pages,
              bytes_delta, unique_editors
         FROM ${MARTS}.fct_daily_wiki_metrics ORDER BY activity_date, wiki`,
    );
    expect(built).toEqual(expectedDailyWikiMetrics());
  });

  it("changes nothing when run again", async () => {
    const before = await everyTable(dataDir);
    const again = await batch(dataDir, target);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as BatchSummary;
    expect(summary.load.topics.map((t) => t.rows_loaded)).toEqual([0, 0]);
    expect(await everyTable(dataDir)).toBe(before);
  });

  it("exits 1 on a failing error-severity test, skips what depends on it, and names the test", async () => {
    const project = tempDir(cleanups.add);
    cpSync(join(REPO_ROOT, "analytics"), project, { recursive: true });
    writeFileSync(
      join(project, "tests", "no_view_events.sql"),
      "-- A test that fails: there are VIEW events.\nselect * from {{ ref('stg_user_activity') }} where event_type = 'VIEW'\n",
    );
    const result = await batch(dataDir, target, ["--project-dir", project]);
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as BatchSummary;
    const status = new Map(summary.models.results.map((r) => [r.unique_id, r.status]));
    expect(status.get("test.analytics.no_view_events")).toBe("fail");
    for (const mart of ["fct_daily_user_metrics", "fct_daily_revenue", "fct_daily_funnel", "dim_users"])
      expect(status.get(`model.analytics.${mart}`)).toBe("skipped");
    expect(status.get("model.analytics.fct_daily_wiki_metrics")).toBe("success");
  });

  it("names the file and line of a model with a syntax error, and a missing ref", async () => {
    const project = tempDir(cleanups.add);
    cpSync(join(REPO_ROOT, "analytics"), project, { recursive: true });
    writeFileSync(
      join(project, "models", "marts", "broken.sql"),
      "-- A broken model.\nselect 1 as x\n{% if %}\n",
    );
    const broken = await runPulse(["batch", "--project-dir", project, "--data-dir", dataDir]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/models\/marts\/broken\.sql:3/);
    writeFileSync(
      join(project, "models", "marts", "broken.sql"),
      "-- A model reading a missing one.\nselect * from {{ ref('nowhere') }}\n",
    );
    const missing = await runPulse(["batch", "--project-dir", project, "--data-dir", dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere/);
    expect(missing.stderr).toMatch(/broken/);
  });
});

describe("pulse batch after a seeded pulse produce", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    await runPulseJson([
      "produce",
      "activity",
      "--count",
      "20000",
      "--seed",
      "11",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    await runPulseJson(["stream", "--drain", "--json", "--data-dir", dataDir], { timeoutMs: TIMEOUT_MS });
    const result = await batch(dataDir, tempDir(cleanups.add));
    expect(result.code, result.stderr).toBe(0);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("fct_daily_user_metrics equals the log's events deduplicated by event_id, and lies between the speed layer's daily counts and those plus its late events", async () => {
    const records = await readTopic<UserActivityV2>(dataDir, "user-activity");
    const byId = new Map(records.map((r) => [r.value.event_id, r.value]));
    const cells = new Map<string, { n: number; users: Set<string> }>();
    for (const e of byId.values()) {
      const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
      const cell = cells.get(key) ?? { n: 0, users: new Set() };
      cell.n++;
      cell.users.add(e.user_id);
      cells.set(key, cell);
    }
    const expected = [...cells]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, cell]) => ({ d: key.slice(0, 10), t: key.slice(11), n: cell.n, u: cell.users.size }));
    const built = await pulseQuery(
      dataDir,
      `SELECT CAST(activity_date AS VARCHAR) AS d, event_type AS t, event_count AS n, unique_users AS u
         FROM ${MARTS}.fct_daily_user_metrics ORDER BY d, t`,
    );
    expect(built).toEqual(expected);

    // The speed layer counts an event in its day unless it came too late for its window; those it keeps
    // as late events (and in the raw lake). Its daily totals plus its late events are the batch's counts,
    // except that a late copy of an event the speed layer also counted on time is in both: the batch
    // counts such an event once. So per day and type, speed ≤ batch ≤ speed + late, and the surplus is
    // at most the late events the log holds more than one copy of.
    const copies = new Map<string, number>();
    for (const r of records) copies.set(r.value.event_id, (copies.get(r.value.event_id) ?? 0) + 1);
    const store = await openStore("embedded:store.db", { dataDir });
    try {
      const speed = new Map<string, number>();
      for (const r of await store.daily(ACTIVITY_SERIES))
        speed.set(`${new Date(r.window_start).toISOString().slice(0, 10)}|${r.event_type}`, r.event_count);
      const late = new Map<string, Set<string>>();
      for (const row of await store.lateEvents(1_000_000)) {
        const e = JSON.parse(row.payload) as UserActivityV2;
        const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
        late.set(key, (late.get(key) ?? new Set()).add(e.event_id));
      }
      expect([...late.values()].reduce((n, ids) => n + ids.size, 0)).toBeGreaterThan(0);
      for (const { d, t, n } of built as Array<{ d: string; t: string; n: number }>) {
        const key = `${d}|${t}`;
        const onTime = speed.get(key) ?? 0;
        const lateIds = [...(late.get(key) ?? [])];
        const surplus = onTime + lateIds.length - n;
        expect(onTime, key).toBeLessThanOrEqual(n);
        expect(surplus, key).toBeGreaterThanOrEqual(0);
        expect(surplus, key).toBeLessThanOrEqual(lateIds.filter((id) => (copies.get(id) ?? 0) > 1).length);
      }
    } finally {
      await store.close();
    }
  });
});
