// The Pipeline page's dead-letter browser: the newest records of a `<topic>.dlq` with reason code, offset, source and the decoded payload.

import { type DeadLetterEntry, getJson, query } from "../api.ts";
import { emptyRow, h, integer, panel, replace, table, time, num } from "../dom.ts";

const LIMITS = [20, 50, 200];

export class DeadLettersPanel {
  readonly #topic: HTMLSelectElement;
  readonly #limit: HTMLSelectElement;
  readonly #status: HTMLElement;
  readonly #table: ReturnType<typeof table>;
  #topics: string[] = [];

  constructor(grid: HTMLElement) {
    const section = panel("dead-letters", "Dead letters", {
      wide: true,
      note: "Events that failed to decode or validate, with the reason. Newest first over every partition.",
    });
    grid.append(section.section);
    this.#topic = h("select", { id: "dlq-topic", name: "topic" });
    this.#limit = h(
      "select",
      { id: "dlq-limit", name: "limit" },
      ...LIMITS.map((n) => h("option", { value: String(n), selected: n === 50 }, String(n))),
    );
    const refresh = h("button", { type: "button", id: "dlq-refresh" }, "Refresh");
    this.#status = h("p", { class: "muted", id: "dlq-status", role: "status" });
    this.#table = table("Dead letters", ["time", num("partition:offset"), "reason", "source", "payload"], {
      id: "dlq-table",
    });
    section.body.append(
      h(
        "div",
        { class: "controls" },
        h("label", { for: "dlq-topic" }, "topic "),
        this.#topic,
        h("label", { for: "dlq-limit" }, "newest "),
        this.#limit,
        refresh,
      ),
      this.#status,
      h("div", { class: "scroll" }, this.#table.table),
    );
    const reload = () => void this.load();
    this.#topic.addEventListener("change", reload);
    this.#limit.addEventListener("change", reload);
    refresh.addEventListener("click", reload);
  }

  /** Offers the dead-letter topics among `topics`, keeping the selection (or taking `preferred`). */
  setTopics(topics: readonly string[], preferred?: string): void {
    const dlq = topics.filter((t) => t.endsWith(".dlq"));
    if (dlq.join("\n") === this.#topics.join("\n") && preferred === undefined) return;
    const selected =
      preferred !== undefined && dlq.includes(preferred) ? preferred : this.#topic.value || dlq[0];
    this.#topics = dlq;
    replace(this.#topic, ...dlq.map((t) => h("option", { value: t, selected: t === selected }, t)));
  }

  async load(): Promise<void> {
    const topic = this.#topic.value;
    if (topic === "") {
      replace(this.#status, "No dead-letter topic yet.");
      replace(this.#table.body, emptyRow(5, "Nothing to show."));
      return;
    }
    replace(this.#status, `Reading ${topic}…`);
    try {
      const answer = await getJson<{
        letters: DeadLetterEntry[];
        partitions: Array<{ partition: number; low: number; high: number }>;
      }>(`/api/ops/dead-letters${query({ topic, limit: this.#limit.value })}`);
      const total = answer.partitions.reduce((sum, p) => sum + p.high - p.low, 0);
      replace(this.#status, `${integer(answer.letters.length)} of ${integer(total)} records on ${topic}.`);
      replace(
        this.#table.body,
        ...(answer.letters.length === 0
          ? [emptyRow(5, "No dead letters: every event so far was valid.")]
          : answer.letters.map(row)),
      );
    } catch (error) {
      replace(this.#status, h("span", { class: "error", role: "alert" }, (error as Error).message));
    }
  }
}

function row(letter: DeadLetterEntry): HTMLTableRowElement {
  const source =
    letter.source_topic === null
      ? "–"
      : letter.source_partition === null
        ? `${letter.source_topic} (rejected at ingest)`
        : `${letter.source_topic} p${letter.source_partition}:${letter.source_offset}`;
  const payload = letter.payload;
  const text =
    typeof payload.value === "string" && payload.format !== "json"
      ? payload.value
      : JSON.stringify(payload.value, null, 2);
  return h(
    "tr",
    {
      "data-partition": String(letter.partition),
      "data-offset": String(letter.offset),
      "data-code": letter.error_code ?? "",
    },
    h("td", {}, time(letter.failed_at ?? letter.timestamp_ms)),
    h("td", { class: "num" }, `${letter.partition}:${letter.offset}`),
    h(
      "td",
      {},
      h("code", { class: "reason" }, letter.error_code ?? "not a dead letter"),
      h("div", { class: "message" }, letter.error_message),
    ),
    h("td", {}, source),
    h(
      "td",
      {},
      h(
        "details",
        {},
        h(
          "summary",
          {},
          `${payload.format}${payload.schema_id === undefined ? "" : ` (schema ${payload.schema_id})`}, ${integer(letter.raw_bytes)} bytes${payload.truncated ? ", cut" : ""}`,
        ),
        h("pre", { class: "payload", tabindex: "0" }, text ?? ""),
      ),
    ),
  );
}
