// Where Pulse's files are: those that ship with it, found from the project root (the nearest folder
// above this module that holds package.json, the same from src/ and from a build in dist/), and the
// embedded parts' files, named by `embedded:<file>` URLs relative to the data folder.

import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): URL {
  let dir = new URL("./", import.meta.url);
  for (;;) {
    if (existsSync(fileURLToPath(new URL("package.json", dir)))) return dir;
    const parent = new URL("../", dir);
    if (parent.href === dir.href) return new URL("../", import.meta.url);
    dir = parent;
  }
}

/** The project's root directory, as a file URL ending in "/". */
export const PROJECT_ROOT = findRoot();

/** The file URL of a path relative to the project root. */
export function projectFile(relative: string): URL {
  return new URL(relative, PROJECT_ROOT);
}

/** Resolves an `embedded:<file>` URL against the data folder; other URLs give undefined. */
export function embeddedPath(url: string, dataDir: string): string | undefined {
  if (!url.startsWith("embedded:")) return undefined;
  const file = url.slice("embedded:".length);
  if (file === ":memory:") return file;
  return isAbsolute(file) ? file : resolve(dataDir, file);
}
