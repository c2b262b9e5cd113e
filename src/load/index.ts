// The batch loader: raw lake → the warehouse's raw tables (see loader.ts for the exactly-once contract).

export { type LoadOptions, type LoadProgress, type LoadResult, loadRaw, type TopicLoad } from "./loader.ts";
export { RAW_SCHEMA, RAW_TABLES, type RawTable, USER_ACTIVITY_TABLE, WIKIMEDIA_TABLE } from "./raw-tables.ts";
export { LOAD_STATE, type PartitionLoadState, readLoadState } from "./state.ts";
export {
  enforceWarehouseRetention,
  type RawTableRetention,
  retentionCutoffMs,
  type WarehouseRetention,
  type WarehouseRetentionResult,
} from "./retention.ts";
