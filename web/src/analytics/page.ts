// The Analytics page (/analytics): the batch layer's marts by date range and event type, a trend chart, and every table exportable as CSV.

import { getJson } from "../api.ts";
import { Chart, type ChartData, type SeriesSpec } from "../charts.ts";
import { compact, decimal, h, integer, money, panel, percent, replace, signed } from "../dom.ts";
import { type AnalyticsFilters, ReportPanel, type ReportRow } from "./report.ts";

/** The contract's event types, offered in the filter (any other text is sent as it is). */
const EVENT_TYPES = [
  "CLICK",
  "VIEW",
  "ADD_TO_CART",
  "REMOVE_FROM_CART",
  "PURCHASE",
  "SEARCH",
  "LOGIN",
  "LOGOUT",
  "SIGNUP",
];
const FILTERS = ["from", "to", "event_type", "wiki"] as const;

/** The filters in the page's address, so a link or a reload shows the same tables. */
function filtersFromLocation(): AnalyticsFilters {
  const params = new URLSearchParams(location.search);
  return {
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    event_type: params.getAll("event_type").join(","),
    wiki: params.getAll("wiki").join(","),
  };
}

function input(
  name: string,
  label: string,
  attrs: Record<string, string>,
): [HTMLLabelElement, HTMLInputElement] {
  const id = `analytics-${name.replace("_", "-")}`;
  return [h("label", { for: id }, label), h("input", { id, name, ...attrs })];
}

