#!/usr/bin/env node
// The `pulse` command: runs the TypeScript sources as one ESM build (bin/bundle.js), rebuilt whenever a
// source changes, so a clone runs without a build step and without a run-time TypeScript loader. Where
// the build cannot be written (a read-only install), the sources run through tsx instead.
import { ensureBundle } from "./bundle.js";

const UNWRITABLE = new Set(["EACCES", "EPERM", "EROFS"]);

async function entry() {
  try {
    return await ensureBundle("src/cli/main.ts", "pulse");
  } catch (error) {
    if (!UNWRITABLE.has(error?.code)) throw error;
    const { register } = await import("tsx/esm/api");
    register();
    return new URL("../src/cli/main.ts", import.meta.url).href;
  }
}

process.setSourceMapsEnabled(true);
const { main } = await import(await entry());
process.exitCode = await main(process.argv.slice(2));
