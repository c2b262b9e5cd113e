// `pulse batch [--date D]…`: the batch layer in one command: load the raw lake into the warehouse, then build the project (models and tests).

import { runBatch } from "../../app/batch.ts";
import { UsageError } from "../../errors.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";
import { loadLines, loadSummaryOf } from "./load.ts";
import { clock, closingLines, resultLine, sharedLine, summaryOf } from "./models.ts";

const OPTIONS = {
  ...valueFlags("threads", "project-dir", "target-path"),
  date: { type: "string", multiple: true },
} as const;

export const batchCommand: Command = {
  summary: "load new raw-lake events into the warehouse, then build the dbt project (models and tests)",
  usage:
    "pulse batch [--date YYYY-MM-DD]... [--threads N] [--project-dir analytics] [--target-path DIR] [--json] [--data-dir <dir>] [--config <file>]\n" +
    "  Exits 1 when a model errors or an error-severity test fails (what depends on it is skipped).",
  async run(argv) {
    const { values, positionals } = parseCommandArgs("batch", argv, OPTIONS);
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument '${positionals[0]}'; see pulse batch --help`);
    const json = values.json === true;
    const out = (line: string): void => {
      if (!json) process.stdout.write(`${clock()}  ${line}\n`);
    };
    const run = await runBatch(configFromFlags(values), {
      reloadDays: values.date as string[] | undefined,
      projectDir: values["project-dir"],
      targetPath: values["target-path"],
      threads: numberFlag("threads", values.threads, { integer: true, min: 1 }),
      onEvent: (event) => {
        if (event.kind === "result") out(resultLine(event));
        else if (event.kind === "shared") out(sharedLine(event));
      },
    });
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ load: loadSummaryOf(run.load), models: summaryOf(run.models) })}\n`,
      );
    } else {
      for (const line of loadLines(run.load)) out(line);
      for (const line of closingLines(run.models)) out(line);
    }
    return run.models.ok ? 0 : 1;
  },
};
