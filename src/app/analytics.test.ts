// Tests /api/analytics over a real server and a real DuckDB warehouse with known marts: exact JSON and CSV, filters, 400s, not built, locked, injection.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { serveRoutes } from "../../test/helpers/http-server.ts";
import { writeMarts } from "../../test/helpers/marts.ts";
import { analyticsApiRoutes } from "../serve/routes/analytics.ts";
import { warehouseAnalytics } from "./analytics.ts";

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-analytics-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function served(marts?: readonly string[]) {
  const dir = dataDir();
  if (marts === undefined || marts.length > 0) await writeMarts(join(dir, "warehouse.duckdb"), marts);
  const source = warehouseAnalytics({ warehouse: "embedded:warehouse.duckdb", data_dir: dir });
  const server = await serveRoutes(analyticsApiRoutes({ source }));
  const text = async (path: string) => {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  return { ...server, text, dir };
}

const DAILY = [
  "activity_date",
  "event_type",
  "event_count",
  "unique_users",
  "event_count_change",
  "unique_users_change",
];

describe("/api/analytics", () => {
  it("answers the daily user metrics in the range, with day-over-day change against the day before", async () => {
    const { get } = await served();
    expect((await get("/api/analytics/daily-user-metrics?from=2024-03-02&to=2024-03-04")).body).toEqual({
      columns: DAILY,
      rows: [
        // Compared with 2024-03-01, before the range.
        {
          activity_date: "2024-03-02",
          event_type: "PURCHASE",
          event_count: 3,
          unique_users: 2,
          event_count_change: 1,
          unique_users_change: 0,
        },
        {
          activity_date: "2024-03-02",
          event_type: "VIEW",
          event_count: 12,
          unique_users: 9,
          event_count_change: 2,
          unique_users_change: 1,
        },
        // 2024-03-03 has no row: no day-over-day change.
        {
          activity_date: "2024-03-04",
          event_type: "CLICK",
          event_count: 5,
          unique_users: 1,
          event_count_change: null,
          unique_users_change: null,
        },
        {
          activity_date: "2024-03-04",
          event_type: "VIEW",
          event_count: 7,
          unique_users: 7,
          event_count_change: null,
          unique_users_change: null,
        },
      ],
    });
  });

  it("filters by event_type, repeated or as a comma list, and without a range answers every day", async () => {
    const { get } = await served();
    const views = (await get("/api/analytics/daily-user-metrics?event_type=VIEW")).body as {
      rows: unknown[];
    };
    expect(views.rows).toEqual([
      {
        activity_date: "2024-03-01",
        event_type: "VIEW",
        event_count: 10,
        unique_users: 8,
        event_count_change: null,
        unique_users_change: null,
      },
      {
        activity_date: "2024-03-02",
        event_type: "VIEW",
        event_count: 12,
        unique_users: 9,
        event_count_change: 2,
        unique_users_change: 1,
      },
      {
        activity_date: "2024-03-04",
        event_type: "VIEW",
        event_count: 7,
        unique_users: 7,
        event_count_change: null,
        unique_users_change: null,
      },
    ]);
    const pick = (rows: unknown[]) =>
      (rows as Array<{ activity_date: string; event_type: string }>).map(
        (r) => `${r.activity_date} ${r.event_type}`,
      );
    const both = ["2024-03-04 CLICK", "2024-03-04 VIEW"];
    for (const query of [
      "event_type=CLICK,VIEW",
      "event_type=CLICK&event_type=VIEW",
      "event_type=VIEW,%20CLICK,",
    ]) {
      const body = (await get(`/api/analytics/daily-user-metrics?from=2024-03-03&${query}`)).body as {
        rows: unknown[];
      };
      expect(pick(body.rows), query).toEqual(both);
    }
  });

  it("answers revenue, funnel and wiki metrics in the range, the wiki ones filtered by wiki", async () => {
    const { get } = await served();
    expect((await get("/api/analytics/revenue?from=2024-03-02")).body).toEqual({
      columns: ["activity_date", "purchases", "revenue", "buyers", "avg_order_value"],
      rows: [{ activity_date: "2024-03-02", purchases: 3, revenue: 30, buyers: 2, avg_order_value: 10 }],
    });
    expect((await get("/api/analytics/funnel?to=2024-03-02")).body).toEqual({
      columns: ["activity_date", "viewers", "carters", "buyers", "view_to_cart", "cart_to_purchase"],
      rows: [
        {
          activity_date: "2024-03-01",
          viewers: 8,
          carters: 4,
          buyers: 2,
          view_to_cart: 0.5,
          cart_to_purchase: 0.5,
        },
        {
          activity_date: "2024-03-02",
          viewers: 9,
          carters: 0,
          buyers: 0,
          view_to_cart: 0,
          cart_to_purchase: null,
        },
      ],
    });
    expect((await get("/api/analytics/wiki?wiki=enwiki")).body).toEqual({
      columns: [
        "activity_date",
        "wiki",
        "edits",
        "bot_edits",
        "human_edits",
        "new_pages",
        "bytes_delta",
        "unique_editors",
      ],
      rows: [
        {
          activity_date: "2024-03-01",
          wiki: "enwiki",
          edits: 10,
          bot_edits: 3,
          human_edits: 7,
          new_pages: 1,
          bytes_delta: -20,
          unique_editors: 5,
        },
        {
          activity_date: "2024-03-02",
          wiki: "enwiki",
          edits: 4,
          bot_edits: 4,
          human_edits: 0,
          new_pages: 0,
          bytes_delta: 120,
          unique_editors: 2,
        },
      ],
    });
  });

  it("answers RFC 4180 CSV as an attachment with ?format=csv", async () => {
    const { text } = await served();
    const wiki = await text("/api/analytics/wiki?from=2024-03-01&to=2024-03-01&format=csv");
    expect(wiki.status).toBe(200);
    expect(wiki.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(wiki.headers.get("content-disposition")).toBe(
      'attachment; filename="wiki_2024-03-01_2024-03-01.csv"',
    );
    expect(wiki.body).toBe(
      "activity_date,wiki,edits,bot_edits,human_edits,new_pages,bytes_delta,unique_editors\r\n" +
        '2024-03-01,"a ""quoted"", wiki",1,0,1,0,4,1\r\n' +
        "2024-03-01,enwiki,10,3,7,1,-20,5\r\n",
    );
    const daily = await text(
      "/api/analytics/daily-user-metrics?from=2024-03-02&to=2024-03-02&event_type=PURCHASE&format=csv",
    );
    expect(daily.headers.get("content-disposition")).toBe(
      'attachment; filename="daily-user-metrics_2024-03-02_2024-03-02.csv"',
    );
    expect(daily.body).toBe(
      "activity_date,event_type,event_count,unique_users,event_count_change,unique_users_change\r\n2024-03-02,PURCHASE,3,2,1,0\r\n",
    );
    const funnel = await text("/api/analytics/funnel?from=2024-03-02&format=csv");
    expect(funnel.body).toBe(
      "activity_date,viewers,carters,buyers,view_to_cart,cart_to_purchase\r\n2024-03-02,9,0,0,0,\r\n",
    );
  });

  it("refuses bad dates and parameters with 400 and a message", async () => {
    const { get } = await served();
    const cases: Array<[string, string]> = [
      [
        "/api/analytics/revenue?from=2024-02-30",
        'from must be a calendar day written YYYY-MM-DD; got "2024-02-30"',
      ],
      ["/api/analytics/revenue?to=20240301", 'to must be a calendar day written YYYY-MM-DD; got "20240301"'],
      [
        "/api/analytics/revenue?from=2024-03-02&to=2024-03-01",
        "from (2024-03-02) is after to (2024-03-01); give from <= to",
      ],
      [
        "/api/analytics/revenue?from=2024-03-01&from=2024-03-02",
        'query parameter "from" is given more than once; give it once',
      ],
      [
        "/api/analytics/revenue?event_type=VIEW",
        'unknown query parameter "event_type" for /api/analytics/revenue; accepted: from, to, format',
      ],
      ["/api/analytics/funnel?format=xlsx", 'format must be json or csv; got "xlsx"'],
      [
        `/api/analytics/wiki?wiki=${Array.from({ length: 51 }, (_, i) => `w${i}`).join(",")}`,
        "wiki takes at most 50 values; got 51",
      ],
    ];
    for (const [path, message] of cases) {
      const answer = await get(path);
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toEqual({ error: { code: "PULSE_HTTP_BAD_PARAM", message } });
    }
    expect((await get("/api/analytics/nope")).status).toBe(404);
  });

  it("refuses filter values that are not names (400), binds the others, and changes nothing", async () => {
    const { get } = await served();
    for (const probe of [
      "VIEW') or ('1'='1",
      "x'; drop table monitoring_datalake.fct_daily_revenue; --",
      'VIEW" or 1=1 --',
    ]) {
      const answer = await get(`/api/analytics/daily-user-metrics?event_type=${encodeURIComponent(probe)}`);
      expect(answer.status, probe).toBe(400);
      expect((answer.body as { error: { message: string } }).error.message, probe).toMatch(
        /each event_type value is letters, digits/,
      );
      const wiki = await get(`/api/analytics/wiki?wiki=${encodeURIComponent(probe)}`);
      expect(wiki.status, probe).toBe(400);
    }
    // A name that is no event type is a bound value that matches nothing.
    const unknown = await get("/api/analytics/daily-user-metrics?event_type=VIEW.-1");
    expect(unknown.status).toBe(200);
    expect((unknown.body as { rows: unknown[] }).rows).toEqual([]);
    expect(((await get("/api/analytics/revenue")).body as { rows: unknown[] }).rows).toHaveLength(2);
  });

  it("says to run pulse batch when the warehouse or a mart is not built (404)", async () => {
    const none = await served([]);
    const answer = await none.get("/api/analytics/daily-user-metrics");
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({
      error: {
        code: "PULSE_HTTP_WAREHOUSE_NOT_BUILT",
        message:
          "the warehouse has no fct_daily_user_metrics yet: run `pulse batch` to load the raw lake and build the marts",
      },
    });
    expect((await none.get("/api/analytics/marts")).body).toEqual({
      reports: { "daily-user-metrics": false, revenue: false, funnel: false, wiki: false },
    });
    const partial = await served(["fct_daily_revenue"]);
    expect((await partial.get("/api/analytics/marts")).body).toEqual({
      reports: { "daily-user-metrics": false, revenue: true, funnel: false, wiki: false },
    });
    expect((await partial.get("/api/analytics/revenue")).status).toBe(200);
    expect((await partial.get("/api/analytics/wiki")).body).toMatchObject({
      error: { code: "PULSE_HTTP_WAREHOUSE_NOT_BUILT" },
    });
  });

  it("answers 503 with a retry message while another process holds the warehouse for writing", async () => {
    const { get, dir } = await served();
    // Another process opens the file for writing, as a running `pulse batch` does, and holds it.
    const holder = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { DuckDBInstance } from "@duckdb/node-api";
         const db = await DuckDBInstance.create(${JSON.stringify(join(dir, "warehouse.duckdb"))});
         await db.connect();
         process.stdout.write("open\\n");
         setInterval(() => {}, 1000);`,
      ],
      { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] },
    );
    onTestFinished(() => {
      holder.kill();
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("open")) resolve();
      });
      holder.on("exit", (code) => reject(new Error(`the holder exited (${code})`)));
    });
    const answer = await get("/api/analytics/revenue");
    expect(answer.status).toBe(503);
    const error = (answer.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("PULSE_HTTP_WAREHOUSE_UNAVAILABLE");
    expect(error.message).toBe(
      "the warehouse cannot be read now (PULSE_WAREHOUSE_LOCKED: a running `pulse batch` holds it, or its server is unreachable); retry in a few seconds",
    );
  });
});
