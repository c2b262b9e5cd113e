// The Batch page's writes: the admin token (asked once, kept in sessionStorage, sent as a Bearer header, never in the address), Trigger and Backfill forms, and the message of each answer.

import { ApiError, postJson } from "../api.ts";
import { h, replace } from "../dom.ts";

const TOKEN_KEY = "pulse.adminToken";

/** The token kept for this tab, or "" (storage can be switched off: then nothing is kept). */
function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

function keepToken(token: string): void {
  try {
    if (token === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Without storage the token lives in the field only.
  }
}

export interface AdminOptions {
  /** The DAG the forms act on now. */
  dagId: () => string;
  /** Called after a write succeeded, to read the runs again. */
  onDone: () => void;
}

export class AdminPanel {
  readonly element: HTMLElement;
  readonly #options: AdminOptions;
  readonly #token: HTMLInputElement;
  readonly #tokenForm: HTMLFormElement;
  readonly #kept: HTMLElement;
  readonly #message: HTMLElement;

  constructor(options: AdminOptions) {
    this.#options = options;
    this.#token = h("input", {
      id: "dags-token",
      name: "token",
      type: "password",
      autocomplete: "off",
      placeholder: "server.admin_token",
    });
    // A form of its own, so a password manager and Enter behave; Enter keeps the token.
    this.#tokenForm = h(
      "form",
      { id: "dags-token-form", class: "controls", "aria-label": "Admin token" },
      h("label", { for: "dags-token" }, "admin token"),
      this.#token,
      h("button", { type: "submit" }, "Keep for this tab"),
    );
    this.#tokenForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#takeToken();
    });
    const forget = h("button", { type: "button", id: "dags-token-forget" }, "Forget");
    forget.addEventListener("click", () => {
      keepToken("");
      this.#showToken();
      this.#token.focus();
    });
    this.#kept = h(
      "p",
      { class: "controls", id: "dags-token-kept" },
      "The admin token is kept for this tab. ",
      forget,
    );
    this.#message = h("p", { id: "dags-action-message", role: "status", "aria-live": "polite" });

    const date = h("input", { id: "dags-trigger-date", name: "date", type: "date" });
    const trigger = h(
      "form",
      { id: "dags-trigger", class: "controls", "aria-label": "Trigger a run" },
      h("label", { for: "dags-trigger-date" }, "date (optional)"),
      date,
      h("button", { type: "submit" }, "Trigger"),
    );
    trigger.addEventListener("submit", (event) => {
      event.preventDefault();
      const dag = options.dagId();
      void this.send(
        `/api/dags/${encodeURIComponent(dag)}/trigger`,
        date.value === "" ? {} : { date: date.value },
        (answer: { run: { runId: string; state: string }; created: boolean }) =>
          answer.created
            ? `Triggered ${dag}: ${answer.run.runId} is ${answer.run.state}.`
            : `${dag} already has the run ${answer.run.runId} (${answer.run.state}).`,
      );
    });

    const from = h("input", { id: "dags-backfill-from", name: "from", type: "date", required: true });
    const to = h("input", { id: "dags-backfill-to", name: "to", type: "date", required: true });
    const backfill = h(
      "form",
      { id: "dags-backfill", class: "controls", "aria-label": "Backfill" },
      h("label", { for: "dags-backfill-from" }, "from"),
      from,
      h("label", { for: "dags-backfill-to" }, "to (not included)"),
      to,
      h("button", { type: "submit" }, "Backfill"),
    );
    backfill.addEventListener("submit", (event) => {
      event.preventDefault();
      const dag = options.dagId();
      void this.send(
        `/api/dags/${encodeURIComponent(dag)}/backfill`,
        { from: from.value, to: to.value },
        (answer: { runs: Array<{ created: boolean }> }) => {
          const made = answer.runs.filter((r) => r.created).length;
          return `Backfill of ${dag}: ${made} new run${made === 1 ? "" : "s"} queued, ${answer.runs.length - made} already there.`;
        },
      );
    });

    this.element = h(
      "div",
      { id: "dags-admin" },
      h(
        "p",
        { class: "note" },
        "Writes need the server's admin token. Queued runs start when a scheduler runs (pulse up, or pulse scheduler).",
      ),
      this.#tokenForm,
      this.#kept,
      trigger,
      backfill,
      this.#message,
    );
    this.#showToken();
  }

  /** Clears a run, or a task and those after it. */
  clear(dagId: string, runId: string, taskId?: string): Promise<void> {
    return this.send(
      `/api/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}/clear`,
      taskId === undefined ? {} : { task: taskId },
      (answer: { cleared: string[] }) =>
        answer.cleared.length === 0
          ? `Nothing to clear in ${runId}: no task there has finished.`
          : `Cleared ${answer.cleared.join(", ")} in ${runId}: queued again.`,
    );
  }

  /** POSTs a write with the token and says how it went: the answer's summary, or the API's error message. */
  async send<T>(path: string, body: unknown, done: (answer: T) => string): Promise<void> {
    const token = this.#takeToken();
    replace(this.#message, "Sending…");
    delete this.#message.dataset.code;
    try {
      const answer = await postJson<T>(path, body, token);
      this.#message.className = "ok";
      replace(this.#message, done(answer));
      this.#options.onDone();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.#message.className = "error";
      this.#message.dataset.code = error.code;
      replace(this.#message, `${error.status === 0 ? "" : `${error.status}: `}${error.message}`);
      if (error.status === 401) {
        // A wrong token is not kept: ask for it again.
        keepToken("");
        this.#showToken();
        this.#token.focus();
      }
    }
  }

  /** The token to send: a newly typed one is kept for the tab (and the field emptied). */
  #takeToken(): string {
    const typed = this.#token.value.trim();
    if (typed !== "") {
      keepToken(typed);
      // Without storage the field keeps it.
      if (storedToken() === typed) this.#token.value = "";
      this.#showToken();
    }
    return typed !== "" ? typed : storedToken();
  }

  #showToken(): void {
    const kept = storedToken() !== "";
    this.#tokenForm.hidden = kept;
    this.#kept.hidden = !kept;
  }
}
