// The Live page's user-activity panels: events/s, unique users and revenue per window by event type, the funnel, and the latest window's figures.

import type { ActivityWindow, Alert } from "../api.ts";
import { alertBands } from "./series.ts";
import { Chart, type SeriesSpec } from "../charts.ts";
import {
  compact,
  rate,
  decimal,
  emptyRow,
  figure,
  h,
  integer,
  money,
  panel,
  percent,
  replace,
  table,
  time,
  num,
} from "../dom.ts";

/** The contract's event types, in its order: each keeps its colour whichever types a window has. */
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
/** The funnel's steps: users who viewed, added to a cart, bought, in one window. */
export const FUNNEL = ["VIEW", "ADD_TO_CART", "PURCHASE"] as const;

function colorOf(eventType: string): number {
  const index = EVENT_TYPES.indexOf(eventType);
  return index < 0 ? EVENT_TYPES.length + (eventType.charCodeAt(0) % 3) : index;
}

function typeOrder(a: string, b: string): number {
  return colorOf(a) - colorOf(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export class ActivityPanels {
  readonly #windowMs: number;
  readonly #rate: Chart;
  readonly #users: Chart;
  readonly #revenue: Chart;
  readonly #funnel: HTMLElement;
  readonly #latest: ReturnType<typeof table>;

  constructor(grid: HTMLElement, windowMs: number) {
    this.#windowMs = windowMs;
    const seconds = windowMs / 1000;
    const rate = panel("activity-rate", "Events per second by event type", {
      wide: true,
      note: `Each point is one ${decimal(seconds)} s window of event time; the newest may still be filling. Shaded: alerts.`,
    });
    const users = panel("activity-users", "Unique users per window by event type");
    const revenue = panel("activity-revenue", "Revenue per window");
    const funnel = panel("activity-funnel", "Funnel: view → add to cart → purchase", {
      note: "Unique users in the latest window.",
    });
    const latest = panel("activity-latest", "Latest window by event type");
    grid.append(rate.section, users.section, revenue.section, funnel.section, latest.section);
    this.#rate = new Chart(rate.body, {
      label: "Events per second by event type, per window",
      series: [],
      yLabel: "events/s",
      xPadSec: seconds,
    });
    this.#users = new Chart(users.body, {
      label: "Unique users per window by event type",
      series: [],
      yLabel: "users",
      xPadSec: seconds,
    });
    this.#revenue = new Chart(revenue.body, {
      label: "Revenue per window",
      series: [{ label: "revenue", bars: true, color: colorOf("PURCHASE"), format: money }],
      yFormat: compact,
      xPadSec: seconds,
    });
    this.#funnel = h("div", { class: "funnel", id: "funnel" });
    funnel.body.append(this.#funnel);
    this.#latest = table(
      "No window yet",
      ["event type", num("events"), num("events/s"), num("unique users"), num("sessions"), num("revenue")],
      {
        id: "activity-latest-table",
      },
    );
    latest.body.append(h("div", { class: "scroll" }, this.#latest.table));
    this.render([]);
  }

  render(windows: readonly ActivityWindow[]): void {
    const starts = [...new Set(windows.map((w) => w.window_start))].sort((a, b) => a - b);
    const types = [...new Set(windows.map((w) => w.event_type))].sort(typeOrder);
    const at = new Map(windows.map((w) => [`${w.window_start}|${w.event_type}`, w]));
    const x = starts.map((s) => s / 1000);
    const perSecond = this.#windowMs / 1000;
    const series = (label: string): SeriesSpec => ({ label, color: colorOf(label), format: rate });
    this.#rate.setData(
      [
        x,
        ...types.map((t) =>
          starts.map((s) => (at.has(`${s}|${t}`) ? at.get(`${s}|${t}`)!.event_count / perSecond : 0)),
        ),
      ],
      types.map(series),
    );
    this.#users.setData(
      [x, ...types.map((t) => starts.map((s) => at.get(`${s}|${t}`)?.unique_users ?? 0))],
      types.map((t) => ({ ...series(t), format: integer })),
    );
    this.#revenue.setData([
      x,
      starts.map((s) =>
        cents(windows.filter((w) => w.window_start === s).reduce((sum, w) => sum + w.revenue, 0)),
      ),
    ]);

    const latestStart = starts.at(-1);
    const latest = windows
      .filter((w) => w.window_start === latestStart)
      .sort((a, b) => typeOrder(a.event_type, b.event_type));
    this.#renderLatest(latest, perSecond);
    this.#renderFunnel(latest);
  }

  setAlerts(alerts: readonly Alert[]): void {
    const bands = alertBands(alerts, "activity");
    this.#rate.setBands(bands);
    this.#users.setBands(bands);
  }

  #renderLatest(rows: readonly ActivityWindow[], perSecond: number): void {
    const { body, caption } = this.#latest;
    if (rows.length === 0) {
      replace(caption, "No window yet");
      replace(body, emptyRow(6, "No events in the live windows yet."));
      return;
    }
    const first = rows[0]!;
    const final = rows.every((r) => r.final);
    replace(
      caption,
      "Window ",
      time(first.window_start),
      " – ",
      time(first.window_end),
      h(
        "span",
        { class: final ? "badge final" : "badge filling", "data-final": String(final) },
        final ? "final" : "filling",
      ),
    );
    const total = { events: 0, revenue: 0, sessions: 0 };
    const cells = rows.map((r) => {
      total.events += r.event_count;
      total.revenue += r.revenue;
      total.sessions += r.sessions;
      return h(
        "tr",
        { "data-key": r.event_type, "data-window": String(r.window_start) },
        h(
          "th",
          { scope: "row" },
          h("span", { class: `swatch c${colorOf(r.event_type) % 10}`, "aria-hidden": "true" }),
          r.event_type,
        ),
        figure("td", r.event_count, integer, { "data-metric": "event_count" }),
        figure("td", r.event_count / perSecond, rate, { "data-metric": "events_per_sec" }),
        figure("td", r.unique_users, integer, { "data-metric": "unique_users" }),
        figure("td", r.sessions, integer, { "data-metric": "sessions" }),
        figure("td", r.revenue, money, { "data-metric": "revenue" }),
      );
    });
    const totalRow = h(
      "tr",
      { class: "total", "data-key": "all" },
      h("th", { scope: "row" }, "all types"),
      figure("td", total.events, integer, { "data-metric": "event_count" }),
      figure("td", total.events / perSecond, rate, { "data-metric": "events_per_sec" }),
      // Distinct users of different event types overlap: their sum would count a user once per type.
      h("td", { class: "muted", title: "a user may do several event types in a window" }, "–"),
      figure("td", total.sessions, integer, { "data-metric": "sessions" }),
      figure("td", cents(total.revenue), money, { "data-metric": "revenue" }),
    );
    replace(body, ...cells, totalRow);
  }

  #renderFunnel(rows: readonly ActivityWindow[]): void {
    const users = FUNNEL.map((step) => rows.find((r) => r.event_type === step)?.unique_users ?? 0);
    const top = Math.max(users[0] ?? 0, 1);
    replace(
      this.#funnel,
      h(
        "ol",
        {},
        ...FUNNEL.map((step, i) => {
          const count = users[i]!;
          const previous = i === 0 ? undefined : users[i - 1]!;
          const bar = h("span", { class: `bar c${colorOf(step) % 10}` });
          bar.style.width = `${Math.min(100, (count / top) * 100)}%`;
          return h(
            "li",
            { "data-step": step },
            h("span", { class: "step" }, step),
            h("span", { class: "track" }, bar),
            figure("strong", count, integer, { "data-metric": "unique_users" }),
            h(
              "span",
              { class: "muted conversion" },
              previous === undefined
                ? "users"
                : previous === 0
                  ? "–"
                  : `${percent(count / previous)} of ${FUNNEL[i - 1]}`,
            ),
          );
        }),
      ),
    );
  }
}

/** Sums of amounts rounded to the cent, as the API's merged revenue is. */
function cents(value: number): number {
  return Math.round(value * 100) / 100;
}
