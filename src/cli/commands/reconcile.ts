// `pulse reconcile --date D`: the day's speed = batch reconciliation, written to pulse_audit.reconciliation and printed.

import { pipelineTasks } from "../../app/pipeline-tasks.ts";
import { UsageError } from "../../errors.ts";
import { configFromFlags, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";

export const reconcileCommand: Command = {
  summary: "reconcile a day: fct_daily_user_metrics against the speed layer's counts and late events",
  usage:
    "pulse reconcile --date YYYY-MM-DD [--run-id ID] [--json] [--data-dir <dir>] [--config <file>]\n" +
    "  Per event_type: batch = speed + late, where late counts the events the speed layer set aside and never\n" +
    "  counted on time. Writes pulse_audit.reconciliation; exits 1 when a difference is unexplained.",
  async run(argv) {
    const { values, positionals } = parseCommandArgs("reconcile", argv, valueFlags("date", "run-id"));
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument '${positionals[0]}'; see pulse reconcile --help`);
    if (values.date === undefined) throw new UsageError("pulse reconcile needs --date YYYY-MM-DD");
    const tasks = pipelineTasks(configFromFlags(values));
    const records = await tasks.reconcile(values.date, values["run-id"]);
    if (values.json) process.stdout.write(`${JSON.stringify({ records })}\n`);
    else
      for (const r of records)
        process.stdout.write(
          `${r.activity_date} ${r.event_type.padEnd(12)} batch ${r.batch_count} = speed ${r.speed_count} + late ${r.late_count}` +
            `  (late copies ${r.late_copies}, not loaded ${r.late_pending})  unexplained ${r.unexplained}\n`,
        );
    return 0;
  },
};
