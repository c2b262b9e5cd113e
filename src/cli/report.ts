// Commands that print one report read from one part: as JSON with --json, otherwise as lines of text.

import type { PulseConfig } from "../config/index.ts";
import { configFromFlags, parseCommandArgs } from "./args.ts";
import type { Command } from "./main.ts";

export interface ReportCommandSpec<P extends { close(): void | Promise<void> }, R> {
  name: string;
  summary: string;
  usage: string;
  /** Opens the part the report is read from; it is closed once the report is printed. */
  open(config: PulseConfig): Promise<P>;
  read(part: P): Promise<R>;
  /** The report as text, a string a line. */
  lines(report: R): string[];
}

export function reportCommand<P extends { close(): void | Promise<void> }, R>(
  spec: ReportCommandSpec<P, R>,
): Command {
  return {
    summary: spec.summary,
    usage: spec.usage,
    async run(argv) {
      const { values } = parseCommandArgs(spec.name, argv, {});
      const part = await spec.open(configFromFlags(values));
      try {
        const report = await spec.read(part);
        if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else for (const line of spec.lines(report)) process.stdout.write(`${line}\n`);
        return 0;
      } finally {
        await part.close();
      }
    },
  };
}
