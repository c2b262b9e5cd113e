// Segment files beside a SQLite file: batches appended to plain files, each indexed by a row in the SQLite file.
import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { errorMessage } from "./open-file.ts";

/*
 * A commit's batches are appended to the newest segment file (`<dir>/<n>.seg`) with one write each, and
 * their index rows (segment, pos, length, crc) go into the commit's SQLite transaction. SQLite then
 * writes a few small rows instead of a megabyte of overflow pages per batch, twice (WAL, then the
 * checkpoint). The owner keeps each segment's committed end (SegmentIndex).
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
 *     instead of returning other bytes;
 *   - a segment file is removed (removeBelow) only once no index row names it, after that commit.
 */

/** Where a batch's bytes are. */
export interface SegmentSpan {
  segment: number;
  pos: number;
  length: number;
  /** CRC-32 (zlib's) of the bytes. */
  crc: number;
}

/** The owner's record of segment ends, read and written inside its write transaction. */
export interface SegmentIndex {
  /** The newest segment and its committed end; undefined before the first append. */
  newest(): [segment: number, end: number] | undefined;
  /** Records a segment's committed end. */
  setEnd(segment: number, end: number): void;
}

export interface SegmentFilesOptions {
  /** Sync appended bytes before each commit (synchronous=FULL). */
  syncCommits: boolean;
  /** Appends go to a new segment once they would pass this size (a larger batch gets a segment alone). */
  segmentBytes: number;
  /** What the files hold, for messages: "The raw lake", "The log". */
  owner: string;
  /** The fix a message gives when a file is missing or damaged. */
  restoreHint: string;
  /** Makes the owner's error. */
  error: (message: string, cause?: unknown) => Error;
}

/** Read descriptors kept open per SegmentFiles; the oldest is closed past this. */
const MAX_READ_FDS = 8;

export class SegmentFiles {
  readonly dir: string;
  readonly #index: SegmentIndex;
  readonly #options: SegmentFilesOptions;
  readonly #fds = new Map<number, number>();
  /** The commit in progress: the segment it appends to (−1 before its first append) and where. */
  #segment = -1;
  #end = 0;
  /** Segments the commit in progress wrote, to sync under FULL. */
  readonly #written = new Set<number>();

  /** `dir` is created on the first append. */
  constructor(dir: string, index: SegmentIndex, options: SegmentFilesOptions) {
    this.dir = dir;
    this.#index = index;
    this.#options = options;
  }

  /** Starts a commit: forgets where the last one (committed or rolled back) appended. */
  begin(): void {
    this.#segment = -1;
    this.#written.clear();
  }

