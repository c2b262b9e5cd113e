// The collector under load, with `pulse up`'s stream job running: every acknowledged event is in the log,
// counted by id, and a flood gets 429s with Retry-After and a message while RSS stays bounded.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningPulse, SuiteCleanups, startPulse, tempDir } from "../helpers/cli.ts";
import {
  type CollectorLoadReport,
  checkStored,
  driveCollector,
  sampleRss,
} from "../helpers/collector-load.ts";

const TIMEOUT_MS = 120_000;
const API_KEY = "load-key";
/** Events per second of the steady phase; the CI machine has 2 cores shared with the other tests. */
const RATE = Number(process.env.PULSE_TEST_COLLECTOR_RATE ?? 20_000);
const STEADY_MS = 10_000;
const FLOOD_MS = 3_000;
/** Few slots, so a flood of large batches fills them whatever the machine's speed. */
const MAX_PENDING_BATCHES = 4;
/** A coarse guard (pulse up holds 200–350 MB here, bench/README.md); the 429s show the flood is refused, not queued. */
const MAX_RSS_BYTES = 1024 * 1024 * 1024;

describe("the collector at 20k events/s for 10 s, then flooded, with the stream job running", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let pulse: RunningPulse;
  let events: string;
  const runs: CollectorLoadReport[] = [];
  const rss: number[] = [];

  beforeAll(async () => {
    const dir = tempDir(cleanups.add, "pulse-collector-load-");
    dataDir = join(dir, "data");
    const config = join(dir, "pulse.config.yaml");
    writeFileSync(config, `collector:\n  max_pending_batches: ${MAX_PENDING_BATCHES}\n`);
    pulse = await startPulse(
      ["up", "--port", "0", "--rate", "0", "--wikimedia", "off", "--config", config, "--data-dir", dataDir],
      { waitFor: /API on (http:\/\/\S+) /, env: { PULSE_API_KEYS: API_KEY }, onCleanup: cleanups.add },
    );
    events = `${pulse.match[1]!}/api/v1/events`;
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it(
    "acknowledges batches at a steady rate",
    async () => {
      const sampler = sampleRss(pulse.pid, 500);
      const steady = await driveCollector({
        url: events,
        apiKey: API_KEY,
        tag: "00000001",
        eventsPerBatch: 100,
        eventsPerSec: RATE,
        durationMs: STEADY_MS,
        concurrency: 16,
      });
      rss.push(...sampler.stop());
      runs.push(steady);
      expect(steady.failed).toEqual({});
      expect(steady.rejectedEvents).toBe(0);
      expect(steady.ok).toBeGreaterThan(0);
      expect(steady.ok + steady.throttled).toBe(steady.requests);
      expect(steady.throttledMalformed).toBe(0);
    },
    TIMEOUT_MS,
  );

  it(
    "answers a flood with 429, Retry-After and a message, RSS bounded",
    async () => {
      const sampler = sampleRss(pulse.pid, 250);
      const flood = await driveCollector({
        url: events,
        apiKey: API_KEY,
        tag: "00000002",
        eventsPerBatch: 1000,
        eventsPerSec: 0,
        durationMs: FLOOD_MS,
        concurrency: 64,
      });
      rss.push(...sampler.stop());
      runs.push(flood);
      expect(flood.failed).toEqual({});
      expect(flood.throttled).toBeGreaterThan(0);
      expect(flood.throttledMalformed).toBe(0);
      expect(flood.ok + flood.throttled).toBe(flood.requests);
      expect(Math.max(...rss)).toBeLessThan(MAX_RSS_BYTES);
    },
    TIMEOUT_MS,
  );

  it(
    "has every acknowledged event in the log exactly once, and nothing else of the runs",
    async () => {
      expect(runs.length).toBe(2);
      const stopped = await pulse.stop();
      expect(stopped.code).toBe(0);
      const checks = await checkStored(dataDir, runs);
      for (const run of runs) {
        expect(checks.get(run.tag)).toEqual({
          stored: run.ackedEvents,
          missing: 0,
          duplicates: 0,
          unacked: 0,
        });
      }
    },
    TIMEOUT_MS,
  );
});
