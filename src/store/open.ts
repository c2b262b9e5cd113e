// Opens the live store a URL names, embedded:<file> (SQLite, relative to the data folder) or a MongoDB database, or the raw lake it keeps.

import { ConfigError } from "../errors.ts";
import { embeddedPath } from "../paths.ts";
import { EmbeddedLiveStore, openEmbeddedRawLake } from "./embedded/index.ts";
import type { OpenedRawLake } from "../lake/index.ts";
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
  return byUrl<LiveStore>(url, options, {
    embedded: (path) =>
      EmbeddedLiveStore.open({ path, backgroundCheckpoints: options.backgroundCheckpoints }),
    mongo: async () => (await import("./mongo/index.ts")).MongoLiveStore.open({ url }),
  });
}

/**
 * The raw lake the live store `url` keeps, opened alone for a reader such as the batch loader: the store
 * file (with its -raw segment folder) or the MongoDB database, as `open` opens them. It may be open while a
 * stream job commits to the same store; a scan sees each commit whole or not at all.
 */
export async function openLake(url: string, options: OpenStoreOptions): Promise<OpenedRawLake> {
  return byUrl<OpenedRawLake>(url, options, {
    embedded: (path) => openEmbeddedRawLake({ path }),
    mongo: async () => (await import("./mongo/index.ts")).openMongoRawLake({ url }),
  });
}

async function byUrl<T>(
  url: string,
  options: OpenStoreOptions,
  backends: { embedded: (path: string) => T | Promise<T>; mongo: () => Promise<T> },
): Promise<T> {
  const path = embeddedPath(url, options.dataDir);
  if (path !== undefined) return backends.embedded(path);
  if (/^mongodb(\+srv)?:\/\//i.test(url)) return backends.mongo();
  throw new ConfigError(
    `store '${redactUrl(url)}': not a live store URL; use store: embedded:<file> (the default, embedded:store.db), mongodb://host:port/db or mongodb+srv://host/db.`,
  );
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
