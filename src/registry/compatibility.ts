// Avro schema resolution (can a reader read a writer's data?) and the registry's compatibility levels.

import { type AvroNamed, type AvroNode, type ParsedSchema, shortName } from "./canonical.ts";
import { RegistryErrorCode, registryError } from "./errors.ts";
import type { CompatibilityLevel } from "./index.ts";

export { type ParsedSchema, parseAvroJson, parseAvroSchema } from "./canonical.ts";

export type IncompatibilityKind =
  | "TYPE_MISMATCH"
  | "NAME_MISMATCH"
  | "FIXED_SIZE_MISMATCH"
  | "MISSING_ENUM_SYMBOLS"
  | "READER_FIELD_MISSING_DEFAULT_VALUE"
  | "MISSING_UNION_BRANCH";

export interface Incompatibility {
  kind: IncompatibilityKind;
  /**
   * Where it breaks: a JSON pointer into the reader schema, with field names instead of positions
   * ("/fields/amount/type/items"). Below a writer union the next segment is the writer's branch index.
   */
  path: string;
  message: string;
}

/** An incompatibility found while checking a new schema against one registered version. */
export interface VersionIncompatibility extends Incompatibility {
  version: number;
  /** BACKWARD: the new schema cannot read the old version's data; FORWARD: the old cannot read the new. */
  direction: "BACKWARD" | "FORWARD";
}

export interface VersionedSchema {
  version: number;
  schema: ParsedSchema;
}

export const compatibilityLevels: readonly CompatibilityLevel[] = [
  "NONE",
  "BACKWARD",
  "BACKWARD_TRANSITIVE",
  "FORWARD",
  "FORWARD_TRANSITIVE",
  "FULL",
  "FULL_TRANSITIVE",
];

/** Validates a level name from a user (any case); throws 42203 when it is not one of the seven. */
export function parseCompatibilityLevel(value: unknown): CompatibilityLevel {
  const upper = typeof value === "string" ? value.toUpperCase() : value;
  const level = compatibilityLevels.find((candidate) => candidate === upper);
  if (level === undefined) {
    throw registryError(
      RegistryErrorCode.invalidCompatibilityLevel,
      `invalid compatibility level ${JSON.stringify(value) ?? "undefined"}: use one of ${compatibilityLevels.join(", ")}`,
    );
  }
  return level;
}

/**
 * Checks a candidate schema against a subject's live versions (oldest first) under a level.
 * Non-transitive levels look only at the latest version; transitive ones at every version.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: ParsedSchema,
  previous: readonly VersionedSchema[],
): VersionIncompatibility[] {
  if (level === "NONE" || previous.length === 0) return [];
  const transitive = level.endsWith("_TRANSITIVE");
  const base = transitive ? level.slice(0, -"_TRANSITIVE".length) : level;
  const against = transitive ? previous : previous.slice(-1);
  const found: VersionIncompatibility[] = [];
  // Newest first, so the first message is about the version users most likely evolved from.
  for (const old of [...against].reverse()) {
    if (base === "BACKWARD" || base === "FULL") {
      for (const issue of checkReaderWriter(candidate, old.schema)) {
        found.push({ ...issue, version: old.version, direction: "BACKWARD" });
      }
    }
    if (base === "FORWARD" || base === "FULL") {
      for (const issue of checkReaderWriter(old.schema, candidate)) {
        found.push({ ...issue, version: old.version, direction: "FORWARD" });
      }
    }
  }
  return found;
}

/** One line per incompatibility, for HTTP responses and error messages. */
export function describeIncompatibility(issue: VersionIncompatibility): string {
  const who =
    issue.direction === "BACKWARD"
      ? `the new schema cannot read data written with version ${issue.version}`
      : `version ${issue.version} cannot read data written with the new schema`;
  return `${who}: ${issue.kind} at ${issue.path}: ${issue.message}`;
}

/**
 * Avro spec "Schema Resolution": returns every reason data written with `writer` cannot be read with
 * `reader`; an empty list means it can.
 */
export function checkReaderWriter(reader: ParsedSchema, writer: ParsedSchema): Incompatibility[] {
  const checker = new ResolutionChecker(reader, writer);
  checker.check(reader.root, writer.root, "");
  return checker.found;
}

/** Primitive promotions the spec allows: writer type → reader types that can read it. */
const promotions: Record<string, readonly string[]> = {
  int: ["long", "float", "double"],
  long: ["float", "double"],
  float: ["double"],
  string: ["bytes"],
  bytes: ["string"],
};

