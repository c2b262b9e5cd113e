// Keeps the key table of docs/configuration.md equal to the configuration schema (describeConfig).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeConfig } from "./index.ts";

const DOC = new URL("../../docs/configuration.md", import.meta.url);

/** The table's rows as describeConfig would write them. */
function configTableRows(): string[] {
  return describeConfig().map(
    (row) =>
      `| \`${row.key}\` | ${row.env === undefined ? "" : `\`${row.env}\``} | \`${JSON.stringify(row.default)}\` | ${row.doc} |`,
  );
}

describe("docs/configuration.md", () => {
  it("lists every key with its variable, default and meaning, as the schema has them", () => {
    const rows = readFileSync(DOC, "utf8")
      .split("\n")
      .filter((line) => /^\| `[a-z_.]+` \|/.test(line));
    expect(rows).toEqual(configTableRows());
  });
});
