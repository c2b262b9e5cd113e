// Builds an entry module of the TypeScript sources into one ESM file with esbuild, on first use and again
// whenever a source is newer than the build. `pulse` and the benchmarks run these builds, so a process
// carries no run-time TypeScript loader: tsx's loader thread costs about 40 MB of RSS and a second of
// start-up per process. Dependencies stay external (resolved from node_modules as usual).

import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The directories whose files a build depends on, relative to the root (tests excluded). */
const SOURCE_DIRS = ["src", "bench", "dags"];

/** The newest modification time of any source file below dir (ms), −∞ when there is none. */
function newestMs(dir) {
  let newest = Number.NEGATIVE_INFINITY;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMs(path));
    else if (!entry.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds kept besides the newest, for processes still loading chunks of an older one. */
const KEPT_BUILDS = 2;

/**
 * The file URL of `entry` (a path relative to root) built into `<root>/dist/<name>/<stamp>/`, where the
 * stamp is the newest source time, building it first when that folder is missing. Code behind a dynamic
 * import stays in a chunk of its own (esbuild's splitting), so a command loads only the dependencies it
 * uses. A build goes to a temporary folder renamed into place, so processes building at the same moment
 * never see half a build; the last one to finish keeps the other's.
 */
export async function ensureBundle(entry, name, root = ROOT) {
  let sourcesMs = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  for (const dir of SOURCE_DIRS) sourcesMs = Math.max(sourcesMs, newestMs(join(root, dir)));
  const builds = join(root, "dist", name);
  const stamp = String(Math.ceil(sourcesMs));
  const out = join(builds, stamp);
  const file = join(out, `${basename(entry, extname(entry))}.js`);
  if (!existsSync(file)) {
    const { build } = await import("esbuild");
    const temporary = join(builds, `.${stamp}.${process.pid}.tmp`);
    await build({
      entryPoints: [join(root, entry)],
      outdir: temporary,
      bundle: true,
      splitting: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      sourcemap: "inline",
      logLevel: "error",
    });
    try {
      renameSync(temporary, out);
    } catch {
      rmSync(temporary, { recursive: true, force: true });
    }
    const older = readdirSync(builds)
      .filter((d) => /^\d+$/.test(d) && d !== stamp)
      .sort((a, b) => Number(b) - Number(a));
    for (const d of older.slice(KEPT_BUILDS)) rmSync(join(builds, d), { recursive: true, force: true });
  }
  return pathToFileURL(file).href;
}
