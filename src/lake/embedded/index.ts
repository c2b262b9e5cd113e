// The embedded raw lake's entry: the lake over a live-store file, its tables for the store's schema, its segment size.
export { EmbeddedRawLake, type EmbeddedRawLakeOptions, type LakeFile } from "./lake.ts";
export { LAKE_SCHEMA, upgradeLakeTables } from "./schema.ts";
export { SEGMENT_BYTES } from "./segments.ts";
