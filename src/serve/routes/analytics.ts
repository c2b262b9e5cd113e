// GET /api/analytics/*: the batch layer's marts by date range and filters, as JSON or RFC 4180 CSV, read through an injected warehouse reader.

import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpErrorCode, WarehouseError } from "../../errors.ts";
import { toCsv } from "../csv.ts";
import { HttpError, sendJson } from "../http.ts";
import { badParam, type GetEndpoint, getRoute, notFoundRoute, type Route } from "../route.ts";

/** A value bound to a `$n` parameter or read from a row (the warehouse seam's SqlValue). */
export type AnalyticsValue = string | number | boolean | Date | null;
export type AnalyticsRow = Record<string, AnalyticsValue>;

/** One read-only session on the warehouse, for one request. */
export interface AnalyticsSession {
  /** The quoted, qualified name of the mart `name` in the models' schema; undefined when it is not built. */
  mart(name: string): Promise<string | undefined>;
  /** Runs one statement with its `$n` parameters bound. */
  query(sql: string, params: readonly AnalyticsValue[]): Promise<{ columns: string[]; rows: AnalyticsRow[] }>;
}

/**
 * Where the marts are read from: the composition root opens the warehouse read-only for `work` and closes
 * it after. Faults are WarehouseErrors; a retriable one (a file locked by a running `pulse batch`, a server
 * that cannot be reached) is answered 503 with a retry message.
 */
export interface AnalyticsSource {
  read<T>(work: (session: AnalyticsSession) => Promise<T>): Promise<T>;
}

/** What one endpoint answers: its columns, in order, and its rows keyed by them. */
export interface AnalyticsTable {
  columns: string[];
  rows: AnalyticsRow[];
}

/** At most this many values for a list filter, each at most this long: bounds the statement a request makes. */
const MAX_FILTER_VALUES = 50;
const MAX_FILTER_LENGTH = 200;
const NAME = /^[A-Za-z0-9_.-]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

interface Filters {
  from: string | undefined;
  to: string | undefined;
  /** The list filter's values; empty means every value. */
  values: string[];
  csv: boolean;
}

interface Report {
  mart: string;
  /** The list filter's parameter and the column it matches (event_type, wiki). */
  filter?: { param: string; column: string };
  /** The answer from the mart's quoted name and filters; every value in it is a bound parameter. */
  run(session: AnalyticsSession, table: string, filters: Filters): Promise<AnalyticsTable>;
}

/**
 * The reports, by path. Each takes from=YYYY-MM-DD and to=YYYY-MM-DD (both optional, inclusive), its list
 * filter (repeatable, or values separated by commas) and format=json|csv, and answers rows ordered by
 * day, then by the filter's column.
 */
const REPORTS: Readonly<Record<string, Report>> = {
  "/daily-user-metrics": {
    mart: "fct_daily_user_metrics",
    filter: { param: "event_type", column: "event_type" },
    run: dailyUserMetrics,
  },
  "/revenue": {
    mart: "fct_daily_revenue",
    run: (session, table, filters) =>
      plain(session, table, filters, ["activity_date", "purchases", "revenue", "buyers", "avg_order_value"]),
  },
  "/funnel": {
    mart: "fct_daily_funnel",
    run: (session, table, filters) =>
      plain(session, table, filters, [
        "activity_date",
        "viewers",
        "carters",
        "buyers",
        "view_to_cart",
        "cart_to_purchase",
      ]),
  },
  "/wiki": {
    mart: "fct_daily_wiki_metrics",
    filter: { param: "wiki", column: "wiki" },
    run: (session, table, filters) =>
      plain(
        session,
        table,
        filters,
        [
          "activity_date",
          "wiki",
          "edits",
          "bot_edits",
          "human_edits",
          "new_pages",
          "bytes_delta",
          "unique_editors",
        ],
        "wiki",
      ),
  },
};

