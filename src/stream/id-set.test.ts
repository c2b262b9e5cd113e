// IdSet: the exact distinct-id sets of windows, against a plain Set.

import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "./binary.ts";
import { IdSet } from "./id-set.ts";
import { prng } from "../../test/helpers/stream.ts";
import { StreamError } from "../errors.ts";

function roundTrip(set: IdSet): IdSet {
  const w = new ByteWriter(16);
  set.write(w);
  return IdSet.read(new ByteReader(w.finish()));
}

describe("IdSet", () => {
  it("counts exactly what a Set counts, across array and bitmap chunks", () => {
    const random = prng(1);
    const set = new IdSet();
    const truth = new Set<number>();
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      // Dense low ids (bitmap chunks) and sparse high ids (array chunks).
      const id = random() < 0.7 ? Math.floor(random() * 100_000) : Math.floor(random() * 2 ** 32);
      if (set.add(id) === truth.has(id)) mismatches++;
      truth.add(id);
    }
    expect(mismatches).toBe(0);
    expect(set.size).toBe(truth.size);
    const sorted = [...truth].sort((a, b) => a - b);
    expect(Array.from(set.toArray())).toEqual(sorted);
    for (let i = 0; i < 1_000; i++) {
      const id = Math.floor(random() * 200_000);
      expect(set.has(id)).toBe(truth.has(id));
    }
    const back = roundTrip(set);
    expect(back.size).toBe(truth.size);
    expect(Array.from(back.toArray())).toEqual(sorted);
  });

  it("converts a chunk to a bitmap after 4096 ids and keeps counting", () => {
    const set = new IdSet();
    for (let i = 8191; i >= 0; i -= 2) set.add(i);
    expect(set.size).toBe(4096);
    expect(set.add(0)).toBe(true);
    expect(set.add(0)).toBe(false);
    expect(set.has(8191)).toBe(true);
    expect(set.has(8190)).toBe(false);
    expect(set.size).toBe(4097);
    expect(set.byteSize()).toBeLessThan(8192 + 200);
    expect(roundTrip(set).size).toBe(4097);
  });

  it("stays compact for a million dense ids: 16 bitmap chunks", () => {
    const set = new IdSet();
    for (let i = 0; i < 1_000_000; i++) set.add(i);
    expect(set.size).toBe(1_000_000);
    expect(set.byteSize()).toBeLessThan(16 * 8192 + 2_000);
  });

  it("remaps ids through an order-preserving map, dropping −1", () => {
    const set = new IdSet();
    for (const id of [1, 5, 70_000]) set.add(id);
    const map = new Int32Array(70_001).fill(-1);
    map[5] = 0;
    map[70_000] = 1;
    set.remap(map);
    expect(Array.from(set.toArray())).toEqual([0, 1]);
  });

  it("rejects a truncated or malformed encoding", () => {
    const set = new IdSet();
    set.add(3);
    const w = new ByteWriter();
    set.write(w);
    const bytes = w.finish();
    expect(() => IdSet.read(new ByteReader(bytes.subarray(0, bytes.length - 1)))).toThrow(StreamError);
  });
});
