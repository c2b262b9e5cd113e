// DOM building without HTML strings (no innerHTML: payloads shown here are user data), and the number and time formats the pages share.

export type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);

/**
 * Creates an element: `on<event>` attributes become listeners, `false`/null/undefined attributes are left
 * out, `true` sets an empty attribute; children are nodes or text.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined)
      element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/** A section with a heading, for the page grid; `wide` spans every column. */
export function panel(
  id: string,
  title: string,
  options: { wide?: boolean; note?: string } = {},
): {
  section: HTMLElement;
  body: HTMLElement;
} {
  const body = h("div", { class: "panel-body" });
  const section = h(
    "section",
    { class: options.wide ? "panel wide" : "panel", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    options.note ? h("p", { class: "note" }, options.note) : null,
    body,
  );
  return { section, body };
}

/** A figure cell: its text formatted, its exact value in data-value, so tests and scripts read the number itself. */
export function figure(
  tag: "td" | "span" | "dd" | "strong",
  value: number | null,
  format: (value: number) => string = integer,
  attrs: Record<string, AttrValue> = {},
): HTMLElement {
  return h(
    tag,
    { ...attrs, "data-value": value === null ? "" : String(value), class: "num" },
    value === null ? "–" : format(value),
  );
}

const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const DECIMAL = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const RATE = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 3 });
const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const PERCENT = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

export const integer = (value: number): string => INTEGER.format(value);
export const decimal = (value: number): string => DECIMAL.format(value);
export const money = (value: number): string => MONEY.format(value);
/** A rate to three significant digits: 0.0333, 1.25, 4,520. */
export const rate = (value: number): string => RATE.format(value);
/** 1.2K, 3.4M: for axis ticks. */
export const compact = (value: number): string => COMPACT.format(value);
export const percent = (value: number): string => PERCENT.format(value);
export const signed = (value: number): string =>
  value > 0 ? `+${INTEGER.format(value)}` : INTEGER.format(value);

export function bytes(value: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${unit === 0 ? INTEGER.format(scaled) : DECIMAL.format(scaled)} ${units[unit]}`;
}

/** Local wall-clock time of ms since the epoch, HH:MM:SS. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A <time> element: the local clock time shown, the exact UTC instant in its datetime and title. */
export function time(ms: number | null): HTMLElement {
  if (ms === null) return h("span", { class: "muted" }, "–");
  const iso = new Date(ms).toISOString();
  return h("time", { datetime: iso, title: iso, "data-value": String(ms) }, clock(ms));
}

/** A duration in ms as "850 ms", "12.5 s", "3 min 5 s", "2 h 10 min". */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  const sign = ms < 0 ? "−" : "";
  if (abs < 1_000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${DECIMAL.format(abs / 1_000)} s`;
  if (abs < 3_600_000)
    return `${sign}${Math.floor(abs / 60_000)} min ${Math.floor((abs % 60_000) / 1_000)} s`;
  return `${sign}${Math.floor(abs / 3_600_000)} h ${Math.floor((abs % 3_600_000) / 60_000)} min`;
}

/** A header of a column of figures (right-aligned). */
export function num(text: string): { num: string } {
  return { num: text };
}

/** A table with a caption and header row (num() for columns of figures); rows are appended to its tbody. */
export function table(
  caption: string,
  headers: readonly (string | { num: string })[],
  attrs: Record<string, AttrValue> = {},
): {
  table: HTMLTableElement;
  body: HTMLTableSectionElement;
  caption: HTMLTableCaptionElement;
} {
  const body = h("tbody");
  const captionEl = h("caption", {}, caption);
  const tableEl = h(
    "table",
    attrs,
    captionEl,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...headers.map((header) =>
          typeof header === "string"
            ? h("th", { scope: "col" }, header)
            : h("th", { scope: "col", class: "num" }, header.num),
        ),
      ),
    ),
    body,
  );
  return { table: tableEl, body, caption: captionEl };
}

/** A table row whose last cell says nothing is there yet. */
export function emptyRow(columns: number, text: string): HTMLTableRowElement {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}
