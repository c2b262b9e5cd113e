// The embedded live store's entry: the store on a SQLite file, and its raw lake opened on its own.
import { type OpenedRawLake, openedRawLake } from "../../lake/index.ts";
import { EmbeddedLiveStore, type EmbeddedLiveStoreOptions } from "./store.ts";

export { EmbeddedLiveStore, type EmbeddedLiveStoreOptions };

/**
 * The raw lake of the live-store file `options.path`, for a reader such as the batch loader: the file is
 * opened as the store opens it (created, or converted from an older schema), and closed by close().
 */
export function openEmbeddedRawLake(options: EmbeddedLiveStoreOptions): OpenedRawLake {
  const store = EmbeddedLiveStore.open(options);
  return openedRawLake(store.lake, () => store.close());
}
