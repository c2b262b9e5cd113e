// The Pipeline page's schema panel: the registry's subjects and versions, and a line diff between two versions of a subject.

import { getJson, query, type SchemaVersion, type SubjectReport } from "../api.ts";
import { diffLines, schemaLines } from "../diff.ts";
import { emptyRow, figure, h, integer, panel, replace, table, num } from "../dom.ts";

export class SchemasPanel {
  readonly #subjects: ReturnType<typeof table>;
  readonly #detail: HTMLElement;
  readonly #level: HTMLElement;
  #selected: string | undefined;

  constructor(grid: HTMLElement) {
    const schemas = panel("schemas", "Schema subjects", {
      wide: true,
      note: "Avro schemas in the registry, one subject per topic value. Pick a subject to compare two of its versions.",
    });
    grid.append(schemas.section);
    this.#level = h("p", { class: "muted", id: "schemas-level" });
    this.#subjects = table(
      "Subjects",
      ["subject", "versions", num("latest"), num("schema id"), "compatibility", ""],
      { id: "subjects-table" },
    );
    this.#detail = h("div", { class: "schema-detail", id: "schema-detail", "aria-live": "polite" });
    schemas.body.append(this.#level, h("div", { class: "scroll" }, this.#subjects.table), this.#detail);
  }

  async load(): Promise<void> {
    const answer = await getJson<{ compatibility: string; subjects: SubjectReport[] }>("/api/ops/schemas");
    replace(this.#level, `Global compatibility level: ${answer.compatibility}`);
    if (answer.subjects.length === 0) {
      replace(this.#subjects.body, emptyRow(6, "No subjects registered."));
      return;
    }
    replace(
      this.#subjects.body,
      ...answer.subjects.map((s) =>
        h(
          "tr",
          { "data-subject": s.subject, "aria-selected": s.subject === this.#selected ? "true" : undefined },
          h("th", { scope: "row" }, s.subject),
          h("td", { "data-metric": "versions", "data-value": s.versions.join(",") }, s.versions.join(", ")),
          figure("td", s.latest.version, integer, { "data-metric": "latest" }),
          figure("td", s.latest.id, integer, { "data-metric": "id" }),
          h("td", {}, s.compatibility),
          h(
            "td",
            {},
            h(
              "button",
              { type: "button", onclick: () => void this.#show(s).catch(showError(this.#detail)) },
              s.versions.length > 1 ? "Compare versions" : "Show schema",
            ),
          ),
        ),
      ),
    );
  }

  async #show(subject: SubjectReport): Promise<void> {
    this.#selected = subject.subject;
    for (const row of this.#subjects.body.querySelectorAll("tr")) {
      row.toggleAttribute("aria-selected", row.dataset.subject === subject.subject);
    }
    const versions = subject.versions;
    const latest = versions.at(-1)!;
    const pick = (id: string, label: string, selected: number) =>
      h(
        "label",
        {},
        `${label} `,
        h(
          "select",
          { id, name: id },
          ...versions.map((v) => h("option", { value: String(v), selected: v === selected }, `v${v}`)),
        ),
      );
    const from = pick("schema-from", "from", versions.at(-2) ?? latest);
    const to = pick("schema-to", "to", latest);
    const output = h("div", { class: "diff-output" });
    const update = () => {
      const a = Number(from.querySelector("select")!.value);
      const b = Number(to.querySelector("select")!.value);
      this.#renderDiff(subject.subject, a, b, output).catch(showError(output));
    };
    from.addEventListener("change", update);
    to.addEventListener("change", update);
    replace(this.#detail, h("h3", {}, subject.subject), h("div", { class: "controls" }, from, to), output);
    update();
  }

  async #renderDiff(subject: string, a: number, b: number, output: HTMLElement): Promise<void> {
    const [before, after] = await Promise.all(
      [a, b].map((version) =>
        getJson<SchemaVersion>(`/api/ops/schemas/version${query({ subject, version })}`),
      ),
    );
    const lines = diffLines(schemaLines(before!.schema), schemaLines(after!.schema));
    const changed = lines.filter((l) => l.kind !== "same").length;
    replace(
      output,
      h(
        "p",
        { class: "muted", id: "schema-diff-summary" },
        a === b
          ? `v${a} (schema id ${before!.id})`
          : `v${a} (id ${before!.id}) → v${b} (id ${after!.id}): ${changed === 0 ? "no change" : `${changed} lines differ`}`,
      ),
      h(
        "pre",
        { class: "diff", tabindex: "0", "aria-label": `Schema of ${subject}, v${a} to v${b}` },
        ...lines.map((l) =>
          h(
            "span",
            { class: `line ${l.kind}` },
            `${l.kind === "added" ? "+ " : l.kind === "removed" ? "- " : "  "}${l.text}\n`,
          ),
        ),
      ),
    );
  }
}

function showError(target: HTMLElement): (error: unknown) => void {
  return (error) => replace(target, h("p", { class: "error", role: "alert" }, (error as Error).message));
}
