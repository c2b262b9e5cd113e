// One Analytics table: a mart read from /api/analytics/<report> with the page's filters, its rows as figures, and an Export CSV link with the same filters.

import { ApiError, getJson } from "../api.ts";
import { emptyRow, figure, h, panel, replace, table, num } from "../dom.ts";

/** The page's filters, as the API takes them; empty means not given. */
export interface AnalyticsFilters {
  from: string;
  to: string;
  event_type: string;
  wiki: string;
}

export type Cell = string | number | null;
export type ReportRow = Record<string, Cell>;

export interface ReportColumn {
  key: string;
  label: string;
  /** Formats a figure; a column without one is text. */
  format?: (value: number) => string;
}

export interface ReportOptions {
  id: string;
  title: string;
  note: string;
  /** The path below /api/analytics. */
  report: string;
  /** Which of the page's list filters the API takes here. */
  filter?: "event_type" | "wiki";
  columns: readonly ReportColumn[];
  /** The columns whose values name a row (data-key), in order. */
  key: readonly string[];
  wide?: boolean;
}

/** The API's query for these filters (the list filter only where the report takes it). */
export function reportQuery(
  filters: AnalyticsFilters,
  filter: ReportOptions["filter"],
  format?: "csv",
): string {
  const search = new URLSearchParams();
  if (filters.from !== "") search.set("from", filters.from);
  if (filters.to !== "") search.set("to", filters.to);
  if (filter !== undefined && filters[filter].trim() !== "") search.set(filter, filters[filter].trim());
  if (format !== undefined) search.set("format", format);
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

export class ReportPanel {
  readonly section: HTMLElement;
  readonly #options: ReportOptions;
  readonly #table: ReturnType<typeof table>;
  readonly #status: HTMLElement;
  readonly #csv: HTMLAnchorElement;

  constructor(grid: HTMLElement, options: ReportOptions) {
    this.#options = options;
    const { section, body } = panel(options.id, options.title, { wide: options.wide, note: options.note });
    this.section = section;
    grid.append(section);
    this.#csv = h(
      "a",
      {
        id: `${options.id}-csv`,
        class: "export",
        href: this.#path({ from: "", to: "", event_type: "", wiki: "" }, "csv"),
        download: "",
      },
      "Export CSV",
    );
    this.#status = h("p", { class: "muted", id: `${options.id}-status`, role: "status" });
    this.#table = table(
      options.title,
      options.columns.map((c) => (c.format === undefined ? c.label : num(c.label))),
      { id: `${options.id}-table`, class: "report" },
    );
    body.append(
      h("div", { class: "controls" }, this.#csv),
      this.#status,
      h("div", { class: "scroll" }, this.#table.table),
    );
  }

  /** The report's path below /api/analytics, as /api/analytics/marts names it. */
  get report(): string {
    return this.#options.report;
  }

  /** Says its mart is not built yet, without asking the API (which would answer 404). */
  notBuilt(): void {
    replace(this.#status);
    replace(
      this.#table.body,
      emptyRow(
        this.#options.columns.length,
        "Not built yet: the scheduler of `pulse up` builds the marts at start and every hour; or run `pulse batch`.",
      ),
    );
    this.#status.dataset.code = "PULSE_HTTP_WAREHOUSE_NOT_BUILT";
  }

  /** Reads the report with `filters` and shows it; returns its rows (none when it could not be read). */
  async load(filters: AnalyticsFilters): Promise<ReportRow[]> {
    this.#csv.href = this.#path(filters, "csv");
    replace(this.#status, "Reading…");
    try {
      const answer = await getJson<{ columns: string[]; rows: ReportRow[] }>(this.#path(filters));
      this.render(answer.rows);
      replace(this.#status, answer.rows.length === 1 ? "1 row." : `${answer.rows.length} rows.`);
      return answer.rows;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      replace(this.#status);
      replace(this.#table.body, emptyRow(this.#options.columns.length, error.message));
      this.#status.dataset.code = error.code;
      return [];
    }
  }

  render(rows: readonly ReportRow[]): void {
    delete this.#status.dataset.code;
    const { columns, key } = this.#options;
    if (rows.length === 0) {
      replace(this.#table.body, emptyRow(columns.length, "No rows for these filters."));
      return;
    }
    replace(
      this.#table.body,
      ...rows.map((row) =>
        h(
          "tr",
          { "data-key": key.map((k) => String(row[k])).join("|") },
          ...columns.map((column, i) => {
            const value = row[column.key] ?? null;
            const attrs = { "data-metric": column.key };
            if (column.format !== undefined && (typeof value === "number" || value === null))
              return figure("td", value, column.format, attrs);
            return h(
              i === 0 ? "th" : "td",
              i === 0 ? { ...attrs, scope: "row" } : attrs,
              String(value ?? "–"),
            );
          }),
        ),
      ),
    );
  }

  #path(filters: AnalyticsFilters, format?: "csv"): string {
    return `/api/analytics/${this.#options.report}${reportQuery(filters, this.#options.filter, format)}`;
  }
}
