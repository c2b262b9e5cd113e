// The schema diff the Pipeline page shows: a longest-common-subsequence line diff, checked on cases whose answer is known.

import { describe, expect, it } from "vitest";
import { type DiffLine, diffLines, schemaLines } from "../../web/src/diff.ts";

/** The diff in the page's one-column form: "  kept", "- removed", "+ added". */
function render(lines: DiffLine[]): string[] {
  return lines.map((l) => `${l.kind === "added" ? "+" : l.kind === "removed" ? "-" : " "} ${l.text}`);
}

describe("diffLines", () => {
  it("keeps equal inputs whole, and turns one side empty into all additions or removals", () => {
    expect(render(diffLines(["a", "b"], ["a", "b"]))).toEqual(["  a", "  b"]);
    expect(render(diffLines([], ["a", "b"]))).toEqual(["+ a", "+ b"]);
    expect(render(diffLines(["a", "b"], []))).toEqual(["- a", "- b"]);
  });

  it("keeps the longest common subsequence and puts removals before the additions that replace them", () => {
    expect(render(diffLines(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]))).toEqual([
      "  a",
      "- b",
      "+ x",
      "  c",
      "  d",
      "+ e",
    ]);
    // Both sides can always be read back from the diff.
    const before = ["x", "a", "b", "c", "a", "b", "b", "a"];
    const after = ["c", "b", "a", "b", "a", "c"];
    const diff = diffLines(before, after);
    expect(diff.filter((l) => l.kind !== "added").map((l) => l.text)).toEqual(before);
    expect(diff.filter((l) => l.kind !== "removed").map((l) => l.text)).toEqual(after);
    // The LCS of these is 4 long (e.g. c, a, b, a).
    expect(diff.filter((l) => l.kind === "same")).toHaveLength(4);
  });

  it("shows a field added to a schema as added lines only", () => {
    const v1 = { type: "record", name: "T", fields: [{ name: "a", type: "string" }] };
    const v2 = { ...v1, fields: [...v1.fields, { name: "b", type: ["null", "long"], default: null }] };
    const diff = diffLines(schemaLines(v1), schemaLines(v2));
    expect(diff.filter((l) => l.kind === "removed")).toEqual([]);
    expect(diff.filter((l) => l.kind === "added").map((l) => l.text.trim())).toContain('"name": "b",');
    expect(diff.filter((l) => l.kind !== "removed").map((l) => l.text)).toEqual(schemaLines(v2));
  });
});
