// `pulse stream`'s status counts through a rebalance that takes partitions away: they never fall, and accepted ≤ read.

import { describe, expect, it } from "vitest";
import { StatusLine, StreamCounts } from "../../src/cli/status.ts";
import { EmbeddedLog } from "../../src/log/embedded/log.ts";
import type { GroupMember, Log } from "../../src/log/index.ts";
import type { StreamProgress } from "../../src/stream/job/index.ts";
import { ACTIVITY, generate, PARTITIONS, setup, waitFor } from "../helpers/stream-job.ts";

/**
 * The embedded log as a member of a consumer group whose assignment the test moves: a stand-in for
 * Kafka's group coordinator (test/services/scale-out.test.ts runs the real one).
 */
function withMovableGroup(log: Log): { log: Log; assign(partitions: number[]): void } {
  let partitions = Array.from({ length: PARTITIONS }, (_, p) => p);
  let generation = 1;
  const member: GroupMember = {
    group: "pulse-stream",
    get generation() {
      return generation;
    },
    assigned: () => [...partitions],
    ready: async () => undefined,
    commit: (topic, offsets) => log.commit("pulse-stream", topic, offsets),
    leave: async () => undefined,
  };
  const proxy = new Proxy(log, {
    get(target, name) {
      if (name === "joinGroup") return async () => member;
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    log: proxy,
    assign(next) {
      partitions = [...next];
      generation++;
    },
  };
}

/** The totals a status line shows, parsed back: label → [rate, total]. */
function shown(line: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const m of line.matchAll(/(\w+) (-?[\d.]+)(k?)\/s \((\d+)\)/g)) {
    out.set(m[1]!, [Number(m[2]) * (m[3] === "k" ? 1000 : 1), Number(m[4])]);
  }
  return out;
}

describe("status counts through a rebalance", () => {
  it("a member that loses partitions shows totals that only grow, accepted never above read", async (ctx) => {
    const fx = await setup(ctx);
    expect(fx.log).toBeInstanceOf(EmbeddedLog);
    const group = withMovableGroup(fx.log);
    const counts = new StreamCounts();
    const progress: StreamProgress[] = [];
    const job = fx.job({
      log: group.log,
      maxBatchRecords: 250,
      onProgress: (p) => {
        counts.add(p);
        progress.push(p);
      },
    });
    const status = new StatusLine({
      counters: [
        { label: "read", read: () => counts.read },
        { label: "accepted", read: () => counts.accepted },
      ],
      stream: { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream,
    });
    const lines: string[] = [];
    const controller = new AbortController();
    ctx.onTestFinished(() => controller.abort());

    await fx.produceActivity(generate({ seed: 7, count: 2_000, duplicateShare: 0.02, lagShare: 0.05 }));
    const running = job.run(controller.signal);
    await waitFor(() => counts.read === 2_000);
    lines.push(status.render());
    const before = progress.at(-1)!.totals;

    // A second member joins: this one keeps partition 0 only, and more records arrive.
    const highBefore = (await fx.log.describeTopic(ACTIVITY)).offsets[0]!.highWatermark;
    group.assign([0]);
    await fx.produceActivity(generate({ seed: 8, count: 1_500, duplicateShare: 0.02, lagShare: 0.05 }));
    const highAfter = (await fx.log.describeTopic(ACTIVITY)).offsets[0]!.highWatermark;
    expect(highAfter).toBeGreaterThan(highBefore);
    const caughtUp = (): boolean => {
      const partitions = progress.at(-1)?.sources[0]?.partitions ?? [];
      return partitions.length === 1 && partitions[0]!.nextOffset === highAfter;
    };
    await waitFor(caughtUp);
    lines.push(status.render());
    controller.abort();
    await running;

    // The job's own totals are those of the partitions it owns now: they fell (what the line showed before).
    const after = progress.at(-1)!.totals;
    expect(after.input).toBeLessThan(before.input);
    expect(after.accepted).toBeLessThan(before.accepted);
    // The process's counts did not, and every batch kept accepted within read.
    const [first, second] = lines.map(shown);
    expect(first!.get("read")![1]).toBe(2_000);
    // At least the new records of partition 0; more when the reload replayed some since its saved state.
    expect(second!.get("read")![1]).toBeGreaterThanOrEqual(2_000 + (highAfter - highBefore));
    expect(second!.get("accepted")![1]).toBeGreaterThan(first!.get("accepted")![1]);
    for (const line of lines.map(shown)) {
      expect(line.get("accepted")![1]).toBeLessThanOrEqual(line.get("read")![1]);
      for (const [rate] of line.values()) expect(rate).toBeGreaterThanOrEqual(0);
    }
    expect(job.assignment()).toEqual(new Map([[ACTIVITY, [0]]]));
  });
});
