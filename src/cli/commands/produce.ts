// `pulse produce activity|wikimedia`: bounded runs of one source into the log, with a summary.

import {
  type ProduceRunOptions,
  type ProduceSummary,
  produceWikimediaLive,
  replayActivityFile,
  replayWikimediaFile,
  simulateActivityRun,
} from "../../app/produce.ts";
import { openPlatform } from "../../app/platform.ts";
import { UsageError } from "../../errors.ts";
import type { SimulatorBurst } from "../../ingest/simulator.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";
import { abortOnSignals, withDeadline } from "../signals.ts";
import { progressBar } from "../status.ts";

export type { ProduceSummary };

const OPTIONS = {
  ...valueFlags(
    "count",
    "rate",
    "seed",
    "users",
    "start",
    "out-of-order",
    "max-lateness",
    "duplicates",
    "malformed",
    "replay",
    "speed",
    "duration",
    "burst",
  ),
  live: { type: "boolean" },
} as const;

export const produceCommand: Command = {
  summary: "produce a bounded stream: simulated or replayed activity, or Wikimedia changes",
  usage: [
    "pulse produce activity --count N [--rate R] [--seed S] [--users U] [--start ISO]",
    "                       [--out-of-order SHARE] [--max-lateness SEC] [--duplicates SHARE] [--malformed SHARE]",
    "                       [--burst <ISO time | +SEC>,<duration SEC>,<multiplier>]",
    "  --burst: multiply the simulated rate during [start, start + duration) of event time; +SEC counts from",
    "  the first event's time. E.g. --burst +1800,120,5 (five times the rate for 2 minutes, 30 minutes in).",
    "pulse produce activity --replay <file.csv> [--speed X]",
    "pulse produce wikimedia --replay <file.ndjson|file.sse> [--speed X] | --live [--duration SEC]",
    "  --speed: 1 = recorded pace (default), 0 = as fast as possible. Common: --json, --data-dir, --config.",
  ].join("\n"),
  async run(argv) {
    const { values, positionals } = parseCommandArgs("produce", argv, OPTIONS);
    const what = positionals[0];
    if (what !== "activity" && what !== "wikimedia") {
      throw new UsageError(
        "pulse produce needs 'activity' or 'wikimedia', e.g. pulse produce activity --count 1000",
      );
    }
    const config = configFromFlags(values, {
      "simulator.seed": numberFlag("seed", values.seed, { integer: true, min: 0 }),
      "simulator.users": numberFlag("users", values.users, { integer: true, min: 1 }),
      "simulator.out_of_order_share": numberFlag("out-of-order", values["out-of-order"], { min: 0 }),
      "simulator.max_lateness_sec": numberFlag("max-lateness", values["max-lateness"], { min: 0 }),
      "simulator.duplicate_share": numberFlag("duplicates", values.duplicates, { min: 0 }),
      "simulator.malformed_share": numberFlag("malformed", values.malformed, { min: 0 }),
    });
    // Usage errors first, so a wrong command line does not create or change the data folder.
    if (
      what === "activity" &&
      values.replay === undefined &&
      values.count === undefined &&
      values.rate === undefined
    ) {
      throw new UsageError("pulse produce activity needs --count N (or --rate R to run until Ctrl-C)");
    }
    if (values.burst !== undefined && (what !== "activity" || values.replay !== undefined)) {
      throw new UsageError(
        "--burst only applies to simulated activity: pulse produce activity --count N --burst …",
      );
    }
    if (what === "wikimedia" && !values.live && values.replay === undefined) {
      throw new UsageError("pulse produce wikimedia needs --replay <file> or --live");
    }
    const stop = abortOnSignals();
    const signal = withDeadline(stop.signal, numberFlag("duration", values.duration, { min: 0 }));
    const platform = await openPlatform(config, {
      source: what === "activity" ? (values.replay ? "replay" : "simulator") : "wikimedia",
    });
    try {
      const speed = numberFlag("speed", values.speed, { min: 0 }) ?? 1;
      const rate = numberFlag("rate", values.rate, { min: 0 });
      const run: ProduceRunOptions = { signal, onProgress: process.stderr.isTTY ? showProgress : undefined };
      let summary: ProduceSummary;
      if (what === "activity" && values.replay !== undefined) {
        summary = await replayActivityFile(platform, values.replay, { ...run, speed });
      } else if (what === "activity") {
        const count = numberFlag("count", values.count, { integer: true, min: 0 });
        if (count === undefined && rate === undefined)
          throw new UsageError("pulse produce activity needs --count N (or --rate R to run until Ctrl-C)");
        const burst = values.burst;
        summary = await simulateActivityRun(platform, {
          ...run,
          count,
          ratePerSec: rate,
          startTimeMs: values.start === undefined ? undefined : parseStart(values.start),
          burst: burst === undefined ? undefined : (startTimeMs) => parseBurst(burst, startTimeMs),
        });
      } else if (values.live) {
        summary = await produceWikimediaLive(platform, run);
      } else {
        if (values.replay === undefined)
          throw new UsageError("pulse produce wikimedia needs --replay <file> or --live");
        summary = await replayWikimediaFile(platform, values.replay, {
          ...run,
          speed,
          onBadLine: (message) => process.stderr.write(`${message}\n`),
        });
      }
      if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        process.stdout.write(
          `${summary.sent} sent → ${summary.produced} on ${summary.topic}, ${summary.dead_lettered} on ${summary.topic}.dlq ` +
            `in ${(summary.elapsed_ms / 1000).toFixed(1)} s (${Math.round(summary.records_per_sec)}/s)` +
            `${
              summary.by_kind
                ? `; simulator: ${Object.entries(summary.by_kind)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(", ")}`
                : ""
            }\n`,
        );
      }
      return 0;
    } finally {
      if (showingProgress) process.stderr.write("\r\x1b[K");
      stop.dispose();
      await platform.close();
    }
  },
};

