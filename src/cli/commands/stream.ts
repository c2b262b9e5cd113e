// `pulse stream [--drain]`: runs the speed layer over the log into the live store, with a status line and a summary.

import { openStreaming } from "../../app/streaming.ts";
import { TOPICS } from "../../contracts/types.ts";
import { StoreErrorCode, UsageError } from "../../errors.ts";
import { DEFAULT_JOB_NAME, type StreamJob, type StreamRunSummary } from "../../stream/job/index.ts";
import { hoppingWindow } from "../../stream/windows.ts";
import { configFromFlags, durationFlag, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";
import { abortOnSignals } from "../signals.ts";
import { describeAssignment, StatusLine, StreamCounts } from "../status.ts";

const OPTIONS = {
  ...valueFlags(
    "window",
    "slide",
    "out-of-orderness",
    "lateness",
    "topics",
    "job",
    "max-batch",
    "checkpoint-interval",
    "alert-threshold",
  ),
  drain: { type: "boolean" },
  "no-raw-lake": { type: "boolean" },
  "no-alerts": { type: "boolean" },
} as const;

/** The `--json` summary; fields are only ever added (docs/cli.md). */
export interface StreamSummary {
  job: string;
  topics: string[];
  /** True when the run drained its input and every window is final. */
  drained: boolean;
  /** Records read by this run. */
  read: number;
  /** The job's totals over its whole life (restored from checkpoints): records read, valid or not. */
  input: number;
  /** Events counted in windows. */
  accepted: number;
  duplicates: number;
  late: number;
  /** Counted in their open windows, but some of their windows were already final (hopping windows). */
  partially_late: number;
  dead_lettered: number;
  /** Distinct windows of the configured length finalised by this run. */
  windows_final: number;
  /** Event-time watermark reached (before any end-of-input advance); null before the first event. */
  watermark_ms: number | null;
  elapsed_ms: number;
  /** read / elapsed time of this run. */
  records_per_sec: number;
  /** From the first batch that read records: the reading without start-up (null if none was read). */
  reading_ms: number | null;
  reading_records_per_sec: number | null;
}

export const streamCommand: Command = {
  summary: "run the speed layer: event-time windows from the log into the live store",
  usage: [
    "pulse stream [--drain] [--window 1m] [--slide 1m] [--out-of-orderness 10s] [--lateness 0s]",
    "             [--topics user-activity,wikimedia.recentchange] [--job NAME] [--max-batch N] [--no-raw-lake]",
    "             [--no-alerts] [--alert-threshold Z] [--checkpoint-interval 10s]",
    "  Alerts: each final window's count is scored against an EWMA baseline; |z| above --alert-threshold",
    "  (default 4) goes to the `alerts` topic and the live store. --no-alerts switches this off.",
    "  --checkpoint-interval: how often the window and dedup state is saved (default 10s; 0 = every batch).",
    "  Rows and offsets commit every batch; a restart replays the log from the last saved state.",
    "  --drain: process everything in the log now, make every window final, and exit (bounded input).",
    "  Without it, runs until Ctrl-C; the batch in flight commits before the exit.",
    "  A drained job stays at the end of its input: records produced later are late for it; use a new --job.",
    "  Common: --json, --data-dir, --config.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseCommandArgs("stream", argv, OPTIONS);
    if (positionals.length > 0) {
      throw new UsageError(`pulse stream takes no arguments, got '${positionals[0]}'`);
    }
    const sizeMs = durationFlag("window", values.window) ?? 60_000;
    const slideMs = durationFlag("slide", values.slide) ?? sizeMs;
    if (sizeMs <= 0 || slideMs <= 0 || slideMs > sizeMs) {
      throw new UsageError("--window and --slide must be > 0, with --slide no longer than --window");
    }
    const outOfOrdernessMs = durationFlag("out-of-orderness", values["out-of-orderness"]) ?? 10_000;
    const allowedLatenessMs = durationFlag("lateness", values.lateness) ?? 0;
    const topics = (values.topics ?? `${TOPICS.activity},${TOPICS.wikimedia}`)
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
    for (const topic of topics) {
      if (topic !== TOPICS.activity && topic !== TOPICS.wikimedia) {
        throw new UsageError(
          `--topics: unknown topic '${topic}'; use ${TOPICS.activity} and/or ${TOPICS.wikimedia}`,
        );
      }
    }
    if (topics.length === 0) throw new UsageError("--topics needs at least one topic");
    const maxBatchRecords = numberFlag("max-batch", values["max-batch"], { integer: true, min: 1 });
    const checkpointIntervalMs = durationFlag("checkpoint-interval", values["checkpoint-interval"]);
    const alertThreshold = numberFlag("alert-threshold", values["alert-threshold"], { min: 0 });
    if (alertThreshold === 0) throw new UsageError("--alert-threshold must be > 0, got '0'");
    if (values["no-alerts"] === true && alertThreshold !== undefined) {
      throw new UsageError("--no-alerts and --alert-threshold exclude each other; pass one of them");
    }
    const config = configFromFlags(values);

    // With --json, stdout holds only the summary; the status goes to a terminal on stderr, if any.
    const out = values.json ? process.stderr : process.stdout;
    const showStatus = !values.json || process.stderr.isTTY === true;
    const stop = abortOnSignals();
    // Messages clear the status line first once it is drawn; before that they are plain lines.
    let status: StatusLine | undefined;
    const say = (message: string, to: NodeJS.WritableStream = process.stderr): void => {
      if (status === undefined) to.write(`${message}\n`);
      else status.print(message, to);
    };
    // Counted per process and batch by batch, so they never fall when a rebalance moves partitions.
    const counts = new StreamCounts();
    let assigned: string | undefined;
    try {
      const streaming = await openStreaming(config, {
        source: "stream",
        onRegistryUnavailable: (message) => say(`pulse stream: ${message}`),
        job: {
          job: values.job ?? DEFAULT_JOB_NAME,
          topics,
          window: hoppingWindow(sizeMs, slideMs),
          outOfOrdernessMs,
          allowedLatenessMs,
          maxBatchRecords,
          checkpointIntervalMs,
          rawLake: values["no-raw-lake"] !== true,
          anomaly: values["no-alerts"] === true ? false : { threshold: alertThreshold },
          onProgress: (progress) => counts.add(progress),
          onRetry: (error, attempt, delayMs) => {
            say(
              (error as { code?: string }).code === StoreErrorCode.conflict
                ? `pulse stream: ${error.message} The job dropped that batch and reloads the partitions it owns from their checkpoints, then goes on; nothing is counted twice.`
                : `pulse stream: the live store refused the commit (${error.message}); holding the batch, retry ${attempt} in ${describeMs(delayMs)}`,
            );
          },
          onAssignment: (assignment) => {
            // Only a group member's share changes; a lone job owns every partition. Printed when it changes.
            const owned = describeAssignment(assignment);
            if (!streaming.job.scalesOut || !showStatus || owned === assigned) return;
            assigned = owned;
            say(
              `pulse stream: consumer group ${streaming.job.job} assigned ${owned === "" ? "no partitions" : owned}`,
              out,
            );
          },
        },
      });
      try {
        const { job } = streaming;
        await job.start();
        if (showStatus) {
          out.write(
            `pulse stream: job ${job.job} on ${job.topics.join(", ")}; window ${describeMs(sizeMs)}` +
              `${slideMs === sizeMs ? " tumbling" : ` sliding by ${describeMs(slideMs)}`}, ` +
              `out-of-orderness ${describeMs(outOfOrdernessMs)}, lateness ${describeMs(allowedLatenessMs)}; ` +
              `${values.drain ? "draining" : "running until Ctrl-C"}\n`,
          );
          if (job.wasDrained()) {
            out.write(
              `pulse stream: job ${job.job} was drained before, so new records are late for it; use --job <new name> for a new run\n`,
            );
          }
        }
        status = showStatus ? statusLine(job, counts, out) : undefined;
        status?.start();
        let result: StreamRunSummary;
        try {
          result = values.drain ? await job.drain(stop.signal) : await job.run(stop.signal);
        } finally {
          status?.stop();
        }
        const summary = toSummary(job, result);
        if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(`${describeSummary(summary)}\n`);
        return 0;
      } finally {
        await streaming.close();
      }
    } finally {
      stop.dispose();
    }
  },
};

/** This process's counts (never the job's totals over the partitions it owns now, which fall in a rebalance). */
function statusLine(job: StreamJob, counts: StreamCounts, stream: NodeJS.WriteStream): StatusLine {
  return new StatusLine({
    stream,
    plainEverySec: 1,
    counters: [
      { label: "read", read: () => counts.read },
      { label: "accepted", read: () => counts.accepted },
      { label: "late", read: () => counts.late },
      { label: "duplicates", read: () => counts.duplicates },
      { label: "dlq", read: () => counts.deadLettered },
    ],
    suffix: () => {
      const p = job.progress();
      if (p === undefined) return "waiting for records";
      const lag = p.sources.reduce((a, s) => a + s.lag, 0);
      const wm = p.eventTime.watermarkMs;
      return (
        `watermark ${wm === null ? "-" : new Date(wm).toISOString()} | lag ${lag} | ` +
        `state ${p.stateRows} rows ${(p.stateBytes / 1_048_576).toFixed(1)} MiB | batch ${Math.round(p.batchDurationMs)} ms`
      );
    },
  });
}

function toSummary(job: StreamJob, result: StreamRunSummary): StreamSummary {
  return {
    job: job.job,
    topics: job.topics,
    drained: result.drained,
    read: result.read,
    input: result.totals.input,
    accepted: result.totals.accepted,
    duplicates: result.totals.duplicates,
    late: result.totals.late,
    partially_late: result.totals.partiallyLate,
    dead_lettered: result.totals.deadLettered,
    windows_final: result.windowsFinal,
    watermark_ms: result.watermarkMs,
    elapsed_ms: Math.round(result.elapsedMs),
    records_per_sec: result.read / Math.max(0.001, result.elapsedMs / 1000),
    reading_ms: result.readingMs === null ? null : Math.round(result.readingMs),
    reading_records_per_sec:
      result.readingMs === null ? null : result.read / Math.max(0.001, result.readingMs / 1000),
  };
}

function describeSummary(s: StreamSummary): string {
  return (
    `${s.drained ? "drained" : "stopped"}: read ${s.read} records in ${(s.elapsed_ms / 1000).toFixed(1)} s ` +
    `(${Math.round(s.records_per_sec)}/s${s.reading_records_per_sec === null ? "" : `; ${Math.round(s.reading_records_per_sec)}/s from its first batch`}); job ${s.job} totals: input ${s.input}, accepted ${s.accepted}, ` +
    `duplicates ${s.duplicates}, late ${s.late}, dead-lettered ${s.dead_lettered}; ` +
    `${s.windows_final} windows final; watermark ${s.watermark_ms === null ? "-" : new Date(s.watermark_ms).toISOString()}`
  );
}

function describeMs(ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
