// Builds the dashboard (web/) with Vite into dist/web/<stamp>/ on first use and whenever a source is newer than the build, as bin/bundle.js does for the CLI.

import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PulseError } from "../errors.ts";
import { PROJECT_ROOT } from "../paths.ts";

/** Builds kept besides the newest, for servers still serving an older one. */
const KEPT_BUILDS = 2;

/** Files whose change means a new build: the app's sources, and package.json (the bundled libraries' versions). */
const SOURCES = ["web", "package.json"];

/** The newest modification time of `path` or any file below it (ms); −∞ when there is none. */
function newestMs(path: string): number {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = Number.NEGATIVE_INFINITY;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry === "dist") continue;
    newest = Math.max(newest, newestMs(join(path, entry)));
  }
  return newest;
}

/**
 * The folder of the built dashboard (index.html and assets/): `<root>/dist/web/<stamp>/`, where the stamp
 * is the newest source time, built first when that folder is missing. Everything the pages load is
 * bundled (no CDN), so they work offline. A build goes to a temporary folder renamed into place, so
 * servers building at the same moment never serve half a build.
 */
export async function ensureWebBuild(root: string = fileURLToPath(PROJECT_ROOT)): Promise<string> {
  const webDir = join(root, "web");
  if (!existsSync(join(webDir, "index.html"))) {
    throw new PulseError(
      "PULSE_HTTP_PAGES_UNAVAILABLE",
      `${webDir}/index.html is missing: this copy of Pulse has no dashboard sources`,
    );
  }
  const stamp = String(Math.ceil(Math.max(...SOURCES.map((source) => newestMs(join(root, source))))));
  const builds = join(root, "dist", "web");
  const out = join(builds, stamp);
  if (existsSync(join(out, "index.html"))) return out;

  let vite: typeof import("vite");
  try {
    vite = await import("vite");
  } catch (cause) {
    throw new PulseError(
      "PULSE_HTTP_PAGES_UNAVAILABLE",
      "Vite is not installed, so the dashboard cannot be built; run `npm install`",
      {
        cause,
      },
    );
  }
  const temporary = join(builds, `.${stamp}.${process.pid}.tmp`);
  try {
    await vite.build({
      root: webDir,
      configFile: false,
      envDir: false,
      publicDir: false,
      base: "/",
      logLevel: "warn",
      build: {
        outDir: temporary,
        emptyOutDir: true,
        assetsDir: "assets",
        target: "es2022",
        reportCompressedSize: false,
        // Browsers the target covers preload modules natively; the polyfill would be dead code.
        modulePreload: { polyfill: false },
      },
    });
  } catch (cause) {
    rmSync(temporary, { recursive: true, force: true });
    const first = ((cause as Error).message ?? String(cause)).split("\n")[0];
    throw new PulseError(
      "PULSE_HTTP_PAGES_UNAVAILABLE",
      `building the dashboard (web/) with Vite failed: ${first}`,
      {
        cause,
      },
    );
  }
  try {
    renameSync(temporary, out);
  } catch {
    // Another process finished the same build first; theirs is as good.
    rmSync(temporary, { recursive: true, force: true });
  }
  const older = readdirSync(builds)
    .filter((name) => /^\d+$/.test(name) && name !== stamp)
    .sort((a, b) => Number(b) - Number(a));
  for (const name of older.slice(KEPT_BUILDS)) rmSync(join(builds, name), { recursive: true, force: true });
  return out;
}
