// `pulse up`: the whole platform on one process: registry, log, sources, HTTP server and a live status line.

import { retentionSchedulerWarning } from "../../app/retention.ts";
import { startPlatform } from "../../app/running-platform.ts";
import { UsageError } from "../../errors.ts";
import { configFromFlags, durationFlag, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import { parseBurst } from "./produce.ts";
import type { Command } from "../main.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";
import { describeAssignment, StatusLine, StreamCounts } from "../status.ts";

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
    // Messages clear the status line first once it is drawn; before that they are plain lines.
    let status: StatusLine | undefined;
    const say = (message: string): void => {
      if (status === undefined) process.stderr.write(`${message}\n`);
      else status.print(message, process.stderr);
    };
    // Counted per process and batch by batch, so they never fall when a rebalance moves partitions.
    const counts = new StreamCounts();
    let assigned: string | undefined;
    const retentionWarning = retentionSchedulerWarning(config);
    if (retentionWarning !== undefined) say(`pulse up: warning: ${retentionWarning}`);
    const running = await startPlatform(config, {
      source: "up",
      port: config.server.port,
      windowMs,
      outOfOrdernessMs,
      startTimeMs,
      burst,
      onPartStopped: (part, message) => say(`pulse up: ${part} stopped: ${message}`),
      onLiveFeedUnreachable: (reason) =>
        say(
          `pulse up: Wikimedia live feed unreachable (${reason}); replaying the bundled sample in a loop instead, moved to the present`,
        ),
      onBadLine: (message) => say(message),
      onRegistryUnavailable: (message) => say(`pulse up: ${message}`),
      onSchedulerLine: (line) => say(`pulse up: scheduler: ${line}`),
      onRetentionLine: (line) => say(`pulse up: ${line}`),
      onProgress: (progress) => counts.add(progress),
      onAssignment: (assignment, scalesOut) => {
        const owned = describeAssignment(assignment);
        // Only a group member's share changes; a lone job owns every partition.
        if (!scalesOut || owned === assigned) return;
        assigned = owned;
        say(`pulse up: stream job assigned ${owned === "" ? "no partitions" : owned}`);
      },
    });
    try {
      const { platform, wikimedia, url } = running;
      process.stdout.write(
        `pulse up: data in ${config.data_dir}; API on ${url} (GET /api/health, registry at ${url}/subjects, POST /api/v1/events)` +
          `${duration !== undefined ? `; stopping after ${duration}s` : "; Ctrl-C to stop"}\n`,
      );
      status = new StatusLine({
        counters: [
          { label: "user-activity", read: () => platform.activity.counters.accepted },
          { label: "dlq", read: () => platform.activity.counters.rejected },
          { label: "wikimedia.recentchange", read: () => platform.wikimedia.counters.accepted },
          { label: "dlq", read: () => platform.wikimedia.counters.rejected },
          { label: "stream", read: () => counts.read },
        ],
        suffix: () => `wikimedia: ${wikimedia.mode}${wikimedia.detail ? ` (${wikimedia.detail})` : ""}`,
      });
      status.start();
      const finishing = signal.aborted ? undefined : announceFinishing(signal, stop.signal, duration, say);
      try {
        await running.run(signal);
      } finally {
        finishing?.dispose();
      }
      status.stop();
      return 0;
    } finally {
      stop.dispose();
      await running.close();
    }
  },
};

/**
 * When --duration ends the run while a batch is still being committed, the run goes on past it: say so
 * rather than overrun silently (after a second, so a run that stops at once prints nothing).
 */
export function announceFinishing(
  signal: AbortSignal,
  userStop: AbortSignal,
  duration: number | undefined,
  say: (message: string) => void,
): { dispose(): void } {
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    const reason = userStop.aborted ? "stopping" : `--duration ${duration}s reached`;
    timer = setTimeout(
      () => say(`pulse up: ${reason}; finishing the batch in flight (it commits before the exit)`),
      1000,
    );
    timer.unref();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return {
    dispose() {
      signal.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
