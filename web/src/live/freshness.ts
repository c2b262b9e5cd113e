// The Live page's freshness panel: the watermark and its lag behind now, per source too, and the late, duplicate and dead-lettered counts.

import type { StreamProgress, TopicReport } from "../api.ts";
import { duration, emptyRow, figure, h, integer, panel, replace, table, time, num } from "../dom.ts";

export class FreshnessPanel {
  readonly #summary: HTMLElement;
  readonly #sources: ReturnType<typeof table>;
  readonly #counts: HTMLElement;
  readonly #dlq: ReturnType<typeof table>;
  #progress: StreamProgress | undefined;

  constructor(grid: HTMLElement) {
    const fresh = panel("freshness", "Freshness", {
      note: "The watermark is the newest event time seen minus the allowed out-of-orderness; windows before it are complete.",
    });
    const counts = panel("counts", "Late, duplicate and dead-lettered events");
    grid.append(fresh.section, counts.section);
    this.#summary = h("dl", { class: "kpis", id: "freshness-summary" });
    this.#sources = table(
      "Per source topic",
      ["topic", "watermark", num("behind now"), num("unread records")],
      { id: "freshness-sources" },
    );
    fresh.body.append(this.#summary, h("div", { class: "scroll" }, this.#sources.table));
    this.#counts = h("dl", { class: "kpis", id: "stream-counts" });
    this.#dlq = table(
      "Records in the dead-letter topics (rejected at ingest or by the stream job)",
      ["topic", num("records")],
      {
        id: "dlq-counts",
      },
    );
    counts.body.append(this.#counts, h("div", { class: "scroll" }, this.#dlq.table));
    this.render(undefined);
    this.renderDeadLetterTopics([]);
  }

  /** Shows a batch's progress; an older batch than the one shown (a slow first read) is ignored. */
  render(progress: StreamProgress | undefined): void {
    if (progress !== undefined && this.#progress !== undefined && progress.batchId < this.#progress.batchId)
      return;
    this.#progress = progress;
    const totals = progress?.totals;
    const kpi = (label: string, metric: string, value: number | null, title?: string) => [
      h("dt", { title }, label),
      h("dd", {}, figure("span", value, integer, { "data-metric": metric })),
    ];
    replace(
      this.#counts,
      ...kpi("read by the stream job", "input", totals?.input ?? null),
      ...kpi("counted in windows", "accepted", totals?.accepted ?? null),
      ...kpi("late (after their windows closed)", "late", totals?.late ?? null),
      ...kpi(
        "partly late",
        "partiallyLate",
        totals?.partiallyLate ?? null,
        "counted in some of their windows, late for others",
      ),
      ...kpi("duplicates dropped", "duplicates", totals?.duplicates ?? null),
      ...kpi("dead-lettered by the stream job", "deadLettered", totals?.deadLettered ?? null),
    );
    const sources = progress?.sources ?? [];
    replace(
      this.#sources.body,
      ...(sources.length === 0
        ? [emptyRow(4, "No batch yet.")]
        : sources.map((s) =>
            h(
              "tr",
              { "data-topic": s.topic },
              h("th", { scope: "row" }, s.topic),
              h("td", { "data-metric": "watermark" }, time(s.watermarkMs)),
              h(
                "td",
                { class: "num", "data-behind": s.watermarkMs === null ? "" : String(s.watermarkMs) },
                "–",
              ),
              figure("td", s.lag, integer, { "data-metric": "lag" }),
            ),
          )),
    );
    this.tick();
  }

  /** Moves the "behind now" figures on with the clock (called every second). */
  tick(): void {
    const now = Date.now();
    const watermark = this.#progress?.eventTime.watermarkMs ?? null;
    const batch = this.#progress;
    replace(
      this.#summary,
      h("dt", {}, "watermark"),
      h("dd", { "data-metric": "watermark" }, time(watermark)),
      h("dt", {}, "behind now"),
      h("dd", { "data-metric": "watermark_lag" }, watermark === null ? "–" : duration(now - watermark)),
      h("dt", {}, "last batch"),
      batch === undefined
        ? h("dd", {}, "–")
        : h(
            "dd",
            {},
            `#${batch.batchId} at `,
            time(batch.timestampMs),
            `: ${integer(batch.numInputRows)} records in ${duration(batch.batchDurationMs)}`,
          ),
    );
    for (const cell of this.#sources.body.querySelectorAll<HTMLElement>("[data-behind]")) {
      const at = cell.dataset.behind;
      cell.textContent = at === undefined || at === "" ? "–" : duration(now - Number(at));
    }
  }

  renderDeadLetterTopics(topics: readonly TopicReport[]): void {
    const dlq = topics.filter((t) => t.name.endsWith(".dlq"));
    replace(
      this.#dlq.body,
      ...(dlq.length === 0
        ? [emptyRow(2, "No dead-letter topic yet.")]
        : dlq.map((t) =>
            h(
              "tr",
              { "data-topic": t.name },
              h(
                "th",
                { scope: "row" },
                h("a", { href: `/ops#dead-letters?topic=${encodeURIComponent(t.name)}` }, t.name),
              ),
              figure("td", t.messages, integer, { "data-metric": "messages" }),
            ),
          )),
    );
  }
}
