// The MongoDB raw lake's entry: the lake over a live store's database, its documents' limits and indexes.
export {
  checkFieldBytes,
  MAX_ROW_BYTES,
  positionDocument,
  RAW_BATCHES_INDEXES,
  RAW_EVENTS_INDEXES,
  type RawDocument,
} from "./documents.ts";
export { MongoRawLake, type MongoLakeOwner } from "./lake.ts";
export type { PartitionAppend } from "./plan.ts";
export { isOnlyDuplicateKeys, writeErrorsOf } from "./write-errors.ts";
