// headerName: the same answer as decoding the bytes, for known and new names alike.

import { describe, expect, it } from "vitest";
import { headerName } from "./header-names.ts";

function nameAt(name: string, pad = 3): string {
  const bytes = Buffer.concat([Buffer.alloc(pad, 0xff), Buffer.from(name, "utf8"), Buffer.alloc(pad, 0xff)]);
  return headerName(bytes, pad, bytes.length - pad);
}

describe("headerName", () => {
  it("decodes UTF-8 names, equal bytes to the same name, different bytes to different names", () => {
    const names = ["pulse-source", "pulse-job", "", "naïve ✓ 𝄞", "pulse-sourcf", "PULSE-SOURCE"];
    for (const name of names) expect(nameAt(name)).toBe(name);
    for (const name of names) expect(nameAt(name, 7)).toBe(name);
  });

  it("keeps decoding correctly past the names it keeps, and for long names", () => {
    for (let i = 0; i < 100; i++) expect(nameAt(`h-${i}`)).toBe(`h-${i}`);
    const long = "x".repeat(500);
    expect(nameAt(long)).toBe(long);
    expect(nameAt(`${long}y`)).toBe(`${long}y`);
  });

  it("maps bytes that are not UTF-8 as decoding does (U+FFFD)", () => {
    const bytes = Uint8Array.of(0x61, 0xc3, 0x62);
    const expected = Buffer.from(bytes).toString("utf8");
    expect(headerName(bytes, 0, 3)).toBe(expected);
    expect(headerName(bytes, 0, 3)).toBe(expected);
  });
});
