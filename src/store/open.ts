// Opens the live store a URL names: embedded:<file> (SQLite, relative to the data folder) or a MongoDB database.

import { ConfigError } from "../errors.ts";
import { embeddedPath } from "../paths.ts";
import { EmbeddedLiveStore } from "./embedded/index.ts";
import type { LiveStore } from "./index.ts";

export interface OpenStoreOptions {
  /** The folder an `embedded:<file>` URL is relative to. */
  dataDir: string;
  /** Embedded: run the WAL checkpoints on a worker thread (src/sqlite/wal-checkpointer.ts). */
  backgroundCheckpoints?: boolean;
}

/**
 * The live store `url` names: the embedded SQLite file, or a MongoDB database (connected, indexed,
 * recovered). The MongoDB driver is loaded only for a mongodb:// or mongodb+srv:// URL.
 */
export async function open(url: string, options: OpenStoreOptions): Promise<LiveStore> {
  const path = embeddedPath(url, options.dataDir);
  if (path !== undefined) {
    return EmbeddedLiveStore.open({ path, backgroundCheckpoints: options.backgroundCheckpoints });
  }
  if (/^mongodb(\+srv)?:\/\//i.test(url)) {
    const { MongoLiveStore } = await import("./mongo/index.ts");
    return MongoLiveStore.open({ url });
  }
  throw new ConfigError(
    `store '${redactUrl(url)}': not a live store URL; use store: embedded:<file> (the default, embedded:store.db), mongodb://host:port/db or mongodb+srv://host/db.`,
  );
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
