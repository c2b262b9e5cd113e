// `pulse scheduler`: the orchestrator's scheduler alone, running the built-in DAGs until Ctrl-C or SIGTERM.

import { openOrchestrator } from "../../app/dags.ts";
import { UsageError } from "../../errors.ts";
import { configFromFlags, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";
import { abortOnSignals } from "../signals.ts";

export const schedulerCommand: Command = {
  summary: "run the scheduler of the batch DAGs (daily_metrics, intraday_metrics) until stopped",
  usage:
    "pulse scheduler [--data-dir <dir>] [--config <file>]\n" +
    "  Creates the runs that are due, runs their tasks (logs under <data_dir>/logs) and retries what failed;\n" +
    "  several schedulers may share a PostgreSQL run store (orchestrator.runs). pulse up runs one too.",
  async run(argv) {
    const { values, positionals } = parseCommandArgs("scheduler", argv, {});
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument '${positionals[0]}'; see pulse scheduler --help`);
    const config = configFromFlags(values);
    const orchestrator = await openOrchestrator(config, { taskProcesses: true });
    const signals = abortOnSignals();
    const stamp = () => new Date().toISOString().slice(11, 19);
    const scheduler = orchestrator.scheduler({
      log: (line) => process.stdout.write(`${stamp()}  ${line}\n`),
    });
    process.stdout.write(
      `${stamp()}  scheduler ${scheduler.owner}: ${orchestrator.dags.map((d) => `${d.id} (${d.schedule})`).join(", ")}; ` +
        `runs in ${config.orchestrator.runs}\n`,
    );
    scheduler.start();
    await new Promise<void>((resolve) =>
      signals.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    process.stdout.write(`${stamp()}  stopping: running tries are left to their leases\n`);
    try {
      await scheduler.stop();
    } finally {
      signals.dispose();
      await orchestrator.close();
    }
    return 0;
  },
};
