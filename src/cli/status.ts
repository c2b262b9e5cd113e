// The live status line: events/s per topic and totals, redrawn in place on a TTY, a plain line otherwise.

export interface Counter {
  label: string;
  /** Total so far; the status line derives the rate from successive readings. */
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
  private readonly last: number[];
  private lastAtMs = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly options: StatusLineOptions) {
    this.stream = options.stream ?? process.stdout;
    this.last = options.counters.map((c) => c.read());
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
  }

  render(final = false): string {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastAtMs) / 1000);
    const parts = this.options.counters.map((counter, i) => {
      const total = counter.read();
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
      this.stream.write(`\r\x1b[K${this.render()}`);
    } else if (this.ticks % (this.options.plainEverySec ?? 5) === 0) {
      this.stream.write(`${this.render()}\n`);
    }
  }
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
