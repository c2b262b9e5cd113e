// The Batch page's model results: the latest `pulse models` command's nodes and data tests from run_results.json, failures first.

import { ApiError, getJson, type ModelResults } from "../api.ts";
import { emptyRow, h, integer, num, replace, table } from "../dom.ts";

/** Statuses in the order a reader wants them: what needs a look first. */
const ORDER = ["error", "fail", "warn", "skipped", "pass", "success"];

export class ModelResultsPanel {
  readonly element: HTMLElement;
  readonly #summary: HTMLElement;
  readonly #table: ReturnType<typeof table>;
  #drawn = "";

  constructor() {
    this.#summary = h("p", { class: "muted", id: "models-summary", role: "status" }, "Reading…");
    this.#table = table("Model and test results", ["node", "status", num("failures"), num("seconds")], {
      id: "models-table",
      class: "report",
    });
    this.element = h("div", {}, this.#summary, h("div", { class: "scroll" }, this.#table.table));
  }

  async load(): Promise<void> {
    let run: ModelResults | null;
    try {
      run = (await getJson<{ run: ModelResults | null }>("/api/dags/models")).run;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      replace(this.#summary, h("span", { class: "error" }, `Not read: ${error.message}`));
      return;
    }
    const drawn = JSON.stringify(run);
    if (drawn === this.#drawn) return;
    this.#drawn = drawn;
    if (run === null) {
      replace(
        this.#summary,
        "No model run yet: the DAGs' models tasks (or pulse models) write run_results.json.",
      );
      replace(this.#table.body, emptyRow(4, "Nothing yet."));
      return;
    }
    const c = run.counts;
    this.#summary.dataset.counts = JSON.stringify(c);
    replace(
      this.#summary,
      `pulse models ${run.command ?? "?"} at ${run.generatedAt.replace("T", " ").slice(0, 19)} UTC, ` +
        `${run.elapsedTime.toFixed(1)} s: pass ${integer(c.pass)}, warn ${integer(c.warn)}, fail ${integer(c.fail)}, ` +
        `error ${integer(c.error)}, skipped ${integer(c.skipped)}.`,
    );
    const rank = (status: string) => (ORDER.indexOf(status) + ORDER.length + 1) % (ORDER.length + 1);
    const rows = [...run.results].sort(
      (a, b) => rank(a.status) - rank(b.status) || a.uniqueId.localeCompare(b.uniqueId),
    );
    replace(
      this.#table.body,
      ...rows.map((r) =>
        h(
          "tr",
          { "data-node": r.uniqueId, "data-status": r.status, title: r.message ?? undefined },
          h("th", { scope: "row" }, r.uniqueId),
          h("td", {}, h("span", { class: `badge model-${r.status}` }, r.status)),
          h("td", { class: "num" }, r.failures === null ? "–" : integer(r.failures)),
          h("td", { class: "num" }, r.executionTime.toFixed(2)),
        ),
      ),
    );
  }
}
