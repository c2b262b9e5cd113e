// Opens the run store a URL names: embedded:<file> (SQLite, relative to the data folder).

import { ConfigError } from "../../errors.ts";
import { embeddedPath } from "../../paths.ts";
import type { RunStore, RunStoreOptions } from "./index.ts";

export interface OpenRunStoreOptions extends RunStoreOptions {
  dataDir: string;
}

export async function openRunStore(url: string, options: OpenRunStoreOptions): Promise<RunStore> {
  if (url.startsWith("embedded:")) {
    const { SqliteRunStore } = await import("./sqlite/index.ts");
    return SqliteRunStore.open({ path: embeddedPath(url, options.dataDir) as string, clock: options.clock });
  }
  throw new ConfigError(`run store '${url}': not a run store URL; use embedded:<file>.`);
}