class ResolutionChecker {
  readonly found: Incompatibility[] = [];
  /** Named-type pairs being checked higher up the stack; meeting one again means recursion, assumed fine. */
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly reader: ParsedSchema,
    private readonly writer: ParsedSchema,
  ) {}

  check(readerNode: AvroNode, writerNode: AvroNode, path: string): void {
    const r = resolve(readerNode, this.reader);
    const w = resolve(writerNode, this.writer);

    if (w.kind === "union") {
      // Each branch the writer may have picked must be readable.
      w.branches.forEach((branch, index) => {
        this.check(r, branch, `${path}/${index}`);
      });
      return;
    }
    if (r.kind === "union") {
      const readable = r.branches.some((branch) => this.probe(branch, w));
      if (!readable) {
        this.report(
          "MISSING_UNION_BRANCH",
          path,
          `reader union ${describeUnion(r.branches, this.reader)} has no branch that can read writer type ${describe(w)}`,
        );
      }
      return;
    }

    switch (r.kind) {
      case "primitive": {
        if (w.kind !== "primitive" || (w.type !== r.type && !promotions[w.type]?.includes(r.type))) {
          this.mismatch(r, w, path);
        }
        return;
      }
      case "array":
        if (this.sameKind(r, w, path)) this.check(r.items, w.items, `${path}/items`);
        return;
      case "map":
        if (this.sameKind(r, w, path)) this.check(r.values, w.values, `${path}/values`);
        return;
      case "fixed":
        if (!this.sameKind(r, w, path) || !this.namesMatch(r, w, path)) return;
        if (r.size !== w.size) {
          this.report(
            "FIXED_SIZE_MISMATCH",
            `${path}/size`,
            `reader fixed ${r.fullName} has size ${r.size} but writer fixed ${w.fullName} has size ${w.size}`,
          );
        }
        return;
      case "enum": {
        if (!this.sameKind(r, w, path) || !this.namesMatch(r, w, path)) return;
        const missing = w.symbols.filter((symbol) => !r.symbols.includes(symbol));
        if (missing.length > 0 && r.default === undefined) {
          this.report(
            "MISSING_ENUM_SYMBOLS",
            `${path}/symbols`,
            `reader enum ${r.fullName} lacks writer symbols [${missing.join(", ")}] and has no default to map them to`,
          );
        }
        return;
      }
      case "record": {
        if (!this.sameKind(r, w, path) || !this.namesMatch(r, w, path)) return;
        const key = `${r.fullName}\u0000${w.fullName}`;
        if (this.inProgress.has(key)) return;
        this.inProgress.add(key);
        for (const field of r.fields) {
          const fieldPath = `${path}/fields/${field.name}`;
          const writerField =
            w.fields.find((candidate) => candidate.name === field.name) ??
            w.fields.find((candidate) => field.aliases.includes(candidate.name));
          if (writerField === undefined) {
            // Writer-only fields are skipped by the reader; reader-only fields need a default.
            if (field.default === undefined) {
              this.report(
                "READER_FIELD_MISSING_DEFAULT_VALUE",
                fieldPath,
                `reader field "${field.name}" of ${r.fullName} is not in the writer record and has no default`,
              );
            }
            continue;
          }
          this.check(field.type, writerField.type, `${fieldPath}/type`);
        }
        this.inProgress.delete(key);
        return;
      }
    }
  }

  /** Whether the reader branch can read the writer type, without reporting anything. */
  private probe(readerBranch: AvroNode, writerNode: AvroNode): boolean {
    const probe = new ResolutionChecker(this.reader, this.writer);
    for (const key of this.inProgress) probe.inProgress.add(key);
    probe.check(readerBranch, writerNode, "");
    return probe.found.length === 0;
  }

  /** Whether the writer is of the reader's kind (an array for an array, …); reports a mismatch when not. */
  private sameKind<T extends AvroNode>(r: T, w: AvroNode, path: string): w is T {
    if (w.kind === r.kind) return true;
    this.mismatch(r, w, path);
    return false;
  }

  private namesMatch(r: AvroNamed, w: AvroNamed, path: string): boolean {
    // The spec matches unqualified names, so moving a type to another namespace stays compatible.
    if (shortName(r.fullName) === shortName(w.fullName) || r.aliases.includes(w.fullName)) return true;
    this.report(
      "NAME_MISMATCH",
      `${path}/name`,
      `reader ${r.kind} ${r.fullName} does not match writer ${w.kind} ${w.fullName}: names differ and no reader alias names the writer`,
    );
    return false;
  }

  private mismatch(r: AvroNode, w: AvroNode, path: string): void {
    this.report("TYPE_MISMATCH", path, `reader type ${describe(r)} cannot read writer type ${describe(w)}`);
  }

  private report(kind: IncompatibilityKind, path: string, message: string): void {
    this.found.push({ kind, path: path === "" ? "/" : path, message });
  }
}

function resolve(node: AvroNode, schema: ParsedSchema): Exclude<AvroNode, { kind: "ref" }> {
  if (node.kind !== "ref") return node;
  const target = schema.named.get(node.fullName);
  if (target === undefined) {
    // Unreachable for schemas that passed avsc, which rejects undefined names.
    throw registryError(RegistryErrorCode.invalidSchema, `undefined type name ${node.fullName}`);
  }
  return target;
}

function describe(node: AvroNode): string {
  switch (node.kind) {
    case "primitive":
      return `"${node.type}"`;
    case "ref":
      return node.fullName;
    case "record":
    case "enum":
    case "fixed":
      return `${node.kind} ${node.fullName}`;
    case "array":
      return `array<${describe(node.items)}>`;
    case "map":
      return `map<${describe(node.values)}>`;
    case "union":
      return `[${node.branches.map(describe).join(", ")}]`;
  }
}

function describeUnion(branches: AvroNode[], schema: ParsedSchema): string {
  return `[${branches.map((branch) => describe(resolve(branch, schema))).join(", ")}]`;
}
