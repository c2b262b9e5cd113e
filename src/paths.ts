// Files that ship with Pulse, found from the project root: the nearest folder above this module that
// holds package.json, which is the same folder from the sources (src/) and from a build (dist/…).

import { existsSync } from "node:fs";
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
