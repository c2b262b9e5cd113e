// The graph stage: refs and sources resolved to nodes, a cycle or a missing node named, and a deterministic order.

import { ModelError, ModelErrorCode } from "../errors.ts";
import type { Project, RefCall, RunnableNode } from "./nodes.ts";

/** The DAG of a project: runnable nodes and sources, each id's parents and children sorted. */
export interface Graph {
  ids: string[];
  parents: Map<string, string[]>;
  children: Map<string, string[]>;
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

function describe(node: RunnableNode): string {
  return `${node.resourceType} '${node.name}'`;
}

/** Resolves one ref() or source() of `node` to a unique id; a missing or disabled target is an error naming both. */
function resolveRef(
  project: Project,
  node: RunnableNode,
  ref: RefCall,
  byName: Map<string, RunnableNode>,
): string {
  const where = `${ref.at.file}:${ref.at.line}`;
  const fail = (what: string, fix: string): never => {
    throw new ModelError(
      ModelErrorCode.missingRef,
      `${where}: ${describe(node)} (${node.uniqueId}) ${what}. ${fix}`,
      {
        location: ref.at,
        details: { node: node.uniqueId },
      },
    );
  };
  if (ref.kind === "source") {
    const [sourceName, table] = ref.args;
    const id = `source.${project.name}.${sourceName}.${table}`;
    if (!project.sources.has(id)) {
      const tables = [...project.sources.values()]
        .filter((s) => s.sourceName === sourceName)
        .map((s) => s.name);
      fail(
        `reads source('${sourceName}', '${table}'), which is not declared`,
        tables.length > 0
          ? `Source '${sourceName}' has the tables ${tables.join(", ")}; add '${table}' under its tables: in a .yml file`
          : `Declare it under sources: in a .yml file in ${project.modelPaths[0]}/`,
      );
    }
    return id;
  }
  const call = `ref(${ref.args.map((arg) => `'${arg}'`).join(", ")})`;
  if (ref.args.length === 2 && ref.args[0] !== project.name)
    fail(
      `reads ${call} from package '${ref.args[0]}'`,
      "Packages are not supported: use ref('model') for this project's models",
    );
  const name = ref.args[ref.args.length - 1]!;
  const target = byName.get(name);
  if (target === undefined) {
    const disabled = [...project.disabled.values()].find((d) => d.name === name && d.resourceType !== "test");
    if (disabled !== undefined)
      fail(
        `depends on ${describe(disabled)} (${disabled.uniqueId}, ${disabled.originalFilePath}), which is disabled`,
        "Enable it, or disable this node too",
      );
    fail(
      `depends on '${name}' with ${call}, but no model or seed is named '${name}'`,
      `Create ${project.modelPaths[0]}/${name}.sql, or fix the name`,
    );
  }
  return target!.uniqueId;
}

/** Resolves every node's refs into its dependsOn and builds the graph; a cycle is an error listing its nodes. */
export function buildGraph(project: Project): Graph {
  const byName = new Map<string, RunnableNode>();
  for (const node of project.nodes.values()) if (node.resourceType !== "test") byName.set(node.name, node);
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const id of project.sources.keys()) parents.set(id, []);
  for (const node of project.nodes.values()) {
    node.dependsOn = sorted(node.refs.map((ref) => resolveRef(project, node, ref, byName)));
    parents.set(node.uniqueId, node.dependsOn);
    if (node.resourceType === "test" && node.testMetadata === undefined) {
      const models = node.dependsOn.filter((id) => !id.startsWith("source."));
      node.attachedNode = models.length === 1 ? models[0] : undefined;
    }
  }
  const ids = sorted(parents.keys());
  for (const id of ids) children.set(id, []);
  for (const id of ids) for (const parent of parents.get(id)!) children.get(parent)!.push(id);
  for (const list of children.values()) list.sort();
  const graph = { ids, parents, children };
  checkAcyclic(project, graph);
  return graph;
}

function checkAcyclic(project: Project, graph: Graph): void {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, "open");
    stack.push(id);
    for (const parent of graph.parents.get(id) ?? []) {
      const seen = state.get(parent);
      if (seen === "open") {
        const cycle = [...stack.slice(stack.indexOf(parent)), parent].reverse();
        const label = (nodeId: string): string => {
          const node = project.nodes.get(nodeId);
          return node === undefined ? nodeId : `${nodeId} (${node.originalFilePath})`;
        };
        throw new ModelError(
          ModelErrorCode.cycle,
          `the refs form a cycle: ${cycle.map(label).join(" → ")}. Remove one of these refs`,
          { details: { cycle }, location: { file: project.nodes.get(cycle[0]!)?.originalFilePath ?? "" } },
        );
      }
      if (seen === undefined) visit(parent);
    }
    stack.pop();
    state.set(id, "done");
  };
  for (const id of graph.ids) if (!state.has(id)) visit(id);
}

/** The ids in dependency order (parents first), ties broken by id: the same project gives the same order. */
export function topologicalOrder(
  ids: Iterable<string>,
  parentsOf: (id: string) => readonly string[],
): string[] {
  const wanted = new Set(ids);
  const pending = new Map<string, number>();
  const childrenOf = new Map<string, string[]>();
  for (const id of wanted) {
    const inside = parentsOf(id).filter((parent) => wanted.has(parent));
    pending.set(id, inside.length);
    for (const parent of inside) {
      const list = childrenOf.get(parent) ?? [];
      list.push(id);
      childrenOf.set(parent, list);
    }
  }
  const ready = [...wanted].filter((id) => pending.get(id) === 0).sort();
  const out: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    out.push(id);
    for (const child of childrenOf.get(id) ?? []) {
      const left = pending.get(child)! - 1;
      pending.set(child, left);
      if (left === 0) {
        const at = ready.findIndex((other) => other > child);
        ready.splice(at === -1 ? ready.length : at, 0, child);
      }
    }
  }
  return out;
}

/** Every id upstream of `id` (not itself), up to `depth` generations (undefined: all). */
export function ancestors(graph: Graph, id: string, depth?: number): Set<string> {
  return reach(graph.parents, id, depth);
}

/** Every id downstream of `id` (not itself), up to `depth` generations (undefined: all). */
export function descendants(graph: Graph, id: string, depth?: number): Set<string> {
  return reach(graph.children, id, depth);
}

function reach(edges: Map<string, string[]>, start: string, depth: number | undefined): Set<string> {
  const out = new Set<string>();
  let frontier = [start];
  for (let level = 0; frontier.length > 0 && (depth === undefined || level < depth); level++) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const other of edges.get(id) ?? []) {
        if (out.has(other) || other === start) continue;
        out.add(other);
        next.push(other);
      }
    }
    frontier = next;
  }
  return out;
}
