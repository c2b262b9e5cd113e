// The MongoDB raw lake's entry: the lake over a live store's database, its documents' limits and index.
export { MAX_ROW_BYTES, checkFieldBytes, RAW_EVENTS_INDEXES, type RawDocument } from "./documents.ts";
export { MongoRawLake, type MongoLakeOwner } from "./lake.ts";
export { isOnlyDuplicateKeys } from "./write-errors.ts";
