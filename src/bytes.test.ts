// TextSlab against Buffer.from: the same bytes for any text, and each Buffer keeps its own.

import { describe, expect, it } from "vitest";
import { TextSlab } from "./bytes.ts";

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