export async function mount(main: HTMLElement): Promise<() => void> {
  const status = document.getElementById("connection");
  if (status !== null) {
    status.dataset.state = "off";
    status.textContent = "from the warehouse";
  }
  const initial = filtersFromLocation();
  const fields = {
    from: input("from", "from", { type: "date", value: initial.from }),
    to: input("to", "to", { type: "date", value: initial.to }),
    event_type: input("event_type", "event types", {
      type: "text",
      value: initial.event_type,
      list: "analytics-event-types",
      placeholder: "all, or VIEW,PURCHASE",
      autocomplete: "off",
    }),
    wiki: input("wiki", "wikis", {
      type: "text",
      value: initial.wiki,
      placeholder: "all, or enwiki,dewiki",
      autocomplete: "off",
    }),
  };
  const message = h("p", { class: "error", id: "analytics-error", role: "alert" });
  const form = h(
    "form",
    { id: "analytics-filters", class: "controls", role: "search", "aria-label": "Filters" },
    ...FILTERS.flatMap((name) => fields[name]),
    h("datalist", { id: "analytics-event-types" }, ...EVENT_TYPES.map((t) => h("option", { value: t }))),
    h("button", { type: "submit", id: "analytics-apply" }, "Apply"),
  );
  const grid = h("div", { class: "grid" });
  replace(
    main,
    h("h1", {}, "Analytics"),
    h(
      "p",
      { class: "lede" },
      "Exact daily figures from the warehouse that `pulse batch` builds (UTC days, inclusive range; empty means every day).",
    ),
    form,
    message,
    grid,
  );

  const daily = new ReportPanel(grid, {
    id: "daily",
    title: "Daily user metrics",
    note: "fct_daily_user_metrics. Change: against the same event type on the day before (– when that day has no row).",
    report: "daily-user-metrics",
    filter: "event_type",
    key: ["activity_date", "event_type"],
    wide: true,
    columns: [
      { key: "activity_date", label: "day" },
      { key: "event_type", label: "event type" },
      { key: "event_count", label: "events", format: integer },
      { key: "event_count_change", label: "Δ events", format: signed },
      { key: "unique_users", label: "unique users", format: integer },
      { key: "unique_users_change", label: "Δ users", format: signed },
    ],
  });
  const trend = panel("trend", "Events per day by event type", {
    wide: true,
    note: "The daily user metrics above, one line per event type.",
  });
  daily.section.after(trend.section);
  const chart = new Chart(trend.body, {
    label: "Events per UTC day by event type; the figures are in the daily user metrics table",
    series: [],
    yFormat: compact,
    xPadSec: 86_400,
    xDays: true,
  });
  const revenue = new ReportPanel(grid, {
    id: "revenue",
    title: "Revenue",
    note: "fct_daily_revenue: purchases, revenue summed in cents, distinct buyers, revenue per purchase.",
    report: "revenue",
    key: ["activity_date"],
    columns: [
      { key: "activity_date", label: "day" },
      { key: "purchases", label: "purchases", format: integer },
      { key: "revenue", label: "revenue", format: money },
      { key: "buyers", label: "buyers", format: integer },
      { key: "avg_order_value", label: "avg order", format: money },
    ],
  });
  const funnel = new ReportPanel(grid, {
    id: "funnel",
    title: "Funnel",
    note: "fct_daily_funnel: users who viewed; of them, who added to a cart; of those, who bought, the same day.",
    report: "funnel",
    key: ["activity_date"],
    columns: [
      { key: "activity_date", label: "day" },
      { key: "viewers", label: "viewers", format: integer },
      { key: "carters", label: "carters", format: integer },
      { key: "buyers", label: "buyers", format: integer },
      { key: "view_to_cart", label: "view → cart", format: percent },
      { key: "cart_to_purchase", label: "cart → buy", format: percent },
    ],
  });
  const wiki = new ReportPanel(grid, {
    id: "wiki",
    title: "Wikimedia edits",
    note: "fct_daily_wiki_metrics: edits (edit and new), by bots and humans, new pages, byte delta, distinct editors.",
    report: "wiki",
    filter: "wiki",
    key: ["activity_date", "wiki"],
    wide: true,
    columns: [
      { key: "activity_date", label: "day" },
      { key: "wiki", label: "wiki" },
      { key: "edits", label: "edits", format: integer },
      { key: "bot_edits", label: "bot", format: integer },
      { key: "human_edits", label: "human", format: integer },
      { key: "new_pages", label: "new pages", format: integer },
      { key: "bytes_delta", label: "bytes Δ", format: signed },
      { key: "unique_editors", label: "editors", format: integer },
    ],
  });

  let generation = 0;
  const load = async (filters: AnalyticsFilters) => {
    const mine = ++generation;
    replace(message);
    // Only the built marts are read: an unbuilt one is said so without a 404 on the console.
    const { reports: built } = await getJson<{ reports: Record<string, boolean> }>("/api/analytics/marts");
    const loadIfBuilt = async (report: ReportPanel): Promise<ReportRow[]> => {
      if (built[report.report] !== false) return report.load(filters);
      report.notBuilt();
      return [];
    };
    const [rows] = await Promise.all([
      loadIfBuilt(daily),
      loadIfBuilt(revenue),
      loadIfBuilt(funnel),
      loadIfBuilt(wiki),
    ]);
    if (mine === generation) drawTrend(chart, rows);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const filters: AnalyticsFilters = {
      from: fields.from[1].value,
      to: fields.to[1].value,
      event_type: fields.event_type[1].value,
      wiki: fields.wiki[1].value,
    };
    if (filters.from !== "" && filters.to !== "" && filters.from > filters.to) {
      replace(message, "The range starts after it ends: give a from day on or before the to day.");
      return;
    }
    const search = new URLSearchParams();
    for (const name of FILTERS) if (filters[name].trim() !== "") search.set(name, filters[name].trim());
    const text = search.toString();
    history.replaceState(null, "", text === "" ? location.pathname : `${location.pathname}?${text}`);
    load(filters).catch((error: unknown) =>
      replace(message, `The tables could not be read: ${(error as Error).message}`),
    );
  });
  await load(initial);
  return () => chart.destroy();
}

/** One line per event type over the days of `rows` (seconds at UTC midnight); a day without a row is a gap. */
function drawTrend(chart: Chart, rows: readonly ReportRow[]): void {
  const days = [...new Set(rows.map((r) => String(r.activity_date)))].sort();
  const types = [...new Set(rows.map((r) => String(r.event_type)))].sort(
    (a, b) => order(a) - order(b) || (a < b ? -1 : 1),
  );
  const index = new Map(days.map((d, i) => [d, i]));
  const lines = types.map(() => days.map((): number | null => null));
  for (const row of rows) {
    const line = lines[types.indexOf(String(row.event_type))]!;
    line[index.get(String(row.activity_date))!] =
      typeof row.event_count === "number" ? row.event_count : null;
  }
  const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const series: SeriesSpec[] = types.map((type) => ({ label: type, color: order(type), format: decimal }));
  chart.setData([xs, ...lines] as ChartData, series);
}

function order(eventType: string): number {
  const index = EVENT_TYPES.indexOf(eventType);
  return index < 0 ? EVENT_TYPES.length : index;
}
