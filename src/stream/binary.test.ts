// ByteWriter and ByteReader: the primitives' little-endian grammar, byte for byte, and their round trip.

import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "./binary.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

describe("ByteWriter and ByteReader", () => {
  it("write u16s and u32s as a u32 count, then each value little-endian", () => {
    const w = new ByteWriter(4);
    w.u16s(Uint16Array.of(0x0102, 0xfffe, 7), 2);
    w.u32s(Uint32Array.of(0x01020304, 0xfffffffe), 2);
    expect([...w.finish()]).toEqual([
      ...[2, 0, 0, 0, 0x02, 0x01, 0xfe, 0xff],
      ...[2, 0, 0, 0, 0x04, 0x03, 0x02, 0x01, 0xfe, 0xff, 0xff, 0xff],
    ]);
  });

  it("read back what they wrote: views into larger arrays, partial counts, empty arrays, across chunks", () => {
    const big16 = Uint16Array.from({ length: 70_000 }, (_, i) => (i * 7919) & 0xffff);
    const big32 = Uint32Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) >>> 0);
    const w = new ByteWriter(16);
    w.u8(9);
    w.u16s(big16.subarray(3, 1_003), 1_000);
    w.u32s(big32.subarray(5), 299_990);
    w.u16s(new Uint16Array(0), 0);
    w.u32s(Uint32Array.of(1, 2, 3), 0);
    w.u16s(big16, big16.length);
    const r = new ByteReader(w.finish());
    expect(r.u8()).toBe(9);
    expect(r.u16s()).toEqual(big16.slice(3, 1_003));
    expect(r.u32s()).toEqual(big32.slice(5, 299_995));
    expect(r.u16s()).toEqual(new Uint16Array(0));
    expect(r.u32s()).toEqual(new Uint32Array(0));
    expect(r.u16s()).toEqual(big16);
    expect(r.remaining).toBe(0);
  });

  it("refuse arrays cut short", () => {
    const w = new ByteWriter();
    w.u32s(Uint32Array.of(1, 2, 3), 3);
    const bytes = w.finish();
    const error = (() => {
      try {
        new ByteReader(bytes.subarray(0, bytes.length - 1)).u32s();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe(StreamErrorCode.snapshotCorrupt);
  });
});
