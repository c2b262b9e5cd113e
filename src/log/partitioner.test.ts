// Unit tests for the Kafka-compatible partitioner: murmur2 against Kafka's own vectors.
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey, StickyPartitioner, toPositive } from "./partitioner.ts";

// From Apache Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
const KAFKA_VECTORS: ReadonlyArray<[string, number]> = [
  ["21", -973932308],
  ["foobar", -790332482],
  ["a-little-bit-long-string", -985981536],
  ["a-little-bit-longer-string", -1486304829],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
  ["abc", 479470107],
];

describe("murmur2", () => {
  it.each(KAFKA_VECTORS)("murmur2(%j) = %d as in Kafka's UtilsTest", (input, expected) => {
    expect(murmur2(Buffer.from(input))).toBe(expected);
  });

  it("hashes a plain Uint8Array and an empty key", () => {
    expect(murmur2(new TextEncoder().encode("foobar"))).toBe(-790332482);
    expect(Number.isInteger(murmur2(new Uint8Array(0)))).toBe(true);
  });

  it("reads a Buffer view at its own offset, not its backing pool", () => {
    const pooled = Buffer.from("xx21yy").subarray(2, 4);
    expect(murmur2(pooled)).toBe(-973932308);
  });
});

describe("partitionForKey", () => {
  it("masks the sign bit like Kafka's toPositive, not Math.abs", () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff);
    expect(toPositive(-973932308)).not.toBe(973932308);
  });

  it("places the Kafka vectors on toPositive(hash) % n", () => {
    for (const [input, hash] of KAFKA_VECTORS) {
      for (const n of [1, 2, 3, 6, 12]) {
        expect(partitionForKey(Buffer.from(input), n)).toBe((hash & 0x7fffffff) % n);
      }
    }
    // Hand-computed: (-973932308 & 0x7fffffff) = 1173551340, % 3 = 0; 479470107 % 3 = 0; foobar → 1357151166 % 3 = 0.
    expect(partitionForKey(Buffer.from("21"), 6)).toBe(1173551340 % 6);
  });
});

describe("StickyPartitioner", () => {
  it("moves to the next partition on each batch and covers every partition", () => {
    const sticky = new StickyPartitioner(0);
    const seen = Array.from({ length: 12 }, () => sticky.nextBatchPartition(4));
    expect(seen).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it("stays in range from any random start", () => {
    const sticky = new StickyPartitioner();
    for (let i = 0; i < 100; i++) {
      const p = sticky.nextBatchPartition(5);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(5);
    }
  });
});