  /** Inside the commit transaction: appends `bytes` to the newest segment and says where they are. */
  append(bytes: Uint8Array): SegmentSpan {
    if (this.#segment < 0) {
      const newest = this.#index.newest();
      this.#segment = newest === undefined ? 1 : newest[0];
      this.#end = newest === undefined ? 0 : newest[1];
    }
    if (this.#end > 0 && this.#end + bytes.length > this.#options.segmentBytes) this.#next();
    const segment = this.#segment;
    const pos = this.#end;
    const fd = this.#writeFd(segment);
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
    if (this.#options.syncCommits) {
      for (const segment of this.#written) {
        try {
          fdatasyncSync(this.#writeFd(segment));
        } catch (cause) {
          throw this.#failure(`syncing ${this.#file(segment)}`, cause);
        }
      }
    }
    this.#index.setEnd(this.#segment, this.#end);
  }

  /** The bytes of a span an index row names, checked against its CRC. */
  read(span: SegmentSpan): Buffer {
    const bytes = this.tryRead(span);
    if (bytes === undefined) {
      throw this.#options.error(
        `${this.#options.owner}'s segment file ${this.#file(span.segment)} is missing, but the index names it; ${this.#options.restoreHint}.`,
      );
    }
    return bytes;
  }

  /** As read, but undefined when the file is gone (removed since the index row was read). */
  tryRead(span: SegmentSpan): Buffer | undefined {
    const file = this.#file(span.segment);
    const fd = this.#fd(span.segment, false);
    if (fd === undefined) return undefined;
    const bytes = Buffer.allocUnsafe(span.length);
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
      throw this.#options.error(
        `${this.#options.owner}'s segment file ${file} does not hold the batch its index names (${span.length} bytes at ${span.pos}: ${done < span.length ? `the file ends after ${done}` : "the checksum differs"}). The file was cut short or changed, or a power loss under synchronous=NORMAL lost its last writes; ${this.#options.restoreHint}.`,
      );
    }
    return bytes;
  }

  /**
   * Removes the segment files numbered below `segment`, which no index row names any more (the caller
   * knows, after committing the rows' removal). Returns how many it removed.
   */
  removeBelow(segment: number): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw this.#failure(`listing ${this.dir}`, cause);
    }
    let removed = 0;
    for (const name of names) {
      const match = /^(\d+)\.seg$/.exec(name);
      if (match === null || Number(match[1]) >= segment) continue;
      const number = Number(match[1]);
      const fd = this.#fds.get(number);
      if (fd !== undefined) {
        closeSync(fd);
        this.#fds.delete(number);
      }
      try {
        unlinkSync(join(this.dir, name));
        removed++;
      } catch (cause) {
        // Another process removed it first.
        if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
          throw this.#failure(`removing ${join(this.dir, name)}`, cause);
        }
      }
    }
    return removed;
  }

  close(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }

  /** Moves the commit in progress on to a new segment, recording where the old one ends and cutting its garbage. */
  #next(): void {
    const old = this.#segment;
    this.#index.setEnd(old, this.#end);
    try {
      ftruncateSync(this.#writeFd(old), this.#end);
    } catch (cause) {
      throw this.#failure(`cutting ${this.#file(old)} to ${this.#end} bytes`, cause);
    }
    this.#segment = old + 1;
    this.#end = 0;
  }

  /** A descriptor of a segment the commit in progress appends to (created when new). */
  #writeFd(segment: number): number {
    return this.#fd(segment, true)!;
  }

  /** A descriptor of `segment`; undefined when it does not exist and `create` is false. */
  #fd(segment: number, create: boolean): number | undefined {
    let fd = this.#fds.get(segment);
    if (fd !== undefined) return fd;
    const file = this.#file(segment);
    try {
      if (create) mkdirSync(this.dir, { recursive: true });
      fd = openSync(file, create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDWR, 0o644);
      // A new file's name must reach the disk too before an index row names it.
      if (create && this.#options.syncCommits) syncDir(this.dir);
    } catch (cause) {
      if (!create && (cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw this.#failure(`opening ${file}`, cause);
    }
    // An open descriptor keeps a file another process removed on disk: let those go whenever a file is
    // opened (readers and writers open the next segment as they move on). Readers move forward through
    // the segments, so past the limit the oldest descriptor is the least likely to be wanted again.
    for (const [old, oldFd] of this.#fds) {
      if (fstatSync(oldFd).nlink === 0) {
        closeSync(oldFd);
        this.#fds.delete(old);
      }
    }
    if (this.#fds.size >= MAX_READ_FDS) {
      for (const [old, oldFd] of this.#fds) {
        if (old === this.#segment) continue;
        closeSync(oldFd);
        this.#fds.delete(old);
        break;
      }
    }
    this.#fds.set(segment, fd);
    return fd;
  }

  #file(segment: number): string {
    return join(this.dir, `${String(segment).padStart(6, "0")}.seg`);
  }

  #failure(during: string, cause: unknown): Error {
    return this.#options.error(
      `${this.#options.owner} failed ${during}: ${errorMessage(cause)}; check the disk (space, permissions) under ${this.dir}.`,
      cause,
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
