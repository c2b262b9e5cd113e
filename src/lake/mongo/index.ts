// The MongoDB raw lake's entry: the lake over a live store's database, its documents' limits and index.
export {
  checkFieldBytes,
  MAX_ROW_BYTES,
  positionDocument,
  RAW_EVENTS_INDEXES,
  type RawDocument,
} from "./documents.ts";
export { MongoRawLake, type MongoLakeOwner } from "./lake.ts";
export { isOnlyDuplicateKeys } from "./write-errors.ts";
