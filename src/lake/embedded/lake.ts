// The embedded RawLake: raw batches in the live store's SQLite file, their bytes in segment files beside it, appended in the store's commit.
import type { SqliteFile } from "../../sqlite/lifecycle.ts";
import type { SegmentFiles } from "../../sqlite/segment-files.ts";
import type { LakeAppend, LakeRetention, LakeRetentionResult, RawEventRow } from "../index.ts";
import { type PartitionWalk, PartitionScans } from "../scans.ts";
import { LakeAppender } from "./append.ts";
import { enforceLakeRetention } from "./retention.ts";
import { type LakeReads, lastOffsets, walkPartitions } from "./scan.ts";
import { rawSegments } from "./segments.ts";
import { prepareLakeStatements } from "./statements.ts";

/**
 * The SQLite file the lake lives in, as its owner (the embedded live store, src/store/embedded/) holds
 * it open: the lake's tables are part of the owner's schema (LAKE_SCHEMA, upgradeLakeTables). use()
 * fails with PULSE_STORE_CLOSED once the owner closed it; run() turns a SQLite failure into a StoreError
 * saying what was being done. The path ":memory:" keeps batches in their rows: no segment files.
 */
export type LakeFile = Pick<SqliteFile, "path" | "use" | "run">;

export interface EmbeddedRawLakeOptions {
  /** How large a segment file grows before the next one starts (checked by the owner). */
  segmentBytes: number;
}

export class EmbeddedRawLake extends PartitionScans {
  readonly #file: LakeFile;
  readonly #reads: LakeReads;
  readonly #appender: LakeAppender;
  /** The segment files; undefined for an in-memory store, whose batches stay in raw_batches. */
  readonly #segments: SegmentFiles | undefined;

  constructor(file: LakeFile, options: EmbeddedRawLakeOptions) {
    super();
    this.#file = file;
    const db = file.use();
    const sql = prepareLakeStatements(db);
    // synchronous 2 is FULL: then a commit syncs its segment bytes before SQLite commits.
    this.#segments =
      file.path === ":memory:"
        ? undefined
        : rawSegments(`${file.path}-raw`, db, {
            syncCommits: db.pragma("synchronous", { simple: true }) === 2,
            segmentBytes: options.segmentBytes,
          });
    this.#reads = { sql, segments: this.#segments };
    this.#appender = new LakeAppender(file.path, sql, this.#segments);
  }

  /**
   * Appends a commit's raw rows; the owner calls it inside its commit transaction, so they are readable
   * exactly when the rest of the batch and its checkpoints are. A throw rolls the whole commit back.
   */
  append(batch: LakeAppend): void {
    this.#appender.append(batch);
  }

  /** Deletes each partition's loaded batches wholly before the cutoff, oldest first (retention.ts). */
  enforceRetention(retention: LakeRetention): LakeRetentionResult {
    const db = this.#file.use();
    return this.#file.run("enforcing the raw lake's retention", () =>
      enforceLakeRetention(db, this.#reads.sql, this.#segments, retention),
    );
  }

  protected requireOpen(): void {
    this.#file.use();
  }

  protected async lastOffsetsOf(topic: string): Promise<Map<number, number>> {
    this.#file.use();
    return this.#file.run("reading raw events", () => lastOffsets(this.#reads, topic));
  }

  protected async walk(walk: PartitionWalk): Promise<RawEventRow[]> {
    this.#file.use();
    return this.#file.run("reading raw events", () => walkPartitions(this.#reads, walk));
  }

  /** Closes the segment files, as the owner closes the SQLite file. */
  closeSegments(): void {
    this.#segments?.close();
  }
}
