// YAML files of a project (dbt_project.yml, properties .yml) read as located values, so every error names file:line and the key.

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { ModelError, ModelErrorCode } from "../errors.ts";

/** A value in a YAML file with where it is: its node (null when the key is absent), file and key path. */
export class YamlValue {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly node: Node | null,
    private readonly lines: LineCounter,
    private readonly fallbackLine: number,
  ) {}

  /** The line the value starts on, counted from 1 (the parent's line when the key is absent). */
  get line(): number {
    const start = this.node?.range?.[0];
    return start === undefined ? this.fallbackLine : this.lines.linePos(start).line;
  }

  get present(): boolean {
    return this.node !== null && !(isScalar(this.node) && this.node.value === null);
  }

  /** An error at this value: `file:line: key: what. fix`. */
  fail(what: string, fix: string): ModelError {
    return new ModelError(
      ModelErrorCode.projectInvalid,
      `${this.file}:${this.line}: ${this.key}: ${what}. ${fix}`,
      {
        location: { file: this.file, line: this.line },
      },
    );
  }

  /** The entries of a mapping, in file order; [] when absent. */
  entries(): Array<[string, YamlValue]> {
    if (!this.present) return [];
    if (!isMap(this.node))
      throw this.fail("expected a mapping of keys to values", "Write it as `key: value` lines");
    const out: Array<[string, YamlValue]> = [];
    for (const pair of this.node.items) {
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const keyLine = keyNode?.range ? this.lines.linePos(keyNode.range[0]).line : this.line;
      out.push([
        name,
        new YamlValue(this.file, this.child(name), (pair.value as Node | null) ?? null, this.lines, keyLine),
      ]);
    }
    return out;
  }

  /** The value under `name` in a mapping (absent: a value whose node is null). */
  get(name: string): YamlValue {
    for (const [key, value] of this.entries()) if (key === name) return value;
    return new YamlValue(this.file, this.child(name), null, this.lines, this.line);
  }

  isMap(): boolean {
    return isMap(this.node);
  }

  isSeq(): boolean {
    return isSeq(this.node);
  }

  /** The items of a sequence; [] when absent. */
  items(): YamlValue[] {
    if (!this.present) return [];
    if (!isSeq(this.node)) throw this.fail("expected a list", "Write it as `- item` lines");
    return this.node.items.map(
      (item, i) =>
        new YamlValue(this.file, `${this.key}[${i}]`, (item as Node | null) ?? null, this.lines, this.line),
    );
  }

  /** A string (numbers and booleans as written), or undefined when absent. */
  string(): string | undefined {
    if (!this.present) return undefined;
    if (!isScalar(this.node) || typeof this.node.value === "object")
      throw this.fail("expected a string", "Write a single value");
    return String(this.node.value);
  }

  requiredString(fix: string): string {
    const value = this.string();
    if (value === undefined || value.trim() === "") throw this.fail("is required", fix);
    return value;
  }

  boolean(): boolean | undefined {
    if (!this.present) return undefined;
    if (!isScalar(this.node) || typeof this.node.value !== "boolean")
      throw this.fail(`expected true or false, got ${JSON.stringify(this.js())}`, "Write true or false");
    return this.node.value;
  }

  /** A string or a list of strings, as a list; [] when absent. */
  stringList(): string[] {
    if (!this.present) return [];
    if (isSeq(this.node)) return this.items().map((item) => item.requiredString("Remove the empty item"));
    return [this.requiredString("Write a name or a list of names")];
  }

  /** The plain JS value (mappings as objects, sequences as arrays); undefined when absent. */
  js(): unknown {
    if (this.node === null) return undefined;
    return this.node.toJSON();
  }

  private child(name: string): string {
    return this.key === "" ? name : `${this.key}.${name}`;
  }
}

/** Parses a YAML file; a syntax error is a ModelError at its file:line. Returns the document's root value. */
export function parseYaml(file: string, text: string): YamlValue {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const error = doc.errors[0];
  if (error !== undefined) {
    const { line } = lines.linePos(error.pos[0]);
    throw new ModelError(
      ModelErrorCode.projectInvalid,
      `${file}:${line}: invalid YAML: ${error.message.split("\n")[0]}. Fix the indentation or quoting on that line`,
      { location: { file, line } },
    );
  }
  return new YamlValue(file, "", (doc.contents as Node | null) ?? null, lines, 1);
}
