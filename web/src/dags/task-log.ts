// The Batch page's task panel: the opened cell's run and task, its state and reason, a try selector, that try's log, and the Clear buttons.

import { ApiError, type DagRunInfo, getJson, type TaskInstanceInfo, type TaskLog } from "../api.ts";
import { h, replace } from "../dom.ts";
import { type CellKey, cellText, runLabel } from "./grid.ts";

export interface TaskPanelOptions {
  /** Clears the run (no task) or a task and those downstream of it. */
  onClear: (key: { runId: string; taskId?: string }) => void;
}

export class TaskPanel {
  readonly element: HTMLElement;
  readonly #title: HTMLElement;
  readonly #facts: HTMLElement;
  readonly #controls: HTMLElement;
  readonly #try: HTMLSelectElement;
  /** The try selector, shown when there is more than one try. */
  readonly #tryPicker: HTMLElement;
  readonly #log: HTMLPreElement;
  readonly #logStatus: HTMLElement;
  #dagId = "";
  #key: CellKey | undefined;
  /** The instance the log was read for; a poll reads it again when this changes (a new try, more lines). */
  #seen = "";
  /** A try the reader picked; undefined follows the latest. */
  #pickedTry: number | undefined;
  #generation = 0;

  constructor(options: TaskPanelOptions) {
    this.#title = h("h3", { id: "dags-task-title" }, "No task open");
    this.#facts = h("dl", { class: "kpis", id: "dags-task-facts" });
    this.#try = h("select", { id: "dags-try", name: "try" });
    this.#try.addEventListener("change", () => {
      this.#pickedTry = Number(this.#try.value);
      void this.#read(this.#pickedTry);
    });
    const clearTask = h("button", { type: "button", id: "dags-clear-task" }, "Clear this task");
    const clearRun = h("button", { type: "button", id: "dags-clear-run" }, "Clear the run");
    clearTask.addEventListener("click", () => {
      if (this.#key !== undefined) options.onClear({ ...this.#key });
    });
    clearRun.addEventListener("click", () => {
      if (this.#key !== undefined) options.onClear({ runId: this.#key.runId });
    });
    this.#tryPicker = h("span", { hidden: true }, h("label", { for: "dags-try" }, "try "), this.#try);
    this.#controls = h("div", { class: "controls", hidden: true }, this.#tryPicker, clearTask, clearRun);
    this.#logStatus = h("p", { class: "muted", id: "dags-log-status", role: "status" });
    this.#log = h("pre", {
      id: "dags-log",
      class: "log",
      tabindex: "0",
      "aria-labelledby": "dags-task-title",
    });
    this.element = h(
      "div",
      { id: "dags-task" },
      this.#title,
      h(
        "p",
        { class: "note" },
        "Open a cell of the grid to read its log. Clearing queues the task (and those after it) again.",
      ),
      this.#facts,
      this.#controls,
      this.#logStatus,
      this.#log,
    );
    this.#log.hidden = true;
  }

  /** Opens a cell: its facts now, then its log (the latest try). */
  open(dagId: string, key: CellKey, run: DagRunInfo | undefined): void {
    this.#dagId = dagId;
    this.#key = key;
    this.#seen = "";
    this.#pickedTry = undefined;
    this.update(run);
  }

  /** Closes the panel (another DAG was picked). */
  close(): void {
    this.#key = undefined;
    this.#generation++;
    replace(this.#title, "No task open");
    replace(this.#facts);
    replace(this.#logStatus);
    this.#controls.hidden = true;
    this.#log.hidden = true;
  }

  /** The open cell's run as polled: redraws the facts, and reads the log again when the instance changed. */
  update(run: DagRunInfo | undefined): void {
    const key = this.#key;
    if (key === undefined) return;
    const task = run?.tasks.find((t) => t.taskId === key.taskId);
    replace(this.#title, `${key.taskId} · ${run === undefined ? key.runId : runLabel(run)}`);
    this.#controls.hidden = run === undefined;
    if (run === undefined || task === undefined) {
      replace(this.#facts);
      replace(this.#logStatus, `The run ${key.runId} is not there any more.`);
      this.#log.hidden = true;
      return;
    }
    replace(this.#facts, ...facts(run, task));
    const seen = `${task.state}|${task.tryNumber}|${task.updatedAt}`;
    if (seen === this.#seen) return;
    this.#seen = seen;
    const tries = Array.from({ length: task.tryNumber }, (_, i) => task.tryNumber - i);
    const picked =
      this.#pickedTry !== undefined && tries.includes(this.#pickedTry) ? this.#pickedTry : undefined;
    this.#pickedTry = picked;
    replace(
      this.#try,
      ...tries.map((n) =>
        h("option", { value: String(n), selected: n === (picked ?? task.tryNumber) }, `try ${n}`),
      ),
    );
    this.#tryPicker.hidden = tries.length <= 1;
    if (task.tryNumber === 0) {
      replace(this.#logStatus, "No try yet: the task has not started, so it has no log.");
      this.#log.hidden = true;
      return;
    }
    // A running try's log grows: read it again on each poll while the instance moves.
    void this.#read(picked);
  }

  async #read(tryNumber: number | undefined): Promise<void> {
    const key = this.#key;
    if (key === undefined) return;
    const mine = ++this.#generation;
    const path =
      `/api/dags/${encodeURIComponent(this.#dagId)}/runs/${encodeURIComponent(key.runId)}` +
      `/logs/${encodeURIComponent(key.taskId)}${tryNumber === undefined ? "" : `?try=${tryNumber}`}`;
    try {
      const log = await getJson<TaskLog>(path);
      if (mine !== this.#generation) return;
      replace(this.#logStatus, `The log of try ${log.tryNumber}.`);
      this.#log.dataset.try = String(log.tryNumber);
      this.#log.textContent = log.text === "" ? "(empty)" : log.text;
      this.#log.hidden = false;
    } catch (error) {
      if (mine !== this.#generation) return;
      if (!(error instanceof ApiError)) throw error;
      replace(this.#logStatus, h("span", { class: "error", role: "alert" }, error.message));
      this.#log.hidden = true;
    }
  }
}

function facts(run: DagRunInfo, task: TaskInstanceInfo): HTMLElement[] {
  const pairs: Array<[string, string]> = [
    ["run", `${run.runId} (${run.state})`],
    ["interval", `${run.dataIntervalStart} → ${run.dataIntervalEnd}`],
    ["state", cellText(task)],
    ["updated", task.updatedAt],
  ];
  if (task.reason !== null) pairs.push(["reason", task.reason]);
  return pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", { "data-fact": name }, value)]);
}
