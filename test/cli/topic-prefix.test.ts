// topics.prefix (PULSE_TOPIC_PREFIX) end to end: the log holds prefixed topics, everything above it is unchanged.
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import { messagesByTopic, runPulseJson, tempDir } from "../helpers/cli.ts";

const TIMEOUT_MS = 120_000;

interface Drained {
  input: number;
  accepted: number;
  duplicates: number;
}

interface LiveWindows {
  windows: Array<Record<string, unknown>>;
}

/** Produce 2,000 simulated events (event times fixed by --start), drain them, and read back the topics and the live windows. */
async function run(dataDir: string, env: Record<string, string>) {
  const produced = await runPulseJson<ProduceSummary>(
    [
      "produce",
      "activity",
      "--count",
      "2000",
      "--seed",
      "3",
      "--start",
      "2024-05-01T00:00:00Z",
      "--json",
      "--data-dir",
      dataDir,
    ],
    { env },
  );
  const drained = await runPulseJson<Drained>(
    ["stream", "--drain", "--topics", "user-activity", "--json", "--data-dir", dataDir],
    { env },
  );
  const live = await runPulseJson<LiveWindows>(
    ["live", "activity", "--json", "--last", "1000", "--data-dir", dataDir],
    { env },
  );
  return { produced, drained, live };
}

describe("topics.prefix", () => {
  it(
    "puts every topic under the prefix on the log and changes nothing the stream computes",
    async ({ onTestFinished }) => {
      const plainDir = tempDir(onTestFinished);
      const prefixedDir = tempDir(onTestFinished);
      const env = { PULSE_TOPIC_PREFIX: "acme." };
      const plain = await run(plainDir, {});
      const prefixed = await run(prefixedDir, env);

      expect(prefixed.produced.topic).toBe("user-activity");
      expect(prefixed.produced.produced).toBe(plain.produced.produced);
      expect(prefixed.produced.dead_lettered).toBe(plain.produced.dead_lettered);
      expect(prefixed.drained.input).toBe(prefixed.produced.produced);
      expect(prefixed.drained).toMatchObject({
        accepted: plain.drained.accepted,
        duplicates: plain.drained.duplicates,
      });
      // The same windows, row for row, with or without the prefix.
      expect(prefixed.live.windows.length).toBeGreaterThan(0);
      expect(prefixed.live.windows).toEqual(plain.live.windows);

      // Through the prefix: this deployment's topics by their own names.
      const seen = await messagesByTopic(prefixedDir, { env });
      expect(seen["user-activity"]).toBe(prefixed.produced.produced);
      expect(seen["user-activity.dlq"]).toBe(prefixed.produced.dead_lettered);
      expect(Object.keys(seen).every((name) => !name.startsWith("acme."))).toBe(true);
      // Without it, the log as the backend holds it: every topic prefixed, none unprefixed.
      const held = await messagesByTopic(prefixedDir);
      expect(held["acme.user-activity"]).toBe(prefixed.produced.produced);
      expect(held["acme.user-activity.dlq"]).toBe(prefixed.produced.dead_lettered);
      expect(held).toHaveProperty("acme.alerts");
      expect(Object.keys(held).filter((name) => !name.startsWith("acme."))).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
