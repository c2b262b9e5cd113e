// The Pipeline page's log panels: topics with partitions, offsets and produce rates (Kafka UI's topic list), and consumer groups with their lag.

import type { GroupReport, TopicReport } from "../api.ts";
import { decimal, emptyRow, figure, h, integer, panel, replace, table, num } from "../dom.ts";

export class TopicsPanels {
  readonly #topics: ReturnType<typeof table>;
  readonly #groups: ReturnType<typeof table>;

  constructor(grid: HTMLElement) {
    const topics = panel("topics", "Topics", {
      wide: true,
      note: "End offset: records ever appended (Σ high watermarks). Records: those still kept after retention.",
    });
    const groups = panel("groups", "Consumer groups", {
      wide: true,
      note: "Lag: records after the group's committed offset. The stream job commits its offsets to the log for this view.",
    });
    grid.append(topics.section, groups.section);
    this.#topics = table(
      "Every topic of the log",
      [
        "topic",
        num("partitions"),
        num("records"),
        num("end offset"),
        num("records/s"),
        "partitions: low – high",
      ],
      {
        id: "topics-table",
      },
    );
    topics.body.append(h("div", { class: "scroll" }, this.#topics.table));
    this.#groups = table(
      "Lag per group and topic",
      ["group", "topic", num("lag"), "partitions: committed / high (lag)"],
      {
        id: "groups-table",
      },
    );
    groups.body.append(h("div", { class: "scroll" }, this.#groups.table));
  }

  renderTopics(topics: readonly TopicReport[]): void {
    if (topics.length === 0) {
      replace(this.#topics.body, emptyRow(6, "No topics yet."));
      return;
    }
    replace(
      this.#topics.body,
      ...topics.map((t) =>
        h(
          "tr",
          { "data-topic": t.name },
          h("th", { scope: "row" }, t.name),
          figure("td", t.partitions, integer, { "data-metric": "partitions" }),
          figure("td", t.messages, integer, { "data-metric": "messages" }),
          figure("td", t.end_offset, integer, { "data-metric": "end_offset" }),
          figure("td", t.rate_per_sec, decimal, { "data-metric": "rate" }),
          h(
            "td",
            {
              class: "offsets",
              "data-metric": "high_watermarks",
              "data-value": t.offsets.map((p) => p.high).join(","),
            },
            t.offsets.map((p) => `p${p.partition}: ${integer(p.low)} – ${integer(p.high)}`).join(" · "),
          ),
        ),
      ),
    );
  }

  renderGroups(groups: readonly GroupReport[]): void {
    if (groups.length === 0) {
      replace(this.#groups.body, emptyRow(4, "No group has committed offsets yet."));
      return;
    }
    replace(
      this.#groups.body,
      ...groups.map((g) =>
        h(
          "tr",
          { "data-group": g.group, "data-topic": g.topic },
          h("th", { scope: "row" }, g.group),
          h("td", {}, g.topic),
          figure("td", g.total_lag, integer, { "data-metric": "lag" }),
          h(
            "td",
            { class: "offsets" },
            g.partitions
              .map(
                (p) =>
                  `p${p.partition}: ${p.committed === null ? "–" : integer(p.committed)} / ${integer(p.high)} (${integer(p.lag)})`,
              )
              .join(" · "),
          ),
        ),
      ),
    );
  }
}
