// The interner: ids to dense numbers, from strings or bytes, compacted and snapshotted.

import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "./binary.ts";
import { InternKey, Interner } from "./interner.ts";
import { prng } from "../../test/helpers/stream.ts";
import { StreamError } from "../errors.ts";

function roundTrip(t: Interner): Interner {
  const w = new ByteWriter(8);
  t.write(w);
  return Interner.read(new ByteReader(w.finish()));
}

const UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

describe("Interner", () => {
  it("finds a string's entry from its UTF-8 bytes as from the string, whichever way it was added", () => {
    const strings = [
      "",
      "user-1",
      "  ",
      UUID,
      UUID.toUpperCase(),
      UUID.replace(/-/g, ""),
      "0f8fad5b-d9cb-469f-a165-70867728950g",
      "0f8fad5b+d9cb-469f-a165-70867728950e",
      "café",
      "日本語のユーザー",
      "emoji 🙂 id",
      "x".repeat(300),
    ];
    const byString = new Interner();
    const byBytes = new Interner();
    const key = new InternKey();
    for (const s of strings) {
      const bytes = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(s, "utf8"), Buffer.from([4])]);
      const stringHash = new InternKey().set(s).hash;
      expect(key.setBytes(bytes, 3, bytes.length - 1).hash).toBe(stringHash);
      expect(byBytes.internKey(key)).toBe(byString.intern(s));
    }
    for (const [i, s] of strings.entries()) {
      const bytes = Buffer.from(s, "utf8");
      expect(byString.findKey(key.setBytes(bytes, 0, bytes.length))).toBe(i);
      expect(byBytes.find(s)).toBe(i);
      expect(byBytes.name(i)).toBe(s);
    }
    expect(byBytes.findKey(key.setBytes(Buffer.from("user-2"), 0, 6))).toBe(-1);
    expect(roundTrip(byBytes).find(UUID)).toBe(3);
  });

  it("hands out dense ids in first-seen order and finds them again", () => {
    const t = new Interner();
    expect(["a", "b", "a", "c", "d"].map((s) => t.intern(s))).toEqual([0, 1, 0, 2, 3]);
    expect(t.find("c")).toBe(2);
    expect(t.find("zz")).toBe(-1);
    expect(t.size).toBe(4);
  });

  it("keeps every kind of string exactly: Latin-1, UTF-16, canonical UUIDs and near-UUIDs", () => {
    const strings = [
      "",
      "user-1",
      "café",
      "日本語のユーザー",
      "emoji 🙂 id",
      UUID,
      UUID.toUpperCase(),
      UUID.replace(/-/g, ""),
      `${UUID.slice(0, 35)}g`,
      `${UUID.slice(0, 8)}_${UUID.slice(9)}`,
      `${UUID.slice(0, 35)}\u0661`,
      `${UUID.slice(0, 8)}\u2010${UUID.slice(9)}`,
      "0f8fad5b-d9cb-469f-a165-70867728950f",
    ];
    const t = new Interner();
    for (const [i, s] of strings.entries()) expect(t.intern(s)).toBe(i);
    for (const [i, s] of strings.entries()) {
      expect(t.find(s)).toBe(i);
      expect(t.name(i)).toBe(s);
    }
    const back = roundTrip(t);
    for (const [i, s] of strings.entries()) expect(back.find(s)).toBe(i);
    expect(back.intern("new")).toBe(strings.length);
  });

  it("agrees with a Map on a million random ids through several rehashes", () => {
    const random = prng(11);
    const t = new Interner();
    const truth = new Map<string, number>();
    let mismatches = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const n = Math.floor(random() * 400_000);
      const s = n % 3 === 0 ? `user-${n}` : `${n.toString(16).padStart(8, "0")}-d9cb-469f-a165-70867728950e`;
      const expected = truth.get(s) ?? truth.size;
      truth.set(s, expected);
      if (t.intern(s) !== expected) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(t.size).toBe(truth.size);
    // Far below a Map<string, number> of the same strings (~100 bytes an entry).
    expect(t.byteSize() / t.size).toBeLessThan(48);
  });

  it("compacts to the live ids, keeping their order and strings", () => {
    const t = new Interner();
    for (const s of ["a", UUID, "c", "d"]) t.intern(s);
    const map = t.compact(Uint8Array.from([0, 1, 0, 1]));
    expect(Array.from(map)).toEqual([-1, 0, -1, 1]);
    expect(t.find(UUID)).toBe(0);
    expect(t.find("d")).toBe(1);
    expect(t.find("a")).toBe(-1);
    expect(t.intern("a")).toBe(2);
    expect(t.name(0)).toBe(UUID);
  });

  it("rejects a damaged snapshot", () => {
    const t = new Interner();
    t.intern("abc");
    t.intern("abd");
    const w = new ByteWriter();
    t.write(w);
    const bytes = w.finish();
    expect(() => Interner.read(new ByteReader(bytes.subarray(0, bytes.length - 1)))).toThrow(StreamError);
    // Make the second entry a copy of the first.
    const copy = Uint8Array.from(bytes);
    copy[copy.length - 1] = "c".charCodeAt(0);
    expect(() => Interner.read(new ByteReader(copy))).toThrow(StreamError);
  });
});
