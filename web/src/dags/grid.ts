// The Batch page's grid: one row per run (newest first), one column per task, each cell a button coloured and labelled by its state; arrow keys move between cells.

import type { DagInfo, DagRunInfo, TaskInstanceInfo, TaskState } from "../api.ts";
import { h, replace } from "../dom.ts";

/** The newest runs the grid shows. */
export const GRID_RUNS = 25;

/** Each state's short label in a cell and its words in the legend and titles; the colour only repeats them. */
export const STATES: ReadonlyArray<readonly [TaskState, string, string]> = [
  ["success", "ok", "success"],
  ["failed", "failed", "failed"],
  ["running", "running", "running"],
  ["queued", "queued", "queued"],
  ["up_for_retry", "retry", "up for retry"],
  ["upstream_failed", "upstream", "upstream failed"],
  ["skipped", "skipped", "skipped"],
];
const WORDS = new Map(STATES.map(([state, short, words]) => [state, { short, words }]));

/** A run's logical date as the grid names it: the UTC day, and the time when it is not midnight. */
export function runLabel(run: Pick<DagRunInfo, "logicalDate">): string {
  const iso = run.logicalDate;
  const time = iso.slice(11, 16);
  return time === "00:00" ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${time}`;
}

/** What a cell says: its state in words, and the try when it is not the first. */
export function cellText(task: TaskInstanceInfo): string {
  const words = WORDS.get(task.state)?.words ?? task.state;
  return task.tryNumber > 1 ? `${words}, try ${task.tryNumber}` : words;
}

export interface CellKey {
  runId: string;
  taskId: string;
}

export class RunGrid {
  readonly element: HTMLElement;
  readonly #table: HTMLTableElement;
  readonly #status: HTMLElement;
  readonly #onOpen: (key: CellKey) => void;
  /** What the grid shows now, so an unchanged poll redraws nothing. */
  #drawn = "";
  /** The cell that takes Tab (roving tabindex): the last one focused or opened. */
  #active: CellKey | undefined;
  #selected: CellKey | undefined;

  constructor(onOpen: (key: CellKey) => void) {
    this.#onOpen = onOpen;
    this.#table = h("table", { id: "dags-grid", class: "dag-grid", "aria-describedby": "dags-grid-help" });
    this.#status = h("p", { class: "muted", id: "dags-grid-status", role: "status" });
    this.element = h(
      "div",
      {},
      legend(),
      h(
        "p",
        { class: "note", id: "dags-grid-help" },
        "Newest run first. Arrow keys move between cells; Enter opens a task's log.",
      ),
      this.#status,
      h("div", { class: "scroll" }, this.#table),
    );
    this.#table.addEventListener("keydown", (event) => this.#move(event));
    this.#table.addEventListener("click", (event) => {
      const cell = (event.target as Element).closest<HTMLButtonElement>("button.cell");
      if (cell !== null) this.#open(keyOf(cell));
    });
    this.#table.addEventListener("focusin", (event) => {
      const cell = (event.target as Element).closest<HTMLButtonElement>("button.cell");
      if (cell !== null) this.#setActive(keyOf(cell));
    });
  }

  /** Marks the cell whose log is open. */
  select(key: CellKey | undefined): void {
    this.#selected = key;
    for (const cell of this.#cells())
      cell.setAttribute("aria-pressed", String(key !== undefined && sameKey(keyOf(cell), key)));
    if (key !== undefined) this.#setActive(key);
  }

  /** Draws `runs` of `dag` unless they are what is drawn; keeps the focused cell focused. */
  render(dag: DagInfo, runs: readonly DagRunInfo[]): void {
    const shown = newestFirst(runs).slice(0, GRID_RUNS);
    const drawn = JSON.stringify([dag.id, shown]);
    if (drawn === this.#drawn) return;
    this.#drawn = drawn;
    const focused = this.#table.contains(document.activeElement)
      ? keyOf(document.activeElement as HTMLElement)
      : undefined;
    replace(
      this.#status,
      runs.length === 0
        ? `No runs of ${dag.id} yet.`
        : runs.length > GRID_RUNS
          ? `The newest ${GRID_RUNS} of ${runs.length} runs.`
          : runs.length === 1
            ? "1 run."
            : `${runs.length} runs.`,
    );
    replace(
      this.#table,
      h("caption", {}, `Runs of ${dag.id} by task`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "run"),
          ...dag.tasks.map((task) => h("th", { scope: "col" }, task.id)),
        ),
      ),
      h("tbody", {}, ...shown.map((run) => row(dag, run))),
    );
    const cells = this.#cells();
    const keep = [focused, this.#active].find(
      (key) => key !== undefined && cells.some((cell) => sameKey(keyOf(cell), key)),
    );
    this.#active = keep ?? (cells[0] === undefined ? undefined : keyOf(cells[0]));
    this.select(this.#selected);
    this.#setActive(this.#active);
    if (focused !== undefined && keep !== undefined) this.#cell(keep)?.focus();
  }

  #open(key: CellKey): void {
    this.select(key);
    this.#onOpen(key);
  }

  #setActive(key: CellKey | undefined): void {
    this.#active = key;
    for (const cell of this.#cells()) cell.tabIndex = key !== undefined && sameKey(keyOf(cell), key) ? 0 : -1;
  }

  /** Arrow keys, Home and End move the focus between cells (the grid is one Tab stop). */
  #move(event: KeyboardEvent): void {
    const cell = (event.target as Element).closest<HTMLButtonElement>("button.cell");
    const td = cell?.parentElement as HTMLTableCellElement | null | undefined;
    const tr = td?.parentElement as HTMLTableRowElement | null | undefined;
    if (cell === null || cell === undefined || td == null || tr == null) return;
    const rows = [...(tr.parentElement as HTMLTableSectionElement).rows];
    let r = rows.indexOf(tr);
    let c = td.cellIndex;
    const last = tr.cells.length - 1;
    if (event.key === "ArrowUp") r--;
    else if (event.key === "ArrowDown") r++;
    else if (event.key === "ArrowLeft") c--;
    else if (event.key === "ArrowRight") c++;
    else if (event.key === "Home") c = 1;
    else if (event.key === "End") c = last;
    else return;
    event.preventDefault();
    const target =
      rows[r]?.cells[Math.min(Math.max(c, 1), last)]?.querySelector<HTMLButtonElement>("button.cell");
    if (target == null) return;
    this.#setActive(keyOf(target));
    target.focus();
  }

  #cells(): HTMLButtonElement[] {
    return [...this.#table.querySelectorAll<HTMLButtonElement>("button.cell")];
  }

  #cell(key: CellKey): HTMLButtonElement | undefined {
    return this.#cells().find((cell) => sameKey(keyOf(cell), key));
  }
}

/** Runs by logical date, newest first; a later-made run first among runs of one date. */
export function newestFirst(runs: readonly DagRunInfo[]): DagRunInfo[] {
  return [...runs].sort(
    (a, b) => b.logicalDate.localeCompare(a.logicalDate) || b.createdAt.localeCompare(a.createdAt),
  );
}

function row(dag: DagInfo, run: DagRunInfo): HTMLTableRowElement {
  const tasks = new Map(run.tasks.map((t) => [t.taskId, t]));
  return h(
    "tr",
    { "data-run": run.runId, "data-state": run.state },
    h(
      "th",
      { scope: "row", title: run.runId },
      h("span", { class: "run-date" }, runLabel(run)),
      h("span", { class: "badge" }, run.runType),
      h("span", { class: `badge run-state s-${run.state}` }, run.state),
    ),
    ...dag.tasks.map((spec) => {
      const task = tasks.get(spec.id);
      if (task === undefined) return h("td", { class: "muted" }, "–");
      const text = cellText(task);
      const label = `${spec.id}, run ${runLabel(run)}: ${text}`;
      return h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: `cell s-${task.state}`,
            "data-run": run.runId,
            "data-task": spec.id,
            "data-state": task.state,
            "data-try": String(task.tryNumber),
            "aria-label": label,
            title: task.reason === null ? label : `${label} (${task.reason})`,
            tabindex: "-1",
          },
          WORDS.get(task.state)?.short ?? task.state,
          task.tryNumber > 1 ? h("span", { class: "try" }, ` ×${task.tryNumber}`) : null,
        ),
      );
    }),
  );
}

function legend(): HTMLElement {
  return h(
    "ul",
    { class: "state-legend", "aria-label": "Task states" },
    ...STATES.map(([state, short, words]) =>
      h(
        "li",
        {},
        h("span", { class: `cell s-${state}`, "aria-hidden": "true" }, short),
        words === short ? null : ` ${words}`,
      ),
    ),
  );
}

function keyOf(cell: HTMLElement): CellKey {
  return { runId: cell.dataset.run ?? "", taskId: cell.dataset.task ?? "" };
}

function sameKey(a: CellKey, b: CellKey): boolean {
  return a.runId === b.runId && a.taskId === b.taskId;
}
