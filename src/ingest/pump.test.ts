// The pump: batches from a source handed to a sink, paced, lingering for partial batches, stopped by a signal.

import { describe, expect, it } from "vitest";
import { pump } from "./pump.ts";

function* numbers(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

describe("pump", () => {
  it("delivers every item once, in order, in bounded batches", async () => {
    const seen: number[] = [];
    let largest = 0;
    const sent = await pump(
      numbers(2500),
      async (batch) => {
        largest = Math.max(largest, batch.length);
        seen.push(...batch);
      },
      { ratePerSec: 0, maxBatch: 1000 },
    );
    expect(sent).toBe(2500);
    expect(seen).toEqual([...numbers(2500)]);
    expect(largest).toBe(1000);
  });

  it("stops at the limit and on abort", async () => {
    const seen: number[] = [];
    expect(
      await pump(numbers(100), async (b) => void seen.push(...b), { ratePerSec: 0, maxBatch: 7, limit: 30 }),
    ).toBe(30);
    expect(seen.length).toBe(30);
    const controller = new AbortController();
    const count = await pump(
      numbers(1_000_000),
      async (b) => {
        if (b[0]! >= 50) controller.abort();
      },
      { ratePerSec: 0, maxBatch: 10, signal: controller.signal },
    );
    expect(count).toBe(60);
  });

  it("paces a finite rate: 200 events at 1000/s take at least 150 ms", async () => {
    const start = performance.now();
    await pump(numbers(200), async () => undefined, { ratePerSec: 1000 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
  });
});

describe("pump with a slow source", () => {
  it("hands a partial batch over after lingerMs instead of waiting for a full one", async () => {
    async function* slow(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await new Promise((r) => setTimeout(r, 400));
      yield 3;
    }
    const batches: number[][] = [];
    const sent = await pump(slow(), async (b) => void batches.push(b), {
      ratePerSec: 0,
      maxBatch: 100,
      lingerMs: 50,
    });
    expect(sent).toBe(3);
    expect(batches).toEqual([[1, 2], [3]]);
  });
});
