// The live status line: events/s per topic and totals, redrawn in place on a TTY, a plain line otherwise.

import type { StreamProgress } from "../stream/job/index.ts";

export interface Counter {
  label: string;
  /**
   * Total so far; the status line derives the rate from successive readings. It should never fall; if it
   * does, the line keeps showing the highest total seen (rate 0) rather than a falling total.
   */
  read(): number;
}

export interface StatusLineOptions {
  counters: Counter[];
  /** Extra text per tick, e.g. the Wikimedia source state. */
  suffix?: () => string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines when the output is not a terminal. */
  plainEverySec?: number;
}

export class StatusLine {
  private readonly startedAtMs = performance.now();
  /** The highest total each counter has shown: what the line shows, so it never falls. */
  private readonly last: number[];
  private lastAtMs = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readonly stream: NodeJS.WriteStream;
  /** The line on the terminal now, without its end of line (undefined: none is drawn). */
  private drawn: string | undefined;

  constructor(private readonly options: StatusLineOptions) {
    this.stream = options.stream ?? process.stdout;
    this.last = options.counters.map((c) => Math.max(0, c.read()));
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  /** Stops redrawing and prints the final line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stream.write(`${this.isTty ? "\r\x1b[K" : ""}${this.render(true)}\n`);
    this.drawn = undefined;
  }

  /**
   * Prints a message on a line of its own: on a terminal the status line is cleared first (nothing is
   * glued onto it) and drawn again below the message. `to` is where the message goes (stderr, say).
   */
  print(message: string, to: NodeJS.WritableStream = this.stream): void {
    const line = message.endsWith("\n") ? message : `${message}\n`;
    if (this.drawn === undefined) {
      to.write(line);
      return;
    }
    this.stream.write("\r\x1b[K");
    to.write(line);
    this.stream.write(this.drawn);
  }

  render(final = false): string {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastAtMs) / 1000);
    const parts = this.options.counters.map((counter, i) => {
      // A total that fell (a counter of what the job owns now, during a rebalance) is not shown falling.
      const total = Math.max(this.last[i]!, counter.read());
      const rate = (total - this.last[i]!) / seconds;
      this.last[i] = total;
      return final ? `${counter.label} ${total}` : `${counter.label} ${formatRate(rate)}/s (${total})`;
    });
    this.lastAtMs = now;
    const elapsed = Math.round((now - this.startedAtMs) / 1000);
    const suffix = this.options.suffix?.() ?? "";
    return `[${elapsed}s] ${parts.join(" | ")}${suffix ? ` | ${suffix}` : ""}`;
  }

  private get isTty(): boolean {
    return this.stream.isTTY === true;
  }

  private tick(): void {
    this.ticks++;
    if (this.isTty) {
      this.drawn = this.render();
      this.stream.write(`\r\x1b[K${this.drawn}`);
    } else if (this.ticks % (this.options.plainEverySec ?? 5) === 0) {
      this.stream.write(`${this.render()}\n`);
    }
  }
}

/**
 * What this process's stream job did, summed batch by batch: it only grows. The job's own totals (in
 * each progress report) are those of the partitions it owns now, restored from their checkpoints, so
 * they fall when a rebalance takes partitions away; these do not, and `accepted` never exceeds `read`
 * (each record read is accepted, late, a duplicate or dead-lettered).
 */
export class StreamCounts {
  read = 0;
  accepted = 0;
  late = 0;
  duplicates = 0;
  deadLettered = 0;

  /** Adds one committed batch (the job's onProgress). */
  add(progress: Pick<StreamProgress, "numInputRows" | "batch">): void {
    this.read += progress.numInputRows;
    this.accepted += progress.batch.accepted;
    this.late += progress.batch.late;
    this.duplicates += progress.batch.duplicates;
    this.deadLettered += progress.batch.deadLettered;
  }
}

/** "topic [0,2,4], topic [1]"; "" when the job owns no partition. */
export function describeAssignment(assignment: ReadonlyMap<string, readonly number[]>): string {
  return [...assignment].map(([topic, partitions]) => `${topic} [${partitions.join(",")}]`).join(", ");
}

function formatRate(rate: number): string {
  if (rate >= 10_000) return `${(rate / 1000).toFixed(0)}k`;
  if (rate >= 100) return rate.toFixed(0);
  return rate.toFixed(1);
}

/** A one-line progress bar for a bounded run on a TTY. */
export function progressBar(done: number, total: number, ratePerSec: number, width = 30): string {
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${done}/${total} ${formatRate(ratePerSec)}/s`;
}
