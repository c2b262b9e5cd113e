// `pulse serve`: the HTTP server alone (health, schema registry API, collector, the dashboard and its APIs), until Ctrl-C.

import { startServer } from "../../app/serving.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";

export const serveCommand: Command = {
  summary: "run the HTTP server alone: GET /api/health, the schema registry API, POST /api/v1/events",
  usage: "pulse serve [--port 8501] [--duration SEC] [--data-dir <dir>] [--config <file>]",
  async run(argv) {
    const { values } = parseCommandArgs("serve", argv, valueFlags("port", "duration"));
    const config = configFromFlags(values, {
      "server.port": numberFlag("port", values.port, { integer: true, min: 0 }),
    });
    const stop = abortOnSignals();
    const signal = withDeadline(stop.signal, numberFlag("duration", values.duration, { min: 0 }));
    const running = await startServer(config, { port: config.server.port, source: "collector" });
    try {
      const { url } = running;
      process.stdout.write(
        `pulse serve: listening on ${url} (health: ${url}/api/health, registry: ${url}/subjects)\n`,
      );
      await running.run(signal);
      return 0;
    } finally {
      stop.dispose();
      await running.close();
    }
  },
};
