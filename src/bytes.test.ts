// TextSlab and TextCache against Buffer.from, and formatUuid against known UUID texts.

import { describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { formatUuid, TextCache, TextSlab } from "./bytes.ts";

describe("TextSlab", () => {
  it("gives Buffer.from's UTF-8 bytes for ASCII, non-ASCII, empty and long text", () => {
    const slab = new TextSlab();
    for (const text of [
      "user-42",
      "",
      "利用者-7",
      "café",
      "\u{1F600}",
      "\ud800",
      "x".repeat(500),
      "a\u007f",
    ]) {
      expect(slab.bytes(text)).toEqual(Buffer.from(text, "utf8"));
    }
  });

  it("never writes over a Buffer it handed out, across many slabs", () => {
    const slab = new TextSlab(256);
    const texts = Array.from({ length: 5_000 }, (_, i) => `user-${i * 7919}`);
    const out = texts.map((text) => slab.bytes(text));
    for (const [i, bytes] of out.entries()) expect(bytes.toString("utf8")).toBe(texts[i]);
    // Several to a slab: 5,000 keys of about 10 bytes shared far fewer than 5,000 backing buffers.
    expect(new Set(out.map((b) => b.buffer)).size).toBeLessThan(400);
  });
});

describe("TextCache", () => {
  it("gives Buffer.from's bytes, one shared Buffer per text while it holds the text", () => {
    const cache = new TextCache(4);
    const first = cache.bytes("user-7");
    expect(first).toEqual(Buffer.from("user-7", "utf8"));
    expect(cache.bytes("user-7")).toBe(first);
    expect(cache.bytes("café")).toEqual(Buffer.from("café", "utf8"));
    expect(cache.bytes("x".repeat(300))).toEqual(Buffer.from("x".repeat(300), "utf8"));
  });

  it("starts over when full and stays correct past it", () => {
    const cache = new TextCache(3);
    const first = cache.bytes("a");
    for (const text of ["b", "c", "d"]) cache.bytes(text);
    // "d" found the cache full: "a" is made again, with the same bytes.
    const again = cache.bytes("a");
    expect(again).not.toBe(first);
    expect(again).toEqual(Buffer.from("a"));
    const texts = Array.from({ length: 1_000 }, (_, i) => `user-${i}`);
    for (const text of texts) expect(cache.bytes(text).toString("utf8")).toBe(text);
  });
});

describe("formatUuid", () => {
  it("gives the canonical lowercase text of the 16 bytes", () => {
    const bytes = Buffer.from("00ff10a0b1c2d3e4f5061728394a5b6c", "hex");
    expect(formatUuid(bytes)).toBe("00ff10a0-b1c2-d3e4-f506-1728394a5b6c");
    for (let i = 0; i < 1_000; i++) {
      const text = randomUUID();
      expect(formatUuid(Buffer.from(text.replaceAll("-", ""), "hex"))).toBe(text);
    }
  });

  it("reads only the first 16 bytes and returns strings that later calls leave alone", () => {
    const first = formatUuid(Buffer.alloc(20, 0xab));
    expect(formatUuid(new Uint8Array(16))).toBe("00000000-0000-0000-0000-000000000000");
    expect(first).toBe("abababab-abab-abab-abab-abababababab");
  });
});
