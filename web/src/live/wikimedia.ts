// The Live page's Wikimedia panels: edits per window by wiki (top 10), bot and human share, new pages and byte delta, top edited pages.

import type { Alert, TopPages, WikiWindow } from "../api.ts";
import { alertBands, topWikis, type WindowTotals, windowTotals } from "./series.ts";
import { Chart } from "../charts.ts";
import { emptyRow, figure, h, integer, panel, percent, replace, signed, table, time, num } from "../dom.ts";

const TOP_WIKIS = 10;
const RECENT_WINDOWS = 10;

export class WikimediaPanels {
  readonly #edits: Chart;
  readonly #growth: Chart;
  readonly #share: HTMLElement;
  readonly #recent: ReturnType<typeof table>;
  readonly #top: ReturnType<typeof table>;

  constructor(grid: HTMLElement, windowMs: number) {
    const seconds = windowMs / 1000;
    const edits = panel("wiki-edits", "Wikimedia edits per window, top 10 wikis", {
      wide: true,
      note: "Shaded: alerts.",
    });
    const share = panel("wiki-share", "Bots and humans, latest window");
    const growth = panel("wiki-growth", "New pages and byte delta per window");
    const recent = panel("wiki-windows", "Recent windows, all wikis", { wide: true });
    const top = panel("wiki-top-pages", "Top edited pages, latest window");
    grid.append(edits.section, share.section, growth.section, recent.section, top.section);
    this.#edits = new Chart(edits.body, {
      label: "Edits per window for the ten busiest wikis",
      series: [],
      yLabel: "edits",
      xPadSec: seconds,
    });
    this.#growth = new Chart(growth.body, {
      label: "New pages and byte delta per window, all wikis",
      series: [
        { label: "new pages", bars: true, color: 2, format: integer },
        { label: "byte delta", scale: "y2", color: 4, format: signed },
      ],
      yLabel: "new pages",
      y2Label: "bytes",
      xPadSec: seconds,
    });
    this.#share = h("div", { class: "share", id: "wiki-share-bar" });
    share.body.append(this.#share);
    this.#recent = table(
      "Edits, bots, humans, new pages and byte delta per window, newest first",
      [
        "window",
        num("edits"),
        num("bot edits"),
        num("human edits"),
        num("new pages"),
        num("byte delta"),
        "state",
      ],
      { id: "wiki-windows-table" },
    );
    recent.body.append(h("div", { class: "scroll" }, this.#recent.table));
    this.#top = table("No window yet", ["wiki", "page", num("edits")], { id: "wiki-top-table" });
    top.body.append(h("div", { class: "scroll" }, this.#top.table));
    this.render([], { window_ms: 0, window_start: null, window_end: null, pages: [] });
  }

  render(windows: readonly WikiWindow[], top: TopPages): void {
    const totals = windowTotals(windows);
    const starts = totals.map((t) => t.window_start);
    const x = starts.map((s) => s / 1000);
    const wikis = topWikis(windows, TOP_WIKIS);
    const at = new Map(windows.map((w) => [`${w.window_start}|${w.wiki}`, w.edits]));
    this.#edits.setData(
      [x, ...wikis.map((wiki) => starts.map((s) => at.get(`${s}|${wiki}`) ?? 0))],
      wikis.map((wiki, i) => ({ label: wiki, color: i, format: integer })),
    );
    this.#growth.setData([x, totals.map((t) => t.new_pages), totals.map((t) => t.byte_delta)]);
    this.#renderShare(totals.at(-1));
    this.#renderRecent(totals.slice(-RECENT_WINDOWS).reverse());
    this.#renderTop(top);
  }

  setAlerts(alerts: readonly Alert[]): void {
    this.#edits.setBands(alertBands(alerts, "wikimedia"));
  }

  #renderShare(latest: WindowTotals | undefined): void {
    const bots = latest?.bot_edits ?? 0;
    const humans = latest?.human_edits ?? 0;
    const all = bots + humans;
    if (all === 0) {
      replace(this.#share, h("p", { class: "muted" }, "No edits in the latest window yet."));
      return;
    }
    const botBar = h("span", { class: "bar c3" });
    botBar.style.width = `${(bots / all) * 100}%`;
    const humanBar = h("span", { class: "bar c0" });
    humanBar.style.width = `${(humans / all) * 100}%`;
    replace(
      this.#share,
      h("div", { class: "stack", "aria-hidden": "true" }, botBar, humanBar),
      h(
        "dl",
        { class: "legend-list" },
        h("dt", {}, h("span", { class: "swatch c3" }), "bots"),
        h(
          "dd",
          {},
          figure("span", bots, integer, { "data-metric": "bot_edits" }),
          ` (${percent(bots / all)})`,
        ),
        h("dt", {}, h("span", { class: "swatch c0" }), "humans"),
        h(
          "dd",
          {},
          figure("span", humans, integer, { "data-metric": "human_edits" }),
          ` (${percent(humans / all)})`,
        ),
      ),
    );
  }

  #renderRecent(rows: readonly WindowTotals[]): void {
    if (rows.length === 0) {
      replace(this.#recent.body, emptyRow(7, "No Wikimedia windows yet."));
      return;
    }
    replace(
      this.#recent.body,
      ...rows.map((t) =>
        h(
          "tr",
          { "data-window": String(t.window_start), "data-final": String(t.final) },
          h("th", { scope: "row" }, time(t.window_start)),
          figure("td", t.edits, integer, { "data-metric": "edits" }),
          figure("td", t.bot_edits, integer, { "data-metric": "bot_edits" }),
          figure("td", t.human_edits, integer, { "data-metric": "human_edits" }),
          figure("td", t.new_pages, integer, { "data-metric": "new_pages" }),
          figure("td", t.byte_delta, signed, { "data-metric": "byte_delta" }),
          h(
            "td",
            {},
            h("span", { class: t.final ? "badge final" : "badge filling" }, t.final ? "final" : "filling"),
          ),
        ),
      ),
    );
  }

  #renderTop(top: TopPages): void {
    replace(
      this.#top.caption,
      ...(top.window_start === null
        ? ["No window yet"]
        : ["Window ", time(top.window_start), " – ", time(top.window_end)]),
    );
    if (top.pages.length === 0) {
      replace(this.#top.body, emptyRow(3, "No edited pages yet."));
      return;
    }
    replace(
      this.#top.body,
      ...top.pages.map((p) =>
        h(
          "tr",
          {},
          h("td", {}, p.wiki),
          h("th", { scope: "row" }, p.title),
          figure("td", p.edits, integer, { "data-metric": "edits" }),
        ),
      ),
    );
  }
}
