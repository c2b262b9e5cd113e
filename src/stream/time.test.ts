// The watermark tracker: event time minus out-of-orderness, per partition and over all.

import { describe, expect, it } from "vitest";
import { WatermarkTracker } from "./time.ts";
import { StreamError } from "../errors.ts";

describe("WatermarkTracker", () => {
  it("is the max event time seen minus the out-of-orderness, per partition, never decreasing", () => {
    const w = new WatermarkTracker({ outOfOrdernessMs: 5_000 });
    expect(w.partitionWatermark(0)).toBe(Number.NEGATIVE_INFINITY);
    w.observe(0, 100_000);
    expect(w.partitionWatermark(0)).toBe(95_000);
    w.observe(0, 90_000);
    expect(w.partitionWatermark(0)).toBe(95_000);
    w.observe(0, 101_000);
    expect(w.partitionWatermark(0)).toBe(96_000);
    expect(w.clock(0).minEventTimeMs).toBe(90_000);
  });

  it("makes the job watermark the min over active partitions, waiting for assigned ones", () => {
    const w = new WatermarkTracker({ outOfOrdernessMs: 0 });
    w.assign([0, 1, 2]);
    w.observe(0, 50);
    w.observe(1, 30);
    expect(w.watermark()).toBe(Number.NEGATIVE_INFINITY);
    w.observe(2, 40);
    expect(w.watermark()).toBe(30);
    w.observe(1, 100);
    expect(w.watermark()).toBe(40);
    // An idle partition stops holding the job back; its next event makes it active again.
    w.markIdle(2);
    expect(w.watermark()).toBe(50);
    w.observe(2, 45);
    // Never goes back, even though partition 2 is active again at 45.
    expect(w.watermark()).toBe(50);
    w.observe(0, 200);
    w.observe(2, 300);
    expect(w.watermark()).toBe(100);
    w.revoke(1);
    expect(w.watermark()).toBe(200);
    expect(w.partitions()).toEqual([0, 2]);
    expect(w.minEventTimeMs()).toBe(40);
    expect(w.maxEventTimeMs()).toBe(300);
  });

  it("advances every partition to +∞ at the end of bounded input, and stays there", () => {
    const w = new WatermarkTracker({ outOfOrdernessMs: 10 });
    w.assign([0, 1]);
    w.observe(0, 1_000);
    w.advanceToEnd();
    expect(w.watermark()).toBe(Number.POSITIVE_INFINITY);
    w.observe(1, 5);
    expect(w.partitionWatermark(1)).toBe(Number.POSITIVE_INFINITY);
  });

  it("rejects a negative out-of-orderness or partition", () => {
    expect(() => new WatermarkTracker({ outOfOrdernessMs: -1 })).toThrow(StreamError);
    expect(() => new WatermarkTracker({ outOfOrdernessMs: 0 }).observe(-1, 0)).toThrow(StreamError);
  });
});
