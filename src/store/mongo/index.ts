// The MongoDB live store's entry: the store on a database, and its raw lake opened on its own.
import { type OpenedRawLake, openedRawLake } from "../../lake/index.ts";
import { displayMongoUrl } from "./connection.ts";
import { MongoLiveStore, type MongoLiveStoreOptions } from "./store.ts";

export { displayMongoUrl, MongoLiveStore, type MongoLiveStoreOptions };

/**
 * The raw lake of the live store's database at `options.url`, for a reader such as the batch loader: the
 * database is opened as the store opens it (schema check, indexes, recovery), and closed by close().
 */
export async function openMongoRawLake(options: MongoLiveStoreOptions): Promise<OpenedRawLake> {
  const store = await MongoLiveStore.open(options);
  return openedRawLake(store.lake, () => store.close());
}
