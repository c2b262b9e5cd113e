// `pulse serve`: the HTTP server alone (health, schema registry API, collector), until Ctrl-C.

import { configFromFlags, numberFlag, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";
import { openPlatform } from "../platform.ts";
import { startServing } from "../serving.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";

export const serveCommand: Command = {
  summary: "run the HTTP server alone: GET /api/health, the schema registry API, POST /api/v1/events",
  usage: "pulse serve [--port 8501] [--duration SEC] [--data-dir <dir>] [--config <file>]",
  async run(argv) {
    const { values } = parseCommandArgs("serve", argv, {
      port: { type: "string" },
      duration: { type: "string" },
    });
    const config = configFromFlags(values, {
      "server.port": numberFlag("port", values.port, { integer: true, min: 0 }),
    });
    const stop = abortOnSignals();
    const signal = withDeadline(stop.signal, numberFlag("duration", values.duration, { min: 0 }));
    const platform = await openPlatform(config, { source: "collector" });
    try {
      const serving = await startServing(platform, config.server.port);
      process.stdout.write(
        `pulse serve: listening on ${serving.url} (health: ${serving.url}/api/health, registry: ${serving.url}/subjects)\n`,
      );
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await serving.server.close();
      return 0;
    } finally {
      stop.dispose();
      await platform.close();
    }
  },
};
