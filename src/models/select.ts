// The select stage: --select / --exclude as dbt reads them, and tests picked up with the nodes they test.

/*
 * Grammar (dbt's node selection syntax, the subset the runner has):
 *   spec      := union of words separated by spaces (each --select value may hold several)
 *   word      := term ("," term)*                    a comma intersects
 *   term      := ["@"] [N] ["+"] selector ["+" [N]]  + before: ancestors, + after: descendants, N: depth;
 *                                                    @: descendants and all their ancestors
 *   selector  := method ":" value | value
 *   method    := tag | path | source | resource_type | fqn | test_type | test_name
 *   value     := a name, an fqn (analytics.staging.x), a folder name, or a path (has "/" or ".sql");
 *                `*` and `?` match as in shell globs
 * Indirect selection is dbt's "eager": a test is selected when any node it tests is selected, and
 * dropped when any is excluded.
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import { ancestors, descendants, type Graph } from "./graph.ts";
import type { Project, SourceNode } from "./nodes.ts";

type SelectableNode = Project["nodes"] extends Map<string, infer N> ? N | SourceNode : never;

function selectorError(spec: string, what: string): ModelError {
  return new ModelError(ModelErrorCode.projectInvalid, `selector '${spec}': ${what}`);
}

function glob(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

function matches(pattern: string, value: string): boolean {
  return /[*?]/.test(pattern) ? glob(pattern).test(value) : pattern === value;
}

/** The nodes a selector method and value pick, without graph operators. */
function matchSelector(
  project: Project,
  nodes: readonly SelectableNode[],
  spec: string,
  method: string,
  value: string,
): string[] {
  const out: string[] = [];
  const normalizedPath = value.replace(/^\.\//, "").replace(/\/+$/, "");
  for (const node of nodes) {
    let hit = false;
    switch (method) {
      case "tag": {
        const tags = node.resourceType === "source" ? node.tags : node.config.tags;
        hit = tags.some((tag) => matches(value, tag));
        break;
      }
      case "path": {
        const file = node.originalFilePath;
        hit =
          file === normalizedPath || file.startsWith(`${normalizedPath}/`) || matches(normalizedPath, file);
        break;
      }
      case "source": {
        if (node.resourceType !== "source") break;
        const [source, table] = value.split(".");
        hit = matches(source!, node.sourceName) && (table === undefined || matches(table, node.name));
        break;
      }
      case "resource_type":
        hit = node.resourceType === value;
        break;
      case "test_type":
        hit =
          node.resourceType === "test" &&
          (value === "generic"
            ? node.testMetadata !== undefined
            : value === "singular" && node.testMetadata === undefined);
        break;
      case "test_name":
        hit =
          node.resourceType === "test" &&
          node.testMetadata !== undefined &&
          matches(value, node.testMetadata.name);
        break;
      case "fqn": {
        if (node.resourceType === "source") break;
        const parts = value.split(".");
        const fqn = node.fqn;
        const prefixOf = (full: readonly string[]): boolean =>
          parts.length <= full.length && parts.every((part, i) => matches(part, full[i]!));
        hit = matches(value, node.name) || prefixOf(fqn) || prefixOf(fqn.slice(1));
        break;
      }
      default:
        throw selectorError(
          spec,
          `'${method}' is not a selector method; use tag:, path:, source:, resource_type:, test_type:, test_name: or a name`,
        );
    }
    if (hit) out.push(node.uniqueId);
  }
  if (
    method === "path" &&
    out.length === 0 &&
    !project.modelPaths.concat(project.seedPaths, project.testPaths).some((p) => normalizedPath.startsWith(p))
  ) {
    throw selectorError(
      spec,
      `no node is under '${value}'; paths start at the project's folder, e.g. path:${project.modelPaths[0]}/marts`,
    );
  }
  return out;
}

const TERM = /^(@)?(?:(\d*)\+)?([^+]+?)(?:\+(\d*))?$/;

function selectTerm(
  project: Project,
  graph: Graph,
  nodes: readonly SelectableNode[],
  term: string,
): Set<string> {
  const match = TERM.exec(term);
  if (match === null)
    throw selectorError(term, "cannot read it; write e.g. +model, model+, tag:x or path:models/marts");
  const [, at, upDepth, body, downDepth] = match;
  const hasUp = upDepth !== undefined;
  const hasDown = downDepth !== undefined;
  const colon = body!.indexOf(":");
  const method = colon === -1 ? (/\/|\.sql$|\.csv$/.test(body!) ? "path" : "fqn") : body!.slice(0, colon);
  const value = colon === -1 ? body! : body!.slice(colon + 1);
  const direct = matchSelector(project, nodes, term, method, value);
  const out = new Set(direct);
  const depth = (text: string | undefined): number | undefined =>
    text === undefined || text === "" ? undefined : Number(text);
  for (const id of direct) {
    if (hasUp) for (const up of ancestors(graph, id, depth(upDepth))) out.add(up);
    if (hasDown || at) {
      for (const down of descendants(graph, id, at ? undefined : depth(downDepth))) {
        out.add(down);
        if (at) for (const up of ancestors(graph, down)) out.add(up);
      }
    }
  }
  return out;
}

/** The ids a whole --select (or --exclude) value picks: a union of words, each an intersection of terms. */
function selectSpec(project: Project, graph: Graph, specs: readonly string[]): Set<string> {
  const nodes: SelectableNode[] = [...project.nodes.values(), ...project.sources.values()];
  const out = new Set<string>();
  for (const word of specs.flatMap((spec) => spec.split(/\s+/)).filter((w) => w !== "")) {
    let picked: Set<string> | undefined;
    for (const term of word.split(",").filter((t) => t !== "")) {
      const terms = selectTerm(project, graph, nodes, term);
      picked = picked === undefined ? terms : new Set([...picked].filter((id) => terms.has(id)));
    }
    for (const id of picked ?? []) out.add(id);
  }
  return out;
}

/** Adds the tests whose tested nodes include one of `ids` (eager indirect selection). */
function withTests(project: Project, ids: Set<string>): Set<string> {
  const out = new Set(ids);
  for (const node of project.nodes.values()) {
    if (node.resourceType === "test" && node.dependsOn.some((parent) => ids.has(parent)))
      out.add(node.uniqueId);
  }
  return out;
}

export interface SelectOptions {
  select?: readonly string[];
  exclude?: readonly string[];
}

/** The selected ids, sorted: every node when nothing is selected; sources included (callers keep what they run). */
export function selectNodes(project: Project, graph: Graph, options: SelectOptions): string[] {
  const chosen =
    options.select === undefined ||
    options.select.length === 0 ||
    options.select.every((s) => s.trim() === "")
      ? new Set(graph.ids)
      : withTests(project, selectSpec(project, graph, options.select));
  const excluded = withTests(project, selectSpec(project, graph, options.exclude ?? []));
  return [...chosen].filter((id) => !excluded.has(id)).sort();
}
