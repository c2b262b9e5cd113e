// Where the embedded log's batch rows keep their bytes: in the row itself, or in the partition's segment files.
import { join } from "node:path";
import { LogError, LogErrorCode } from "../../errors.ts";
import { SegmentFiles, type SegmentSpan } from "../../sqlite/segment-files.ts";
import { MAX_PARTITIONS } from "../validate.ts";
import type { EncodedBatch } from "./batch-codec.ts";
import type { Statements, StoredBytes, TopicRow } from "./statements.ts";

const EMPTY = Buffer.alloc(0);

/**
 * A batch row holds its bytes in `records` when `segment` is null, else the span of one of its
 * partition's segment files (schema.ts). This keeps each partition's SegmentFiles, made on first use;
 * an in-memory log has none, so its rows keep their bytes.
 */
export class LogSegments {
  /** Where partitions' segment folders go; undefined for an in-memory log. */
  readonly #dir: string | undefined;
  readonly #logPath: string;
  readonly #segmentBytes: number;
  readonly #sql: Statements;
  /** Each partition's segment files, by topic_id * MAX_PARTITIONS + partition. */
  readonly #files = new Map<number, SegmentFiles>();

  constructor(logPath: string, sql: Statements, segmentBytes: number) {
    this.#dir = logPath === ":memory:" ? undefined : `${logPath}-segments`;
    this.#logPath = logPath;
    this.#segmentBytes = segmentBytes;
    this.#sql = sql;
  }

  /** A partition's segment files; undefined for an in-memory log. */
  filesOf(topicId: number, topicName: string, partition: number): SegmentFiles | undefined {
    if (this.#dir === undefined) return undefined;
    const key = topicId * MAX_PARTITIONS + partition;
    let files = this.#files.get(key);
    if (files === undefined) {
      const sql = this.#sql;
      files = new SegmentFiles(
        join(this.#dir, `${topicName}-${partition}`),
        {
          newest: () => sql.newestSegment.get(topicId, partition),
          setEnd: (segment, end) => sql.setSegmentEnd.run(topicId, partition, segment, end),
        },
        {
          syncCommits: false,
          segmentBytes: this.#segmentBytes,
          owner: "The embedded log",
          restoreHint: `restore the data folder (the log file ${this.#logPath} and its -segments folder together) from a backup, or remove both to start a new log (their records are lost)`,
          error: (message, cause) => new LogError(LogErrorCode.storage, message, { cause }),
        },
      );
      this.#files.set(key, files);
    }
    return files;
  }

  /**
   * Stores one encoded batch as the row of its first offset: its bytes appended to `files` (inside a
   * begin/finish of theirs), or kept in the row when there are none.
   */
  insert(
    topicId: number,
    partition: number,
    baseOffset: number,
    batch: EncodedBatch,
    files: SegmentFiles | undefined,
  ): void {
    const span = files?.append(batch.bytes);
    this.#sql.insertBatch.run(
      topicId,
      partition,
      baseOffset,
      baseOffset + batch.count - 1,
      batch.count,
      batch.maxTimestampMs,
      batch.sizeBytes,
      span === undefined ? batch.bytes : EMPTY,
      span?.segment ?? null,
      span?.pos ?? null,
      span?.length ?? null,
      span?.crc ?? null,
    );
  }

  /**
   * A batch row's bytes: the row's own, or read from its segment file. Undefined when that file is gone
   * (retention removed it since the row was read) and `mustExist` is false.
   */
  bytes(
    topicId: number,
    topicName: string,
    partition: number,
    [records, segment, pos, length, crc]: StoredBytes,
    mustExist: boolean,
  ): Buffer | undefined {
    if (segment === null) return records;
    const files = this.filesOf(topicId, topicName, partition)!;
    const span: SegmentSpan = { segment, pos: pos!, length: length!, crc: crc! };
    return mustExist ? files.read(span) : files.tryRead(span);
  }

  /** Removes a partition's segment files that no batch row names any more (after retention deleted rows). */
  removeUnused(topic: TopicRow, partition: number): void {
    const files = this.filesOf(topic.topic_id, topic.name, partition);
    if (files === undefined) return;
    // With no row in a segment left, every segment but the newest (where the next append goes) is unused.
    const keep =
      this.#sql.firstSegment.get({ topic: topic.topic_id, partition }) ??
      this.#sql.newestSegment.get(topic.topic_id, partition)?.[0];
    if (keep !== undefined) files.removeBelow(keep);
  }

  /** Lets go of every open segment file. */
  close(): void {
    for (const files of this.#files.values()) files.close();
    this.#files.clear();
  }
}
