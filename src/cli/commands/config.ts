// `pulse config`: prints the effective configuration, or the table of every key.

import { describeConfig } from "../../config/index.ts";
import { configFromFlags, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";

export const configCommand: Command = {
  summary: "print the effective configuration (--keys: every key with its variable and default)",
  usage: "pulse config [--keys] [--json] [--config <file>] [--data-dir <dir>]",
  async run(argv) {
    const { values } = parseCommandArgs("config", argv, { keys: { type: "boolean" } });
    if (values.keys) {
      const rows = describeConfig();
      if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else
        for (const row of rows)
          process.stdout.write(
            `${row.key.padEnd(32)} ${(row.env ?? "").padEnd(22)} ${JSON.stringify(row.default).padEnd(24)} ${row.doc}\n`,
          );
      return 0;
    }
    const config = configFromFlags(values);
    const shown = {
      ...config,
      collector: { ...config.collector, api_keys: config.collector.api_keys.map(() => "***") },
    };
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return 0;
  },
};
