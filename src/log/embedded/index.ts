// The embedded log's public entry: EmbeddedLog, a Log in one SQLite file and its segment files, and its options.
export { EmbeddedLog, type EmbeddedLogOptions, SEGMENT_BYTES } from "./log.ts";
