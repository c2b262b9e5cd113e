// The embedded raw lake's segment files: raw batches appended to files beside the store file, each indexed by a raw_batches row.
import {
  closeSync,
  constants,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type Database from "better-sqlite3";
import { StoreError, StoreErrorCode } from "../errors.ts";
import { errorMessage } from "../sqlite/open-file.ts";

/*
 * A commit's raw batches are appended to the newest segment file (`<store file>-raw/<n>.seg`) with one
 * write each, and their index rows (raw_batches: segment, pos, length, crc) go into the commit's SQLite
 * transaction with the rest of the batch. SQLite then writes a few small rows instead of a megabyte of
 * overflow pages per batch, twice (WAL, then the checkpoint). raw_segments holds each segment's committed
 * end.
 *
 * Invariants:
 *   - bytes before a segment's committed end never change, so a reader may read any span its index rows
 *     name, at any time, from any process;
 *   - only a writer holding the SQLite write lock appends, at the committed end of the newest segment,
 *     which it reads inside that transaction: writers in several processes take turns;
 *   - bytes past the committed end (a rolled-back or killed commit's) are garbage: the next append
 *     overwrites them, and moving on to a new segment cuts them off the old one;
 *   - under synchronous=FULL the segments a commit wrote are synced before SQLite commits, so a batch's
 *     index row is never durable without its bytes. Under NORMAL a power loss can leave an index row whose
 *     bytes did not reach the disk; the CRC-32 in the row makes a read of such a batch fail, naming the file,
 *     instead of returning other bytes.
 */

/** By default a segment takes no more appends once they would pass this size (a larger batch gets a segment alone). */
export const SEGMENT_BYTES = 256 * 2 ** 20;

/** Where a batch's bytes are. */
export interface SegmentSpan {
  segment: number;
  pos: number;
  length: number;
  /** CRC-32 (zlib's) of the bytes. */
  crc: number;
}

export class RawSegments {
  readonly dir: string;
  readonly #syncCommits: boolean;
  readonly #segmentBytes: number;
  readonly #fds = new Map<number, number>();
  readonly #newest: Database.Statement<[], [segment: number, end: number]>;
  readonly #setEnd: Database.Statement<[number, number]>;
  /** The commit in progress: the segment it appends to (−1 before its first append) and where. */
  #segment = -1;
  #end = 0;
  /** Segments the commit in progress wrote, to sync under FULL. */
  readonly #written = new Set<number>();

  /**
   * `dir` is created on the first append. `syncCommits` syncs appended bytes before each commit (FULL);
   * `segmentBytes` is the size past which appends go to a new segment.
   */
  constructor(dir: string, db: Database.Database, options: { syncCommits: boolean; segmentBytes: number }) {
    this.dir = dir;
    this.#syncCommits = options.syncCommits;
    this.#segmentBytes = options.segmentBytes;
    this.#newest = db
      .prepare<[], [number, number]>(
        "SELECT segment, end_pos FROM raw_segments ORDER BY segment DESC LIMIT 1",
      )
      .raw();
    this.#setEnd = db.prepare(
      `INSERT INTO raw_segments (segment, end_pos) VALUES (?, ?)
       ON CONFLICT (segment) DO UPDATE SET end_pos = excluded.end_pos`,
    );
  }

  /** Starts a commit: forgets where the last one (committed or rolled back) appended. */
  begin(): void {
    this.#segment = -1;
    this.#written.clear();
  }

  /** Inside the commit transaction: appends `bytes` to the newest segment and says where they are. */
  append(bytes: Uint8Array): SegmentSpan {
    if (this.#segment < 0) {
      const newest = this.#newest.get();
      this.#segment = newest === undefined ? 1 : newest[0];
      this.#end = newest === undefined ? 0 : newest[1];
    }
    if (this.#end > 0 && this.#end + bytes.length > this.#segmentBytes) this.#next();
    const segment = this.#segment;
    const pos = this.#end;
    const fd = this.#fd(segment, true);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, pos + done);
    } catch (cause) {
      throw this.#failure(`writing ${bytes.length} bytes at ${pos} of ${this.#file(segment)}`, cause);
    }
    this.#written.add(segment);
    this.#end = pos + bytes.length;
    return { segment, pos, length: bytes.length, crc: crc32(bytes) };
  }

  /** Inside the commit transaction, after its last append: records the new end, syncing first under FULL. */
  finish(): void {
    if (this.#written.size === 0) return;
    if (this.#syncCommits) {
      for (const segment of this.#written) {
        try {
          fdatasyncSync(this.#fd(segment, false));
        } catch (cause) {
          throw this.#failure(`syncing ${this.#file(segment)}`, cause);
        }
      }
    }
    this.#setEnd.run(this.#segment, this.#end);
  }

  /** The bytes of a span an index row names, checked against its CRC. */
  read(span: SegmentSpan): Buffer {
    const file = this.#file(span.segment);
    const bytes = Buffer.allocUnsafe(span.length);
    const fd = this.#fd(span.segment, false);
    let done = 0;
    try {
      while (done < span.length) {
        const n = readSync(fd, bytes, done, span.length - done, span.pos + done);
        if (n === 0) break;
        done += n;
      }
    } catch (cause) {
      throw this.#failure(`reading ${span.length} bytes at ${span.pos} of ${file}`, cause);
    }
    if (done < span.length || crc32(bytes) !== span.crc) {
      throw new StoreError(
        StoreErrorCode.storage,
        `The raw lake's segment file ${file} does not hold the batch its index names (${span.length} bytes at ${span.pos}: ${done < span.length ? `the file ends after ${done}` : "the checksum differs"}). The file was cut short or changed, or a power loss under synchronous=NORMAL lost its last writes; restore the store folder from a backup, or rebuild the lake by draining the log into a new store.`,
      );
    }
    return bytes;
  }

  close(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }

  /** Moves the commit in progress on to a new segment, recording where the old one ends and cutting its garbage. */
  #next(): void {
    const old = this.#segment;
    this.#setEnd.run(old, this.#end);
    try {
      ftruncateSync(this.#fd(old, true), this.#end);
    } catch (cause) {
      throw this.#failure(`cutting ${this.#file(old)} to ${this.#end} bytes`, cause);
    }
    this.#segment = old + 1;
    this.#end = 0;
  }

  #fd(segment: number, create: boolean): number {
    let fd = this.#fds.get(segment);
    if (fd !== undefined) return fd;
    const file = this.#file(segment);
    try {
      if (create) mkdirSync(this.dir, { recursive: true });
      fd = openSync(file, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR, 0o644);
      // A new file's name must reach the disk too before an index row names it.
      if (create && this.#syncCommits) syncDir(this.dir);
    } catch (cause) {
      if (!create && (cause as NodeJS.ErrnoException).code === "ENOENT") {
        throw new StoreError(
          StoreErrorCode.storage,
          `The raw lake's segment file ${file} is missing, but the store's index names it; restore the store folder (the store file and its -raw folder together) from a backup, or rebuild the lake by draining the log into a new store.`,
        );
      }
      throw this.#failure(`opening ${file}`, cause);
    }
    this.#fds.set(segment, fd);
    return fd;
  }

  #file(segment: number): string {
    return join(this.dir, `${String(segment).padStart(6, "0")}.seg`);
  }

  #failure(during: string, cause: unknown): StoreError {
    return new StoreError(
      StoreErrorCode.storage,
      `The raw lake failed ${during}: ${errorMessage(cause)}; check the disk (space, permissions) under ${this.dir}.`,
      { cause },
    );
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
