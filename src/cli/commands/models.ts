// `pulse models build|run|test|seed|compile|ls`: the dbt project built on the warehouse, with a dbt-like log and exit status.

import { runModelsCommand } from "../../app/models.ts";
import { UsageError } from "../../errors.ts";
import type { ModelsCommand, ModelsEvent, ModelsRun, NodeResult, RunnableNode } from "../../models/index.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";

const OPTIONS = {
  ...valueFlags("threads", "vars", "project-dir", "target-schema", "target-path"),
  select: { type: "string", short: "s", multiple: true },
  models: { type: "string", short: "m", multiple: true },
  exclude: { type: "string", multiple: true },
  "full-refresh": { type: "boolean" },
  "no-shared-views": { type: "boolean" },
} as const;

const SUBCOMMANDS: readonly ModelsCommand[] = ["build", "run", "test", "seed", "compile", "ls"];

/** A log line's width before its status, as dbt pads with dots. */
const LINE_WIDTH = 80;

export const modelsCommand: Command = {
  summary: "build the dbt project on the warehouse (build, run, test, seed, compile, ls), as dbt does",
  usage: [
    "pulse models build|run|test|seed|compile|ls [--select <spec>…] [--exclude <spec>…] [--threads N]",
    "                    [--full-refresh] [--vars '{key: value}'] [--project-dir analytics] [--target-schema S]",
    "                    [--target-path DIR]   (artifacts; default DBT_TARGET_PATH, else the project's target/)",
    "  Selectors: model, +model, model+, @model, tag:x, path:models/marts, source:raw; space-separated",
    "  words are a union, commas intersect. Exits 1 when a node errors or an error-severity test fails.",
    "  --threads: nodes at once; default 1 on DuckDB (each statement uses every core), 4 elsewhere.",
    "  --no-shared-views: on DuckDB, each node reads a view itself, even when several read it (by default",
    "  the run computes such a view once, into memory: docs/batch.md).",
    "  Common: --json (a summary), --data-dir, --config.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseCommandArgs("models", argv, OPTIONS);
    const command = positionals[0] as ModelsCommand | undefined;
    if (command === undefined || !SUBCOMMANDS.includes(command))
      throw new UsageError(`pulse models needs one of ${SUBCOMMANDS.join(", ")}, e.g. pulse models build`);
    if (positionals.length > 1)
      throw new UsageError(`unexpected argument '${positionals[1]}'; pass selectors with --select`);
    const threads = numberFlag("threads", values.threads, { integer: true, min: 1 });
    const vars = await parseVars(values.vars);
    const json = values.json === true;
    const out = (line: string): void => {
      if (!json) process.stdout.write(`${clock()}  ${line}\n`);
    };
    const run = await runModelsCommand(configFromFlags(values), {
      command,
      projectDir: values["project-dir"],
      targetSchema: values["target-schema"],
      targetPath: values["target-path"],
      select: [
        ...((values.select as string[] | undefined) ?? []),
        ...((values.models as string[] | undefined) ?? []),
      ],
      exclude: (values.exclude as string[] | undefined) ?? [],
      threads,
      fullRefresh: values["full-refresh"] === true,
      shareViews: values["no-shared-views"] !== true,
      vars,
      onEvent: (event) => {
        if (event.kind === "result") out(resultLine(event));
        else if (event.kind === "shared") out(sharedLine(event));
      },
    });
    if (command === "ls") {
      if (json) process.stdout.write(`${JSON.stringify({ selected: run.selected })}\n`);
      else for (const name of run.selected) process.stdout.write(`${name}\n`);
      return 0;
    }
    if (json) process.stdout.write(`${JSON.stringify(summaryOf(run))}\n`);
    else for (const line of closingLines(run)) out(line);
    return run.ok ? 0 : 1;
  },
};

