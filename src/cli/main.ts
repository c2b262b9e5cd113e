// The `pulse` command: dispatches to one module per subcommand and turns errors into one clear line.

import { PulseError, UsageError } from "../errors.ts";

export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import("./commands/up.ts")).upCommand,
  produce: async () => (await import("./commands/produce.ts")).produceCommand,
  topics: async () => (await import("./commands/topics.ts")).topicsCommand,
  schemas: async () => (await import("./commands/schemas.ts")).schemasCommand,
  stream: async () => (await import("./commands/stream.ts")).streamCommand,
  serve: async () => (await import("./commands/serve.ts")).serveCommand,
  live: async () => (await import("./commands/live.ts")).liveCommand,
  load: async () => (await import("./commands/load.ts")).loadCommand,
  query: async () => (await import("./commands/query.ts")).queryCommand,
  batch: async () => (await import("./commands/batch.ts")).batchCommand,
  models: async () => (await import("./commands/models.ts")).modelsCommand,
  reconcile: async () => (await import("./commands/reconcile.ts")).reconcileCommand,
  dags: async () => (await import("./commands/dags.ts")).dagsCommand,
  scheduler: async () => (await import("./commands/scheduler.ts")).schedulerCommand,
  config: async () => (await import("./commands/config.ts")).configCommand,
};

async function helpText(): Promise<string> {
  const lines = [
    "Pulse: streaming + batch monitoring for activity data.",
    "",
    "Usage: pulse <command> [flags]",
    "",
    "Commands:",
  ];
  for (const [name, load] of Object.entries(COMMANDS))
    lines.push(`  ${name.padEnd(9)} ${(await load()).summary}`);
  lines.push(
    "",
    "Every command accepts --data-dir <dir> (default ./data, or PULSE_DATA_DIR), --config <file> and --help.",
  );
  return lines.join("\n");
}

let watchingStdout = false;

/**
 * A reader that goes away (`pulse live activity | head`) ends the command quietly, as SIGPIPE ends a
 * Unix tool, instead of with an EPIPE stack trace. Any other stdout error stays fatal.
 */
function endQuietlyOnClosedStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? 0);
  });
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedStdout();
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${await helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(
      `pulse: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(", ")}.\n`,
    );
    return 2;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof PulseError) {
      process.stderr.write(`pulse ${name}: ${error.message} [${error.code}]\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    throw error;
  }
}