let showingProgress = false;

function showProgress(sent: number, total: number | undefined, rate: number): void {
  showingProgress = true;
  process.stderr.write(
    `\r\x1b[K${total ? progressBar(sent, total, rate) : `${sent} sent, ${Math.round(rate)}/s`}`,
  );
}

function parseStart(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms))
    throw new UsageError(`--start must be an ISO-8601 time such as 2024-05-01T00:00:00Z, got '${text}'`);
  return ms;
}

/** `--burst <ISO time | +SEC>,<duration SEC>,<multiplier>` → the simulator's burst, in absolute event time. */
export function parseBurst(text: string, startTimeMs: number): SimulatorBurst {
  const usage =
    "--burst must be <ISO time or +seconds after --start>,<duration seconds>,<multiplier>, e.g. +1800,120,5";
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length !== 3) throw new UsageError(`${usage}; got '${text}'`);
  const [at, duration, multiplier] = parts as [string, string, string];
  let atMs: number;
  if (at.startsWith("+")) {
    const offsetSec = Number(at.slice(1));
    if (at.length === 1 || !Number.isFinite(offsetSec) || offsetSec < 0) {
      throw new UsageError(`${usage}; the offset '${at}' is not a number of seconds ≥ 0`);
    }
    atMs = startTimeMs + Math.round(offsetSec * 1000);
  } else {
    atMs = Date.parse(at);
    if (!Number.isFinite(atMs)) throw new UsageError(`${usage}; '${at}' is not an ISO-8601 time`);
  }
  const durationSec = Number(duration);
  if (duration === "" || !Number.isFinite(durationSec) || durationSec <= 0) {
    throw new UsageError(`${usage}; the duration '${duration}' must be a number of seconds > 0`);
  }
  const factor = Number(multiplier);
  if (multiplier === "" || !Number.isFinite(factor) || factor <= 0) {
    throw new UsageError(`${usage}; the multiplier '${multiplier}' must be a number > 0`);
  }
  return { atMs, durationMs: Math.round(durationSec * 1000), multiplier: factor };
}
