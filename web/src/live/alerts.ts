// The Live page's alerts panel: the anomaly detector's newest spikes and drops, each naming its series and window.

import type { Alert } from "../api.ts";
import { decimal, emptyRow, figure, h, panel, replace, table, time, num } from "../dom.ts";

const SHOWN = 20;

export class AlertsPanel {
  readonly #table: ReturnType<typeof table>;

  constructor(grid: HTMLElement) {
    const alerts = panel("alerts", "Alerts", {
      wide: true,
      note: "A window whose count is far from its series' baseline (a z-score). Also shaded on the charts.",
    });
    grid.append(alerts.section);
    this.#table = table(
      `The ${SHOWN} newest, newest window first`,
      ["window", "series", "kind", num("observed"), num("expected"), num("z-score")],
      {
        id: "alerts-table",
      },
    );
    alerts.body.append(h("div", { class: "scroll" }, this.#table.table));
    this.render([]);
  }

  render(alerts: readonly Alert[]): void {
    if (alerts.length === 0) {
      replace(this.#table.body, emptyRow(6, "No alerts."));
      return;
    }
    replace(
      this.#table.body,
      ...alerts
        .slice(0, SHOWN)
        .map((a) =>
          h(
            "tr",
            { class: `alert-${a.kind}`, "data-series": a.series, "data-window": String(a.window_start) },
            h("td", {}, time(a.window_start), " – ", time(a.window_end)),
            h("th", { scope: "row" }, a.series),
            h("td", {}, h("span", { class: `badge ${a.kind}` }, a.kind)),
            figure("td", a.observed, decimal, { "data-metric": "observed" }),
            figure("td", a.expected, decimal, { "data-metric": "expected" }),
            figure("td", a.score, decimal, { "data-metric": "score" }),
          ),
        ),
    );
  }
}
