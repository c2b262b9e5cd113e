// dbt Core builds analytics/ on a DuckDB warehouse of the real fixtures: the marts equal awk and jq over the files, a rebuild changes nothing, late events rebuild their days.
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SuiteCleanups, tempDir } from "../helpers/cli.ts";
import {
  ANALYTICS_MODELS,
  dbtBuild,
  dbtExecutable,
  MARTS_SCHEMA,
  type RunResults,
} from "../helpers/dbt-core.ts";
import {
  type DailyUserMetric,
  expectedDailyRevenue,
  expectedDailyUserMetrics,
  expectedDailyWikiMetrics,
} from "../helpers/expected-kpis.ts";
import { writeRawFixtureTables } from "../helpers/raw-fixture-tables.ts";

const SCHEMA = MARTS_SCHEMA;
const MODELS = ANALYTICS_MODELS;

type JsonRow = Record<string, unknown>;

// One warehouse file for the file's tests, which run in order: build, rebuild, late events.
const suite = new SuiteCleanups();
let dbt: string;
let dir: string;
let warehouse: string;

/** `dbt build` of analytics/ on the file's warehouse. */
function build(): Promise<RunResults> {
  return dbtBuild({ dbt, dir, env: { ANALYTICS_DUCKDB_PATH: warehouse } });
}