/** Every /api/analytics route, then a 404 listing them for any other path below it. All are GET only. */
export function analyticsApiRoutes(options: { source: AnalyticsSource }): Route[] {
  const endpoints = Object.fromEntries(
    Object.entries(REPORTS).map(([path, report]) => [
      path,
      {
        // The query is parsed here: the list filters may be repeated, which getRoute refuses.
        params: ["*"],
        run: (_query: unknown, req: IncomingMessage, res: ServerResponse) =>
          answer(options.source, report, path, req, res),
      },
    ]),
  );
  // Which reports have their mart built: a page asks first, so it requests (and 404s on) none that is not.
  const marts: GetEndpoint = {
    params: [],
    run: async (_query, _req, res) => {
      const built = await read(options.source, async (session) => {
        const out: Record<string, boolean> = {};
        for (const [path, report] of Object.entries(REPORTS))
          out[path.slice(1)] = (await session.mart(report.mart)) !== undefined;
        return out;
      });
      sendJson(res, 200, { reports: built });
    },
  };
  const route = getRoute("/api/analytics", { ...endpoints, "/marts": marts });
  return [route, notFoundRoute("analytics", ["/api/analytics"], [route])];
}

async function answer(
  source: AnalyticsSource,
  report: Report,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const filters = parseFilters(req, report, path);
  const table = await read(source, (session) =>
    session.mart(report.mart).then((name) => {
      if (name === undefined) return undefined;
      return report.run(session, name, filters);
    }),
  );
  if (table === undefined) {
    throw new HttpError(
      404,
      HttpErrorCode.warehouseNotBuilt,
      `the warehouse has no ${report.mart} yet: run \`pulse batch\` to load the raw lake and build the marts`,
    );
  }
  if (!filters.csv) {
    sendJson(res, 200, table);
    return;
  }
  const text = toCsv(table.columns, table.rows);
  const name = [path.slice(1), filters.from ?? "start", filters.to ?? "end"].join("_");
  res.writeHead(200, {
    "content-type": "text/csv; charset=utf-8; header=present",
    "content-disposition": `attachment; filename="${name}.csv"`,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** Retriable warehouse faults (locked, unreachable) become 503s; anything else stays a 500. */
async function read<T>(source: AnalyticsSource, work: (session: AnalyticsSession) => Promise<T>): Promise<T> {
  try {
    return await source.read(work);
  } catch (error) {
    if (error instanceof WarehouseError && error.retriable) {
      throw new HttpError(
        503,
        HttpErrorCode.warehouseUnavailable,
        `the warehouse cannot be read now (${error.code}: a running \`pulse batch\` holds it, or its server is unreachable); retry in a few seconds`,
        { retriable: true, cause: error },
      );
    }
    throw error;
  }
}

function parseFilters(req: IncomingMessage, report: Report, path: string): Filters {
  const params = new URL(req.url ?? "/", "http://localhost").searchParams;
  const accepted = ["from", "to", "format", ...(report.filter ? [report.filter.param] : [])];
  for (const name of new Set(params.keys())) {
    if (!accepted.includes(name)) {
      throw badParam(
        `unknown query parameter "${name}" for /api/analytics${path}; accepted: ${accepted.join(", ")}`,
      );
    }
  }
  const single = (name: string): string | undefined => {
    const all = params.getAll(name);
    if (all.length > 1) throw badParam(`query parameter "${name}" is given more than once; give it once`);
    return all[0];
  };
  const from = dateParam("from", single("from"));
  const to = dateParam("to", single("to"));
  if (from !== undefined && to !== undefined && from > to) {
    throw badParam(`from (${from}) is after to (${to}); give from <= to`);
  }
  const format = single("format") ?? "json";
  if (format !== "json" && format !== "csv") throw badParam(`format must be json or csv; got "${format}"`);
  const values =
    report.filter === undefined ? [] : listParam(report.filter.param, params.getAll(report.filter.param));
  return { from, to, values, csv: format === "csv" };
}

/** A calendar day as YYYY-MM-DD; "2024-02-30" is refused, not rolled over. */
function dateParam(name: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const match = DATE.exec(text);
  const [year, month, day] = match === null ? [] : [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = match === null ? undefined : new Date(Date.UTC(year!, month! - 1, day!));
  if (
    date === undefined ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month! - 1 ||
    date.getUTCDate() !== day
  ) {
    throw badParam(`${name} must be a calendar day written YYYY-MM-DD; got "${text}"`);
  }
  return text;
}

/** Grammar: each occurrence is value *("," value); empty values are left out, duplicates kept once. */
function listParam(name: string, occurrences: readonly string[]): string[] {
  const values = [...new Set(occurrences.flatMap((text) => text.split(",")).map((v) => v.trim()))].filter(
    (v) => v !== "",
  );
  if (values.length > MAX_FILTER_VALUES) {
    throw badParam(`${name} takes at most ${MAX_FILTER_VALUES} values; got ${values.length}`);
  }
  const long = values.find((v) => v.length > MAX_FILTER_LENGTH);
  if (long !== undefined) {
    throw badParam(`a ${name} value is longer than ${MAX_FILTER_LENGTH} characters: "${long.slice(0, 40)}…"`);
  }
  // Event types and wiki names are words: anything else is a mistake or a probe, refused rather than matched.
  const odd = values.find((v) => !NAME.test(v));
  if (odd !== undefined) {
    throw badParam(
      `each ${name} value is letters, digits, "_", "." or "-" (e.g. PURCHASE, enwiki); got "${odd.slice(0, 40)}"`,
    );
  }
  return values;
}

/** `where` conditions and their bound parameters, numbered from $1 in the order they are added. */
class Conditions {
  readonly params: AnalyticsValue[] = [];
  readonly #terms: string[] = [];

  bind(value: AnalyticsValue): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  push(term: string): void {
    this.#terms.push(term);
  }

  get sql(): string {
    return this.#terms.length === 0 ? "" : `where ${this.#terms.join(" and ")}`;
  }
}

/** The date range and list filter as conditions; dates are cast from text so every dialect compares days. */
function conditions(filters: Filters, column: string | undefined, range: { from: boolean; to: boolean }) {
  const where = new Conditions();
  if (range.from && filters.from !== undefined)
    where.push(`activity_date >= cast(${where.bind(filters.from)} as date)`);
  if (range.to && filters.to !== undefined)
    where.push(`activity_date <= cast(${where.bind(filters.to)} as date)`);
  if (column !== undefined && filters.values.length > 0)
    where.push(`${column} in (${filters.values.map((v) => where.bind(v)).join(", ")})`);
  return where;
}

async function plain(
  session: AnalyticsSession,
  table: string,
  filters: Filters,
  columns: readonly string[],
  filterColumn?: string,
): Promise<AnalyticsTable> {
  const where = conditions(filters, filterColumn, { from: true, to: true });
  const order = filterColumn === undefined ? "activity_date" : `activity_date, ${filterColumn}`;
  const result = await session.query(
    `select ${columns.join(", ")} from ${table} ${where.sql} order by ${order}`,
    where.params,
  );
  return { columns: [...columns], rows: result.rows };
}

const DAILY_COLUMNS = [
  "activity_date",
  "event_type",
  "event_count",
  "unique_users",
  "event_count_change",
  "unique_users_change",
];

/**
 * The headline table with day-over-day change: each row's counts minus those of the same event type on
 * the day before, null when that day has no row. LAG runs over the days up to `to` before `from` is
 * applied, so the first day of the range is compared with the day before it too.
 */
async function dailyUserMetrics(
  session: AnalyticsSession,
  table: string,
  filters: Filters,
): Promise<AnalyticsTable> {
  const inner = conditions(filters, "event_type", { from: false, to: true });
  const outer =
    filters.from === undefined ? "" : `where activity_date >= cast(${inner.bind(filters.from)} as date)`;
  const over = "over (partition by event_type order by activity_date)";
  const sql = `with metrics as (
  select activity_date, event_type, event_count, unique_users,
    lag(activity_date) ${over} as previous_date,
    lag(event_count) ${over} as previous_event_count,
    lag(unique_users) ${over} as previous_unique_users
  from ${table} ${inner.sql}
)
select * from metrics ${outer} order by activity_date, event_type`;
  const result = await session.query(sql, inner.params);
  const rows = result.rows.map((row) => {
    const adjacent = row.previous_date !== null && row.previous_date === dayBefore(String(row.activity_date));
    const change = (now: AnalyticsValue, before: AnalyticsValue) =>
      adjacent && typeof now === "number" && typeof before === "number" ? now - before : null;
    return {
      activity_date: row.activity_date ?? null,
      event_type: row.event_type ?? null,
      event_count: row.event_count ?? null,
      unique_users: row.unique_users ?? null,
      event_count_change: change(row.event_count ?? null, row.previous_event_count ?? null),
      unique_users_change: change(row.unique_users ?? null, row.previous_unique_users ?? null),
    };
  });
  return { columns: DAILY_COLUMNS, rows };
}

/** The calendar day before a YYYY-MM-DD day. */
function dayBefore(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}
