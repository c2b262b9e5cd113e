// The status line: totals that never fall, rates never negative through a rebalance, messages never glued onto it.

import { afterEach, describe, expect, it, vi } from "vitest";
import { StatusLine, StreamCounts } from "./status.ts";

/** A stand-in for a terminal (or a pipe) that records what is written to it, in order, into `log`. */
function fakeStream(name: string, isTTY: boolean, log: string[]): NodeJS.WriteStream {
  return {
    isTTY,
    write: (chunk: string) => {
      log.push(`${name}:${chunk}`);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
}

/** The job's totals over the partitions it owns, as `pulse up` used to show them. */
function rebalancingTotals(): { read(): number; step(): void } {
  // 6 partitions, then a second member takes 3 of them: the owned partitions' totals fall.
  const readings = [0, 1200, 2389, 1250, 1900];
  let i = 0;
  return { read: () => readings[i]!, step: () => i++ };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("StatusLine arithmetic", () => {
  it("never shows a falling total or a negative rate when a counter falls (a rebalance)", () => {
    const totals = rebalancingTotals();
    const status = new StatusLine({
      counters: [{ label: "stream", read: totals.read }],
      stream: fakeStream("out", false, []),
    });
    const shown: number[] = [];
    for (let n = 0; n < 4; n++) {
      totals.step();
      const line = status.render();
      const match = /stream (-?[\d.]+k?)\/s \((\d+)\)/.exec(line);
      expect(match, line).not.toBeNull();
      expect(match![1]!.startsWith("-"), line).toBe(false);
      shown.push(Number(match![2]));
    }
    // 1200, 2389, then the drop to 1250 is held at 2389, and 1900 is still below it.
    expect(shown).toEqual([1200, 2389, 2389, 2389]);
    expect(status.render(true)).toMatch(/stream 2389$/);
  });

  it("counts a process's batches: monotone through a rebalance, accepted never above read", () => {
    const counts = new StreamCounts();
    const batch = (
      read: number,
      accepted: number,
      late: number,
      duplicates: number,
      deadLettered: number,
    ) => ({
      numInputRows: read,
      batch: { accepted, late, duplicates, deadLettered, rowsWritten: 0, alerts: 0 },
    });
    const seen: Array<[number, number]> = [];
    // Before the rebalance, then after it (this member owns fewer partitions: smaller batches, never negative).
    for (const b of [
      batch(1000, 970, 10, 15, 5),
      batch(1389, 1350, 9, 20, 10),
      batch(300, 290, 0, 10, 0),
      batch(0, 0, 0, 0, 0),
    ]) {
      counts.add(b);
      seen.push([counts.read, counts.accepted]);
    }
    expect(seen).toEqual([
      [1000, 970],
      [2389, 2320],
      [2689, 2610],
      [2689, 2610],
    ]);
    for (const [read, accepted] of seen) expect(accepted).toBeLessThanOrEqual(read);
    expect([counts.late, counts.duplicates, counts.deadLettered]).toEqual([19, 45, 15]);
    expect(counts.accepted + counts.late + counts.duplicates + counts.deadLettered).toBe(counts.read);
  });
});

describe("StatusLine messages", () => {
  it("on a terminal, clears the status line before a message and draws it again after", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const log: string[] = [];
    const out = fakeStream("out", true, log);
    const err = fakeStream("err", true, log);
    const status = new StatusLine({ counters: [{ label: "read", read: () => 5 }], stream: out });
    status.start();
    vi.advanceTimersByTime(1000);
    const drawn = log.at(-1)!;
    expect(drawn).toMatch(/^out:\r\x1b\[K\[\d+s\] read /);
    log.length = 0;
    status.print("pulse stream: consumer group pulse-stream assigned user-activity [0,2,4]", err);
    expect(log).toEqual([
      "out:\r\x1b[K",
      "err:pulse stream: consumer group pulse-stream assigned user-activity [0,2,4]\n",
      drawn.replace(/^out:\r\x1b\[K/, "out:"),
    ]);
    status.stop();
  });

  it("before the line is drawn, and off a terminal, prints the message as a plain line", () => {
    const log: string[] = [];
    const status = new StatusLine({ counters: [], stream: fakeStream("out", true, log) });
    status.print("first", fakeStream("err", true, log));
    const piped = new StatusLine({ counters: [], stream: fakeStream("pipe", false, log) });
    piped.print("second\n");
    expect(log).toEqual(["err:first\n", "pipe:second\n"]);
  });
});
