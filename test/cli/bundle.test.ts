// bin/bundle.js: pulse runs an esbuild build of the sources, made on first use and again after any change.

import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureBundle } from "../../bin/bundle.js";
import { tempDir } from "../helpers/cli.ts";

describe("ensureBundle", () => {
  it("builds on first use, reuses the build while the sources are unchanged, and rebuilds after a change", async (ctx) => {
    const root = tempDir(ctx.onTestFinished, "pulse-bundle-");
    mkdirSync(join(root, "src", "lib"), { recursive: true });
    writeFileSync(join(root, "package.json"), '{"name":"bundle-test","type":"module"}');
    const lib = join(root, "src", "lib", "value.ts");
    writeFileSync(lib, "export const value: number = 1;\n");
    writeFileSync(
      join(root, "src", "main.ts"),
      'import { value } from "./lib/value.ts";\nexport const main = (): number => value;\n',
    );
    const builds = join(root, "dist", "app");

    const first = await ensureBundle("src/main.ts", "app", root);
    expect(((await import(first)) as { main: () => number }).main()).toBe(1);
    expect(readdirSync(builds)).toHaveLength(1);
    expect(await ensureBundle("src/main.ts", "app", root)).toBe(first);
    expect(readdirSync(builds)).toHaveLength(1);

    // A source changed after the build: a new build in a folder of its own, with the change in it.
    writeFileSync(lib, "export const value: number = 2;\n");
    const later = new Date(Date.now() + 5_000);
    utimesSync(lib, later, later);
    const second = await ensureBundle("src/main.ts", "app", root);
    expect(second).not.toBe(first);
    expect(((await import(second)) as { main: () => number }).main()).toBe(2);
    expect(readdirSync(builds).filter((d) => !d.startsWith("."))).toHaveLength(2);
  });

  it("fails with esbuild's message naming the file when a source does not compile", async (ctx) => {
    const root = tempDir(ctx.onTestFinished, "pulse-bundle-");
    mkdirSync(join(root, "src"), { recursive: true });
    writeFileSync(join(root, "package.json"), '{"name":"bundle-test","type":"module"}');
    writeFileSync(join(root, "src", "main.ts"), "export const main = ( => 1;\n");
    await expect(ensureBundle("src/main.ts", "app", root)).rejects.toThrow(/main\.ts/);
  });
});
