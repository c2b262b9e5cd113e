// Simulated activity for the DAG tests: a run of the simulator per (start, seed, count), out of order and with duplicates, then the stream drained.

import { runPulseJson } from "./cli.ts";

/** One `pulse produce activity` run: its first event time, its seed and how many events. */
export type SeededRun = readonly [start: string, seed: number, count: number];

/**
 * Produces each run with 5% producer duplicates and 20% of events up to 10 minutes out of order (the same
 * seed and start give the same events: a repeated run re-sends them), then drains the stream, so the
 * live store and the raw lake hold every day's windows, late events and rows.
 */
export async function produceAndDrain(dataDir: string, runs: readonly SeededRun[]): Promise<void> {
  for (const [start, seed, count] of runs) {
    await runPulseJson([
      ...["produce", "activity", "--count", String(count), "--start", start, "--seed", String(seed)],
      ...[
        "--duplicates",
        "0.05",
        "--out-of-order",
        "0.2",
        "--max-lateness",
        "600",
        "--json",
        "--data-dir",
        dataDir,
      ],
    ]);
  }
  await runPulseJson(["stream", "--drain", "--json", "--data-dir", dataDir], { timeoutMs: 180_000 });
}
