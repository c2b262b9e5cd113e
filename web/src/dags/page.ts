// The Batch page (/dags): the orchestrator's DAGs, a grid of runs by task coloured by state, task logs, trigger/clear/backfill behind the admin token, and the reconciliation records.

import { ApiError, type DagInfo, type DagRunInfo, getJson } from "../api.ts";
import { emptyRow, h, panel, replace, table } from "../dom.ts";
import { coalesced } from "../events.ts";
import { AdminPanel } from "./admin.ts";
import { type CellKey, newestFirst, RunGrid, runLabel, STATES } from "./grid.ts";
import { ModelResultsPanel } from "./models.ts";
import { ReconciliationPanel } from "./reconciliation.ts";
import { TaskPanel } from "./task-log.ts";

/** Runs change as the scheduler works: they are polled (and read again after each write). */
const POLL_MS = 3_000;

/** The DAG in the page's address (?dag=), so a link or a reload opens the same one. */
function dagFromLocation(): string | null {
  return new URLSearchParams(location.search).get("dag");
}

export async function mount(main: HTMLElement): Promise<() => void> {
  const status = document.getElementById("connection");
  const showStatus = (state: "live" | "reconnecting", text: string): void => {
    if (status === null) return;
    status.dataset.state = state;
    status.textContent = text;
  };
  const { dags } = await getJson<{ dags: DagInfo[] }>("/api/dags").catch((error: unknown) => {
    // A server without the orchestrator answers 404: say so rather than fail the page.
    if (error instanceof ApiError && error.status === 404) return { dags: [] };
    throw error;
  });
  showStatus("live", `refreshed every ${POLL_MS / 1000} s`);
  const runsByDag = new Map<string, DagRunInfo[]>();
  let current: DagInfo | undefined = dags.find((d) => d.id === dagFromLocation()) ?? dags[0];
  let opened: CellKey | undefined;

  const list = panel("dags-list", "DAGs", {
    wide: true,
    note: "The orchestrator's DAGs and their latest run. Pick one to see its runs.",
  });
  const listTable = table("DAGs", ["DAG", "schedule", "latest run", "description"], {
    id: "dags-table",
  });
  list.body.append(h("div", { class: "scroll" }, listTable.table));

  const detail = panel("dag", "Runs", { wide: true });
  const about = h("dl", { class: "kpis", id: "dag-about" });
  const grid = new RunGrid((key) => {
    opened = key;
    tasks.open(current!.id, key, runOf(key.runId));
  });
  const tasks = new TaskPanel({
    onClear: ({ runId, taskId }) => void admin.clear(current!.id, runId, taskId),
  });
  const admin = new AdminPanel({ dagId: () => current!.id, onDone: () => poll.request() });
  detail.body.append(about, grid.element, tasks.element);

  const actions = panel("dags-actions", "Trigger, backfill, clear", {
    wide: true,
    note: "Trigger queues a run of the chosen DAG (for the interval holding the date, or the latest one); backfill queues one per interval of [from, to); clear is in the task panel above.",
  });
  actions.body.append(admin.element);
  const reconciliation = new ReconciliationPanel();
  const recon = panel("reconciliation", "Reconciliation", {
    wide: true,
    note: "pulse_audit.reconciliation: per day and event type, the batch count against the speed layer's count and its late events; unexplained must be 0.",
  });
  recon.body.append(reconciliation.element);
  const modelResults = new ModelResultsPanel();
  const models = panel("models", "Models and data tests", {
    wide: true,
    note: "The latest pulse models command (a DAG's models_build or models_test): each model and test with its status and failing rows.",
  });
  models.body.append(modelResults.element);

  const layout = h(
    "div",
    { class: "grid" },
    list.section,
    detail.section,
    actions.section,
    recon.section,
    models.section,
  );
  replace(
    main,
    h("h1", {}, "Batch"),
    h(
      "p",
      { class: "lede" },
      "The batch layer's DAGs as the scheduler runs them: every run, every task's try and log.",
    ),
    layout,
  );
  if (dags.length === 0) {
    replace(
      listTable.body,
      emptyRow(4, "This server does not serve /api/dags: start pulse up or pulse serve."),
    );
    detail.section.hidden = true;
    actions.section.hidden = true;
    recon.section.hidden = true;
    models.section.hidden = true;
  }

  const runOf = (runId: string): DagRunInfo | undefined =>
    runsByDag.get(current?.id ?? "")?.find((r) => r.runId === runId);

  const pick = (dag: DagInfo): void => {
    if (dag === current) return;
    current = dag;
    opened = undefined;
    tasks.close();
    grid.select(undefined);
    const search = new URLSearchParams(location.search);
    search.set("dag", dag.id);
    history.replaceState(null, "", `${location.pathname}?${search}`);
    draw();
  };

  let listDrawn = "";
  const draw = (): void => {
    const latest = dags.map((dag) => newestFirst(runsByDag.get(dag.id) ?? [])[0]);
    const listNow = JSON.stringify([current?.id, latest.map((run) => [run?.state, run?.logicalDate])]);
    if (listNow !== listDrawn) {
      listDrawn = listNow;
      renderList(listTable.body, dags, latest, current, pick);
    }
    if (current === undefined) return;
    if (detail.section.dataset.dag !== current.id) {
      detail.section.dataset.dag = current.id;
      replace(detail.section.querySelector("h2")!, `Runs of ${current.id}`);
      replace(about, ...aboutDag(current));
    }
    grid.render(current, runsByDag.get(current.id) ?? []);
    if (opened !== undefined) tasks.update(runOf(opened.runId));
  };

  /**
   * A change in any run means a task may have written reconciliation records: read them again then, but
   * not while a task runs. Each read opens the warehouse, and an embedded DuckDB file opened by a reader
   * keeps a task from opening it to write (that try would fail and be retried).
   */
  let runsSeen = "";
  const poll = coalesced(async () => {
    try {
      const answers = await Promise.all(
        dags.map((dag) => getJson<{ runs: DagRunInfo[] }>(`/api/dags/${encodeURIComponent(dag.id)}/runs`)),
      );
      for (const [i, dag] of dags.entries()) runsByDag.set(dag.id, answers[i]!.runs);
      showStatus("live", `refreshed every ${POLL_MS / 1000} s`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showStatus("reconnecting", `not refreshed: ${error.message}`);
      return;
    }
    draw();
    const runs = [...runsByDag.values()].flat();
    const seen = JSON.stringify(runs.map((r) => r.updatedAt));
    const running = runs.some((r) => r.tasks.some((t) => t.state === "running"));
    const first = runsSeen === "";
    if (seen !== runsSeen && (first || !running)) {
      // run_results.json is a file, not the warehouse: read with the records, whatever succeeds.
      await modelResults.load();
      if (await reconciliation.load()) runsSeen = seen;
    }
  });
  draw();
  if (dags.length > 0) {
    poll.request();
    await poll.done();
  }
  const timer = setInterval(() => {
    if (document.visibilityState === "visible" && dags.length > 0) poll.request();
  }, POLL_MS);
  return () => clearInterval(timer);
}

function aboutDag(dag: DagInfo): HTMLElement[] {
  const pairs: Array<[string, string]> = [
    [
      "schedule",
      `${dag.schedule}${dag.cron !== null && dag.cron !== dag.schedule ? ` (${dag.cron})` : ""}, ${dag.timezone}`,
    ],
    ["description", dag.description || "–"],
    ["tasks", taskOrder(dag)],
    [
      "catchup",
      `${dag.catchup ? "on" : "off"}; at most ${dag.maxActiveRuns} active run${dag.maxActiveRuns === 1 ? "" : "s"}`,
    ],
  ];
  return pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", { "data-about": name }, value)]);
}

/** The tasks in run order: "a → b → c" for a chain, else each with the tasks it waits for. */
function taskOrder(dag: DagInfo): string {
  const chain = dag.tasks.every((t, i) =>
    i === 0 ? t.upstream.length === 0 : t.upstream.length === 1 && t.upstream[0] === dag.tasks[i - 1]!.id,
  );
  if (chain) return dag.tasks.map((t) => t.id).join(" → ");
  return dag.tasks
    .map((t) => (t.upstream.length === 0 ? t.id : `${t.id} (after ${t.upstream.join(", ")})`))
    .join(", ");
}

/** The DAG list: each DAG a button (the open one pressed), its schedule, tasks and latest run. */
function renderList(
  body: HTMLTableSectionElement,
  dags: readonly DagInfo[],
  latestRuns: ReadonlyArray<DagRunInfo | undefined>,
  current: DagInfo | undefined,
  pick: (dag: DagInfo) => void,
): void {
  if (dags.length === 0) return;
  const focused = body.contains(document.activeElement)
    ? (document.activeElement as HTMLElement).dataset.dag
    : undefined;
  const words = new Map(STATES.map(([state, , text]) => [state as string, text]));
  replace(
    body,
    ...dags.map((dag, i) => {
      const latest = latestRuns[i];
      const button = h(
        "button",
        { type: "button", class: "dag-pick", "data-dag": dag.id, "aria-pressed": String(dag === current) },
        dag.id,
      );
      button.addEventListener("click", () => pick(dag));
      return h(
        "tr",
        { "data-dag": dag.id },
        h("th", { scope: "row" }, button),
        h("td", {}, dag.schedule),
        h(
          "td",
          { "data-state": latest?.state ?? "", class: "nowrap" },
          latest === undefined
            ? "none yet"
            : h(
                "span",
                {},
                h(
                  "span",
                  { class: `badge run-state s-${latest.state}` },
                  words.get(latest.state) ?? latest.state,
                ),
                ` ${runLabel(latest)}`,
              ),
        ),
        h("td", { class: "message" }, dag.description),
      );
    }),
  );
  if (focused !== undefined)
    body.querySelector<HTMLButtonElement>(`button[data-dag="${CSS.escape(focused)}"]`)?.focus();
}
