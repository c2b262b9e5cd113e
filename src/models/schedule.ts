// The schedule: which nodes a command runs, in which order, how many at once, and what a failure skips.

/*
 * The run graph holds only the nodes the command runs. A node's parents there are its nearest
 * ancestors in the run set, found through nodes left out of it (an unselected model, an ephemeral, a
 * source), as dbt's subset graph keeps transitive edges. For `build`, a test also runs before every
 * node downstream of all it tests (dbt's test edges), so a failing test can stop them.
 * Nodes whose parents are done start in topological order (ties by unique id), up to `threads` at once.
 * A blocking result (a model or seed error, a test error or error-severity failure) skips every node
 * downstream of it in the run graph; a warning blocks nothing.
 */

import { ancestors, type Graph, topologicalOrder } from "./graph.ts";

export interface RunGraph {
  /** The nodes to run, in dependency order. */
  order: string[];
  parents: Map<string, string[]>;
  children: Map<string, string[]>;
}

/** The run graph of `runSet` within `graph`; `testEdges` adds dbt build's edges from tests to what depends on their nodes. */
export function runGraph(
  graph: Graph,
  runSet: ReadonlySet<string>,
  isTest: (id: string) => boolean,
  testEdges: boolean,
): RunGraph {
  const nearest = new Map<string, string[]>();
  const nearestOf = (id: string): string[] => {
    const cached = nearest.get(id);
    if (cached !== undefined) return cached;
    const out = new Set<string>();
    for (const parent of graph.parents.get(id) ?? []) {
      if (runSet.has(parent)) out.add(parent);
      else for (const up of nearestOf(parent)) out.add(up);
    }
    const list = [...out].sort();
    nearest.set(id, list);
    return list;
  };
  const parents = new Map<string, Set<string>>();
  for (const id of runSet) parents.set(id, new Set(nearestOf(id)));
  if (testEdges) {
    const ancestorSets = new Map<string, Set<string>>();
    const ancestorsOf = (id: string): Set<string> => {
      let set = ancestorSets.get(id);
      if (set === undefined) {
        set = ancestors(graph, id);
        ancestorSets.set(id, set);
      }
      return set;
    };
    for (const test of runSet) {
      if (!isTest(test)) continue;
      const tested = graph.parents.get(test) ?? [];
      if (tested.length === 0) continue;
      for (const id of runSet) {
        if (isTest(id) || id === test) continue;
        const up = ancestorsOf(id);
        if (tested.every((parent) => up.has(parent))) parents.get(id)!.add(test);
      }
    }
  }
  const parentLists = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const id of runSet) children.set(id, []);
  for (const [id, set] of parents) {
    const list = [...set].sort();
    parentLists.set(id, list);
    for (const parent of list) children.get(parent)!.push(id);
  }
  for (const list of children.values()) list.sort();
  const order = topologicalOrder(runSet, (id) => parentLists.get(id) ?? []);
  return { order, parents: parentLists, children };
}

export interface ScheduleOptions {
  graph: RunGraph;
  threads: number;
  /** Runs one node on thread `threadId` (1-based); true when its result must skip what depends on it. */
  run(id: string, threadId: number): Promise<boolean>;
  /** Called once for each node skipped, with the node whose result skipped it. */
  skip(id: string, because: string): void;
}

/** Runs the graph; resolves when every node has run or been skipped. */
export async function schedule(options: ScheduleOptions): Promise<void> {
  const { graph } = options;
  const rank = new Map(graph.order.map((id, i) => [id, i]));
  const waiting = new Map(graph.order.map((id) => [id, graph.parents.get(id)?.length ?? 0]));
  const ready = graph.order.filter((id) => waiting.get(id) === 0);
  const done = new Set<string>();
  const freeThreads = Array.from({ length: Math.max(1, options.threads) }, (_, i) => i + 1);
  let running = 0;

  const skipDownstream = (failed: string): void => {
    const stack = [...(graph.children.get(failed) ?? [])];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (done.has(id)) continue;
      done.add(id);
      waiting.delete(id);
      const at = ready.indexOf(id);
      if (at !== -1) ready.splice(at, 1);
      options.skip(id, failed);
      stack.push(...(graph.children.get(id) ?? []));
    }
  };
  const release = (finished: string): void => {
    for (const child of graph.children.get(finished) ?? []) {
      if (done.has(child)) continue;
      const left = waiting.get(child)! - 1;
      waiting.set(child, left);
      if (left === 0) {
        const at = ready.findIndex((other) => rank.get(other)! > rank.get(child)!);
        ready.splice(at === -1 ? ready.length : at, 0, child);
      }
    }
  };

  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (ready.length > 0 && freeThreads.length > 0) {
        const id = ready.shift()!;
        const thread = freeThreads.shift()!;
        done.add(id);
        running++;
        options.run(id, thread).then(
          (blocking) => {
            running--;
            freeThreads.push(thread);
            freeThreads.sort((a, b) => a - b);
            if (blocking) skipDownstream(id);
            else release(id);
            pump();
          },
          (error: unknown) => reject(error),
        );
      }
      if (running === 0 && ready.length === 0) resolve();
    };
    pump();
  });
}
