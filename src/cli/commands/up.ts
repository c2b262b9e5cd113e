// `pulse up`: the whole platform on one process: registry, log, sources, HTTP server and a live status line.

import { startPlatform } from "../../app/running-platform.ts";
import { UsageError } from "../../errors.ts";
import { configFromFlags, durationFlag, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import { parseBurst } from "./produce.ts";
import type { Command } from "../main.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";
import { StatusLine } from "../status.ts";

const OPTIONS = valueFlags(
  "duration",
  "rate",
  "port",
  "seed",
  "wikimedia",
  "burst",
  "window",
  "out-of-orderness",
);

export const upCommand: Command = {
  summary: "run the whole platform: registry, log, sources, the stream job, live API and HTTP server",
  usage:
    "pulse up [--duration <sec>] [--rate <events/s>] [--port 8501] [--data-dir ./data] [--seed N] [--wikimedia live|replay:<file>|off]\n" +
    "         [--window 1m] [--out-of-orderness 10s] [--burst +SEC,DURATION_SEC,MULTIPLIER]\n" +
    "  --window: the stream job's tumbling window (e.g. 1s, 10s, 1m). --burst: multiply the simulated rate\n" +
    "  for DURATION_SEC of event time, SEC after start; e.g.\n" +
    "  --window 1s --out-of-orderness 2s --burst +15,5,5 shows an alert in /api/live/alerts within 30 s.",
  async run(argv) {
    const { values } = parseCommandArgs("up", argv, OPTIONS);
    const wikimediaFlag = values.wikimedia;
    if (wikimediaFlag !== undefined && !/^(live|off|replay:.+)$/.test(wikimediaFlag)) {
      throw new UsageError(`--wikimedia must be live, off or replay:<file>, got '${wikimediaFlag}'`);
    }
    const config = configFromFlags(values, {
      "simulator.rate": numberFlag("rate", values.rate, { min: 0 }),
      "simulator.seed": numberFlag("seed", values.seed, { integer: true, min: 0 }),
      "server.port": numberFlag("port", values.port, { integer: true, min: 0 }),
      "wikimedia.source": wikimediaFlag,
    });
    const duration = numberFlag("duration", values.duration, { min: 0 });
    const windowMs = durationFlag("window", values.window) ?? 60_000;
    if (windowMs < 1) throw new UsageError("--window must be at least 1ms, e.g. 1s or 1m");
    const outOfOrdernessMs = durationFlag("out-of-orderness", values["out-of-orderness"]) ?? 10_000;
    const startTimeMs = Date.now();
    const burst = values.burst === undefined ? undefined : parseBurst(values.burst, startTimeMs);
    const stop = abortOnSignals();
    const signal = withDeadline(stop.signal, duration);
    const running = await startPlatform(config, {
      source: "up",
      port: config.server.port,
      windowMs,
      outOfOrdernessMs,
      startTimeMs,
      burst,
      onPartStopped: (part, message) => process.stderr.write(`\npulse up: ${part} stopped: ${message}\n`),
      onLiveFeedUnreachable: (reason) =>
        process.stderr.write(
          `\npulse up: Wikimedia live feed unreachable (${reason}); replaying the bundled sample in a loop instead, moved to the present\n`,
        ),
      onBadLine: (message) => process.stderr.write(`\n${message}\n`),
    });
    try {
      const { platform, wikimedia, url } = running;
      process.stdout.write(
        `pulse up: data in ${config.data_dir}; API on ${url} (GET /api/health, registry at ${url}/subjects, POST /api/v1/events)` +
          `${duration !== undefined ? `; stopping after ${duration}s` : "; Ctrl-C to stop"}\n`,
      );
      const status = new StatusLine({
        counters: [
          { label: "user-activity", read: () => platform.activity.counters.accepted },
          { label: "dlq", read: () => platform.activity.counters.rejected },
          { label: "wikimedia.recentchange", read: () => platform.wikimedia.counters.accepted },
          { label: "dlq", read: () => platform.wikimedia.counters.rejected },
          { label: "stream", read: () => running.progress()?.totals.input ?? 0 },
        ],
        suffix: () => `wikimedia: ${wikimedia.mode}${wikimedia.detail ? ` (${wikimedia.detail})` : ""}`,
      });
      status.start();
      await running.run(signal);
      status.stop();
      return 0;
    } finally {
      stop.dispose();
      await running.close();
    }
  },
};
