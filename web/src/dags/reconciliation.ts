// The Batch page's reconciliation table: pulse_audit.reconciliation's records by day and event type, an unexplained difference marked.

import { ApiError, getJson, type ReconciliationRecord } from "../api.ts";
import { emptyRow, figure, h, integer, num, replace, table } from "../dom.ts";

const FIGURES = [
  ["batch_count", "batch"],
  ["speed_count", "speed"],
  ["late_count", "late"],
  ["late_copies", "late copies"],
  ["late_pending", "not loaded"],
  ["unexplained", "unexplained"],
] as const;
const COLUMNS = 2 + FIGURES.length;

export class ReconciliationPanel {
  readonly element: HTMLElement;
  readonly #date: HTMLInputElement;
  readonly #status: HTMLElement;
  readonly #table: ReturnType<typeof table>;
  #drawn = "";
  #generation = 0;

  constructor() {
    this.#date = h("input", { id: "reconciliation-date", name: "date", type: "date" });
    this.#date.addEventListener("change", () => void this.load());
    this.#status = h("p", { class: "muted", id: "reconciliation-status", role: "status" }, "Reading…");
    this.#table = table(
      "Reconciliation records",
      ["day", "event type", ...FIGURES.map(([, label]) => num(label))],
      { id: "reconciliation-table", class: "report" },
    );
    this.element = h(
      "div",
      {},
      h(
        "div",
        { class: "controls" },
        h("label", { for: "reconciliation-date" }, "day (empty: every day)"),
        this.#date,
      ),
      this.#status,
      h("div", { class: "scroll" }, this.#table.table),
    );
  }

  /** Reads the records (of the chosen day) and redraws the table when they changed; false when not read. */
  async load(): Promise<boolean> {
    const mine = ++this.#generation;
    const date = this.#date.value;
    try {
      const answer = await getJson<{ records: ReconciliationRecord[] }>(
        `/api/dags/reconciliation${date === "" ? "" : `?date=${date}`}`,
      );
      if (mine !== this.#generation) return false;
      const off = answer.records.filter((r) => r.unexplained !== 0).length;
      replace(
        this.#status,
        `${integer(answer.records.length)} record${answer.records.length === 1 ? "" : "s"}` +
          (off === 0 ? "." : `; ${off} with an unexplained difference.`),
      );
      delete this.#status.dataset.code;
      this.#render(answer.records);
      return true;
    } catch (error) {
      if (mine !== this.#generation) return false;
      if (!(error instanceof ApiError)) throw error;
      // The rows shown stay: a read can fail for a moment while a task writes the warehouse.
      this.#status.dataset.code = error.code;
      replace(this.#status, h("span", { class: "error" }, `Not read: ${error.message}`));
      return false;
    }
  }

  #render(records: readonly ReconciliationRecord[]): void {
    const drawn = JSON.stringify(records);
    if (drawn === this.#drawn) return;
    this.#drawn = drawn;
    if (records.length === 0) {
      replace(
        this.#table.body,
        emptyRow(COLUMNS, "No records: the daily_metrics DAG's reconcile task writes them."),
      );
      return;
    }
    replace(
      this.#table.body,
      ...records.map((record) =>
        h(
          "tr",
          {
            "data-key": `${record.activity_date}|${record.event_type}`,
            class: record.unexplained === 0 ? undefined : "unexplained",
            title:
              record.run_id === null ? undefined : `written by ${record.run_id} at ${record.reconciled_at}`,
          },
          h("th", { scope: "row", "data-metric": "activity_date" }, record.activity_date),
          h("td", { "data-metric": "event_type" }, record.event_type),
          ...FIGURES.map(([key]) =>
            figure("td", record[key], integer, {
              "data-metric": key,
              "aria-description":
                key === "unexplained" && record.unexplained !== 0 ? "unexplained difference" : undefined,
            }),
          ),
        ),
      ),
    );
  }
}
