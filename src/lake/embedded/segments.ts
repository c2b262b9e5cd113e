// The embedded raw lake's segment files: raw batches appended to files beside the store file, each indexed by a raw_batches row.
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { SegmentFiles } from "../../sqlite/segment-files.ts";
import type { RawBatchRow } from "./statements.ts";

/*
 * The raw lake keeps one run of segments for the whole store (`<store file>-raw/<n>.seg`, src/sqlite/
 * segment-files.ts); raw_segments holds each segment's committed end.
 */

/** By default a segment takes no more appends once they would pass this size (a larger batch gets a segment alone). */
export const SEGMENT_BYTES = 256 * 2 ** 20;

/** The raw lake's segment files in `dir`, indexed in the store's raw_segments table. */
export function rawSegments(
  dir: string,
  db: Database.Database,
  options: { syncCommits: boolean; segmentBytes: number },
): SegmentFiles {
  const newest = db
    .prepare<[], [number, number]>("SELECT segment, end_pos FROM raw_segments ORDER BY segment DESC LIMIT 1")
    .raw();
  const setEnd = db.prepare<[number, number]>(
    `INSERT INTO raw_segments (segment, end_pos) VALUES (?, ?)
     ON CONFLICT (segment) DO UPDATE SET end_pos = excluded.end_pos`,
  );
  return new SegmentFiles(
    dir,
    { newest: () => newest.get(), setEnd: (segment, end) => setEnd.run(segment, end) },
    {
      ...options,
      owner: "The raw lake",
      restoreHint:
        "restore the store folder (the store file and its -raw folder together) from a backup, or rebuild the lake by draining the log into a new store",
      error: (message, cause) => new StoreError(StoreErrorCode.storage, message, { cause }),
    },
  );
}

/** A stored batch's bytes: from its segment file, or from the row itself (store schema 3 and before, in-memory). */
export function batchBytes(segments: SegmentFiles | undefined, row: RawBatchRow): Buffer {
  const [, , records, segment, pos, length, crc] = row;
  if (segment === null) return records;
  return segments!.read({ segment, pos: pos!, length: length!, crc: crc! });
}
