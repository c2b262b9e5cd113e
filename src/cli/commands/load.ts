// `pulse load [--date D]…`: the raw lake into the warehouse's raw tables, incremental and exactly-once, with a progress line on a terminal.

import { runLoad } from "../../app/batch.ts";
import { pipelineTasks } from "../../app/pipeline-tasks.ts";
import { abortOnSignals } from "../signals.ts";
import { TOPICS } from "../../contracts/types.ts";
import { UsageError } from "../../errors.ts";
import type { LoadProgress, LoadResult } from "../../load/index.ts";
import { configFromFlags, numberFlag, parseCommandArgs, valueFlags } from "../args.ts";
import type { Command } from "../main.ts";

const OPTIONS = {
  ...valueFlags("topics", "page-rows"),
  date: { type: "string", multiple: true },
  progress: { type: "boolean" },
  "wait-final": { type: "boolean" },
} as const;

const TOPIC_NAMES: Record<string, string> = { activity: TOPICS.activity, wikimedia: TOPICS.wikimedia };

export const loadCommand: Command = {
  summary: "load new raw-lake events into the warehouse's raw tables (exactly once); --date reloads a day",
  usage:
    "pulse load [--date YYYY-MM-DD [--wait-final]]... [--topics activity,wikimedia] [--page-rows N] [--progress] [--json] [--data-dir <dir>] [--config <file>]\n" +
    "  --wait-final: first wait until the speed layer has finalized each --date day (what reconciliation needs).",
  async run(argv) {
    const { values, positionals } = parseCommandArgs("load", argv, OPTIONS);
    if (positionals.length > 0)
      throw new UsageError(`unexpected argument '${positionals[0]}'; see pulse load --help`);
    const topics = values.topics?.split(",").map((name) => {
      const topic =
        TOPIC_NAMES[name.trim()] ??
        (Object.values(TOPIC_NAMES).includes(name.trim()) ? name.trim() : undefined);
      if (topic === undefined)
        throw new UsageError(
          `--topics: unknown topic '${name}'; use activity, wikimedia or both, comma-separated`,
        );
      return topic;
    });
    const pageRows = numberFlag("page-rows", values["page-rows"], { integer: true, min: 1 });
    const config = configFromFlags(values);
    const days = (values.date as string[] | undefined) ?? [];
    if (values["wait-final"]) {
      if (days.length === 0) throw new UsageError("--wait-final needs --date YYYY-MM-DD");
      const tasks = pipelineTasks(config);
      const signals = abortOnSignals();
      try {
        for (const day of days) await tasks.waitFinal(day, signals.signal);
      } finally {
        signals.dispose();
      }
    }
    // On a terminal the line is rewritten in place; --progress also writes it as lines to a pipe.
    const progress =
      values.progress || (process.stderr.isTTY && !values.json)
        ? new ProgressLine(process.stderr.isTTY)
        : undefined;
    let result: LoadResult;
    try {
      result = await runLoad(config, {
        topics,
        reloadDays: values.date as string[] | undefined,
        pageRows,
        onProgress: progress === undefined ? undefined : (p) => progress.update(p),
      });
    } finally {
      progress?.end();
    }
    if (values.json) process.stdout.write(`${JSON.stringify(loadSummaryOf(result))}\n`);
    else for (const line of loadLines(result)) process.stdout.write(`${line}\n`);
    return 0;
  },
};

/** What a load did, a line per raw table, then its time. */
export function loadLines(result: LoadResult): string[] {
  const lines = result.topics.map((topic) => {
    const days = topic.days.length === 0 ? "" : ` (days ${compactDays(topic.days)})`;
    const reloaded = topic.rowsReloaded > 0 ? `, ${topic.rowsReloaded} reloaded` : "";
    return `${topic.table}: ${topic.rowsLoaded} new rows${reloaded}${days}`;
  });
  lines.push(`loaded in ${(result.elapsedMs / 1000).toFixed(1)} s`);
  return lines;
}

/** The `--json` summary; fields are only ever added (docs/cli.md). */
export function loadSummaryOf(result: LoadResult) {
  return {
    elapsed_ms: result.elapsedMs,
    topics: result.topics.map((topic) => ({
      topic: topic.topic,
      table: topic.table,
      rows_loaded: topic.rowsLoaded,
      rows_reloaded: topic.rowsReloaded,
      days: topic.days,
      partitions: topic.partitions.map((p) => ({
        partition: p.partition,
        last_offset: p.lastOffset,
        rows_loaded: p.rowsLoaded,
      })),
    })),
  };
}

function compactDays(days: readonly string[]): string {
  return days.length <= 3 ? days.join(", ") : `${days[0]} … ${days[days.length - 1]}, ${days.length} days`;
}

const BAR_WIDTH = 30;

/** A bar of the offsets covered, rows loaded and the rate on stderr, at most ten times a second: one line rewritten in place on a terminal. */
class ProgressLine {
  readonly #started = Date.now();
  readonly #inPlace: boolean;
  #shownAt = 0;

  constructor(inPlace: boolean) {
    this.#inPlace = inPlace;
  }

  update(progress: LoadProgress): void {
    const now = Date.now();
    if (now - this.#shownAt < 100 && progress.offsetsDone < progress.offsetsTotal) return;
    this.#shownAt = now;
    const rate = Math.round(progress.rows / Math.max(0.001, (now - this.#started) / 1000));
    const share = progress.offsetsTotal === 0 ? 1 : progress.offsetsDone / progress.offsetsTotal;
    const filled = Math.round(share * BAR_WIDTH);
    const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${Math.floor(share * 100)}%`;
    const text = `loading ${progress.topic} ${bar}: ${progress.rows} rows, ${rate} rows/s`;
    process.stderr.write(this.#inPlace ? `\r${text} ` : `${text}\n`);
  }

  end(): void {
    if (this.#shownAt > 0 && this.#inPlace) process.stderr.write("\r\x1b[K");
  }
}
