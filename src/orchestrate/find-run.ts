// A run named by its id or by the start of its logical date, as the CLI and the API accept it.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { Dag } from "./dag.ts";
import type { DagRun, RunStore } from "./runs/index.ts";

/** A run by its id, or by its logical date's start (2026-12-06 or 2026-12-06T00:00) when one run matches. */
export async function findRun(store: RunStore, dag: Dag, ref: string): Promise<DagRun> {
  const exact = await store.getRun(dag.id, ref);
  if (exact !== null) return exact;
  const runs = await store.listRuns(dag.id);
  const matching = runs.filter((r) => r.logicalDate.toISOString().startsWith(ref));
  if (matching.length === 1) return matching[0]!;
  const latest = runs.slice(-3).map((r) => r.runId);
  throw new OrchestrateError(
    OrchestrateErrorCode.notFound,
    matching.length > 1
      ? `"${ref}" matches ${matching.length} runs of DAG "${dag.id}" (${matching.map((r) => r.runId).join(", ")}); give the run id.`
      : `DAG "${dag.id}" has no run "${ref}"${latest.length ? `; its latest are ${latest.join(", ")}` : " (it has no runs)"}.`,
  );
}
