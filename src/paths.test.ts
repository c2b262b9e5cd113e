// embeddedPath: embedded:<file> URLs against the data folder.

import { describe, expect, it } from "vitest";
import { embeddedPath } from "./paths.ts";

describe("embeddedPath", () => {
  it("resolves embedded paths against the data folder", () => {
    expect(embeddedPath("embedded:log.db", "/d")).toBe("/d/log.db");
    expect(embeddedPath("embedded:/abs/x.db", "/d")).toBe("/abs/x.db");
    expect(embeddedPath("kafka://a:1", "/d")).toBeUndefined();
  });
});