async function parseVars(text: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (text === undefined) return undefined;
  const { parse } = await import("yaml");
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    throw new UsageError(`--vars must be a YAML or JSON mapping, e.g. --vars '{start_date: "2024-01-01"}'`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new UsageError(`--vars must be a mapping of names to values, e.g. --vars '{days: 3}'`);
  return value as Record<string, unknown>;
}

export function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

function padded(left: string, right: string): string {
  const dots = Math.max(3, LINE_WIDTH - left.length - 1);
  return `${left} ${".".repeat(dots)} ${right}`;
}

function seconds(result: NodeResult): string {
  return `${result.executionTimeSec.toFixed(2)}s`;
}

/** A quoted relation name as the log shows it: `"s"."m"` → `s.m`. */
function unquoted(relationName: string): string {
  return relationName.replaceAll('"', "").replaceAll("`", "");
}

/** What a node is in a log line: `sql table model schema.name`, `seed file schema.name`, `test name`. */
function describeNode(node: RunnableNode, relationName: string | undefined): string {
  const where = relationName === undefined ? node.name : unquoted(relationName);
  if (node.resourceType === "model") return `sql ${node.config.materialized} model ${where}`;
  if (node.resourceType === "seed") return `seed file ${where}`;
  return node.name;
}

/** A view computed once for its readers: `Shared view s.v in memory for 9 nodes (7 of 13 columns) ... [OK in 3.21s]`. */
export function sharedLine(event: Extract<ModelsEvent, { kind: "shared" }>): string {
  return padded(
    `Shared view ${unquoted(event.relationName)} in memory for ${event.readers} nodes (${event.columns} of ${event.ofColumns} columns)`,
    `[OK in ${event.seconds.toFixed(2)}s]`,
  );
}

/** dbt's result line: `3 of 9 OK created sql view model s.m ....... [OK in 0.05s]`. */
export function resultLine(event: Extract<ModelsEvent, { kind: "result" }>): string {
  const { node, result } = event;
  const prefix = `${event.index} of ${event.total}`;
  const outcome = result.outcome;
  const what = describeNode(node, event.relationName);
  switch (outcome.status) {
    case "success":
      if (outcome.message === "compiled")
        return padded(`${prefix} OK compiled ${node.name}`, `[OK in ${seconds(result)}]`);
      if (node.resourceType === "seed")
        return padded(`${prefix} OK loaded ${what}`, `[${outcome.adapterMessage} in ${seconds(result)}]`);
      return padded(`${prefix} OK created ${what}`, `[OK in ${seconds(result)}]`);
    case "pass":
      return padded(`${prefix} PASS ${what}`, `[PASS in ${seconds(result)}]`);
    case "warn":
      return padded(
        `${prefix} WARN ${outcome.failures} ${what}`,
        `[WARN ${outcome.failures} in ${seconds(result)}]`,
      );
    case "fail":
      return padded(
        `${prefix} FAIL ${outcome.failures} ${what}`,
        `[FAIL ${outcome.failures} in ${seconds(result)}]`,
      );
    case "skipped":
      return padded(
        `${prefix} SKIP ${node.resourceType === "test" ? `test ${node.name}` : `relation ${what}`}`,
        "[SKIP]",
      );
    default:
      return padded(
        `${prefix} ERROR ${node.resourceType === "test" ? what : `creating ${what}`}`,
        `[ERROR in ${seconds(result)}]`,
      );
  }
}

/** The closing lines: what ran, each error and failure with its message, and the PASS/WARN/ERROR/SKIP line. */
export function closingLines(run: ModelsRun): string[] {
  const kinds = { model: 0, seed: 0, test: 0 };
  for (const result of run.results) kinds[run.project.nodes.get(result.uniqueId)!.resourceType]++;
  const parts = Object.entries(kinds)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${kind}${n === 1 ? "" : "s"}`);
  const lines = [
    "",
    `Finished running ${parts.join(", ") || "nothing"} in ${run.elapsedSec.toFixed(2)} seconds.`,
  ];
  const problems = run.results.filter((r) => ["error", "fail", "warn"].includes(r.outcome.status));
  if (problems.length > 0) {
    const errors = problems.filter((r) => r.outcome.status !== "warn").length;
    lines.push(
      "",
      errors > 0
        ? `Completed with ${errors} error${errors === 1 ? "" : "s"} and ${problems.length - errors} warning${problems.length - errors === 1 ? "" : "s"}:`
        : `Completed with ${problems.length} warning${problems.length === 1 ? "" : "s"}:`,
    );
    for (const result of problems) {
      const node = run.project.nodes.get(result.uniqueId)!;
      const kind =
        result.outcome.status === "error"
          ? "Error"
          : result.outcome.status === "fail"
            ? "Failure"
            : "Warning";
      lines.push("", `${kind} in ${node.resourceType} ${node.name} (${node.originalFilePath})`);
      for (const line of (result.outcome.message ?? "").split("\n")) lines.push(`  ${line}`);
    }
  }
  const c = run.counts;
  lines.push("", `Done. PASS=${c.pass} WARN=${c.warn} ERROR=${c.error} SKIP=${c.skip} TOTAL=${c.total}`);
  return lines;
}

/** The `--json` summary: counts, and each node's status; fields are only ever added. */
export function summaryOf(run: ModelsRun) {
  return {
    ok: run.ok,
    invocation_id: run.invocationId,
    elapsed_sec: run.elapsedSec,
    counts: run.counts,
    results: run.results.map((r) => ({
      unique_id: r.uniqueId,
      status: r.outcome.status,
      failures: r.outcome.failures,
      message: r.outcome.message,
      relation_name: r.relationName ?? null,
      execution_time: r.executionTimeSec,
    })),
  };
}