/** Opens the warehouse for `work` and closes it after, so dbt can open it again. */
async function withWarehouse<T>(
  work: (query: (sql: string) => Promise<JsonRow[]>) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(warehouse);
  const connection = await instance.connect();
  try {
    return await work(async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson());
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Every relation dbt built, each as its rows in a fixed order. */
function snapshot(): Promise<Record<string, JsonRow[]>> {
  return withWarehouse(async (query) => {
    const tables: Record<string, JsonRow[]> = {};
    for (const model of MODELS) tables[model] = await query(`select * from ${SCHEMA}.${model} order by all`);
    return tables;
  });
}

function dailyUserMetrics(): Promise<DailyUserMetric[]> {
  return withWarehouse(async (query) =>
    (
      await query(
        `select cast(activity_date as varchar) as activity_date, event_type, event_count, unique_users
         from ${SCHEMA}.fct_daily_user_metrics order by activity_date, event_type`,
      )
    ).map((row) => ({
      activity_date: row.activity_date as string,
      event_type: row.event_type as string,
      event_count: Number(row.event_count),
      unique_users: Number(row.unique_users),
    })),
  );
}

function expectAllPassed(results: RunResults): void {
  const failed = results.results.filter((r) => r.status !== "success" && r.status !== "pass");
  expect(failed).toEqual([]);
  const models = results.results.filter((r) => r.unique_id.startsWith("model.")).map((r) => r.unique_id);
  expect(models.sort()).toEqual(MODELS.map((model) => `model.analytics.${model}`));
  expect(results.results.filter((r) => r.unique_id.startsWith("test.")).length).toBeGreaterThan(0);
}

beforeAll(async () => {
  dbt = await dbtExecutable();
  dir = tempDir(suite.add, "pulse-dbt-core-");
  warehouse = join(dir, "warehouse.duckdb");
  const written = await writeRawFixtureTables(warehouse);
  // 13,947 + 799 CSV rows (duplicates included) and 80 + 3,054 Wikimedia events, none rejected.
  expect(written).toEqual({ userActivity: 14_746, wikimediaRecentchange: 3_134, rejected: 0 });
}, 900_000);

afterAll(suite.run);

describe("dbt Core on the DuckDB warehouse of the fixtures", () => {
  let firstBuild: Record<string, JsonRow[]>;

  it("builds every model and passes every test; the marts equal awk and jq over the files", async () => {
    expectAllPassed(await build());

    expect(await dailyUserMetrics()).toEqual(expectedDailyUserMetrics());

    const [revenue, wiki] = await withWarehouse(async (query) => [
      await query(
        `select cast(activity_date as varchar) as activity_date, purchases, revenue, buyers
         from ${SCHEMA}.fct_daily_revenue order by activity_date`,
      ),
      await query(
        `select cast(activity_date as varchar) as activity_date, wiki, edits, bot_edits, human_edits,
                new_pages, bytes_delta, unique_editors
         from ${SCHEMA}.fct_daily_wiki_metrics order by activity_date, wiki`,
      ),
    ]);
    expect(
      revenue.map((row) => ({
        activity_date: row.activity_date,
        purchases: Number(row.purchases),
        revenue_cents: Math.round(Number(row.revenue) * 100),
        buyers: Number(row.buyers),
      })),
    ).toEqual(expectedDailyRevenue());
    expect(
      wiki.map((row) => ({
        activity_date: row.activity_date,
        wiki: row.wiki,
        ...Object.fromEntries(
          ["edits", "bot_edits", "human_edits", "new_pages", "bytes_delta", "unique_editors"].map((c) => [
            c,
            Number(row[c]),
          ]),
        ),
      })),
    ).toEqual(expectedDailyWikiMetrics());

    firstBuild = await snapshot();
  }, 300_000);

  it("a second build leaves every table and view identical", async () => {
    expect(firstBuild).toBeDefined();
    expectAllPassed(await build());
    expect(await snapshot()).toEqual(firstBuild);
  }, 300_000);

  it("late events rebuild the days they fall on; late copies and canary events change nothing", async () => {
    expect(firstBuild).toBeDefined();
    await withWarehouse(async (query) => {
      // A second copy, at a later offset, of one event of 2022-10-01: staging keeps one row per event_id.
      await query(
        `insert into raw.user_activity
         select * replace (_offset + 1000000 as _offset) from raw.user_activity
         where event_id = (select min(event_id) from raw.user_activity
                           where cast(event_time as date) = date '2022-10-01' and event_type = 'VIEW')`,
      );
      // Two new events: a VIEW on 2022-10-01 by a user not seen before, and a LOGIN on a new day.
      await query(
        `insert into raw.user_activity
           (event_id, user_id, session_id, event_type, event_time, page, referrer, device, country,
            amount, currency, app_version, _topic, _log_partition, _offset, _ingested_at)
         values
           ('late-view-1', 'late-user-1', 'late-session-1', 'VIEW', timestamp '2022-10-01 23:59:59',
            '/product/1', null, 'UNKNOWN', null, null, null, null, 'user-activity', 0, 2000000,
            timestamp '2026-01-02 00:00:00'),
           ('late-login-1', 'late-user-1', 'late-session-1', 'LOGIN', timestamp '2022-10-02 00:00:01',
            '/login', null, 'UNKNOWN', null, null, null, null, 'user-activity', 0, 2000001,
            timestamp '2026-01-02 00:00:00')`,
      );
      // A second copy of an enwiki change (same meta_id), and a canary event: neither is counted.
      await query(
        `insert into raw.wikimedia_recentchange
         select * replace (_offset + 1000000 as _offset) from raw.wikimedia_recentchange
         where wiki = 'enwiki' order by _offset limit 1`,
      );
      await query(
        `insert into raw.wikimedia_recentchange
         select * replace ('canary' as meta_domain, 'canary-' || meta_id as meta_id, _offset + 2000000 as _offset)
         from raw.wikimedia_recentchange where wiki = 'enwiki' order by _offset limit 1`,
      );
    });
    expectAllPassed(await build());

    const expected = expectedDailyUserMetrics().map((row) =>
      row.activity_date === "2022-10-01" && row.event_type === "VIEW"
        ? { ...row, event_count: row.event_count + 1, unique_users: row.unique_users + 1 }
        : row,
    );
    expected.push({ activity_date: "2022-10-02", event_type: "LOGIN", event_count: 1, unique_users: 1 });
    expect(await dailyUserMetrics()).toEqual(expected);
    const after = await snapshot();
    expect(after.stg_wikimedia_changes).toEqual(firstBuild.stg_wikimedia_changes);
    expect(after.fct_daily_wiki_metrics).toEqual(firstBuild.fct_daily_wiki_metrics);
    expect(after.stg_user_activity!.length).toBe(firstBuild.stg_user_activity!.length + 2);
  }, 300_000);
});
