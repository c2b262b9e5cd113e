// The embedded RunStore backend: run history in a SQLite file.
export { SqliteRunStore, type SqliteRunStoreOptions } from "./store.ts";
