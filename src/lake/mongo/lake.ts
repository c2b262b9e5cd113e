// The MongoDB RawLake: a partition's rows as raw_batches documents of the live store's database, written first in the store's commit and scanned partition by partition.
import type { Db, Document } from "mongodb";
import { decodeRawBatch, RawBatchEncoder } from "../batch.ts";
import type { LakeAppend, LakeRetention, LakeRetentionResult, RawEventRow } from "../index.ts";
import { type PartitionWalk, PartitionScans } from "../scans.ts";
import {
  batchRecords,
  RAW_BATCHES,
  type RawBatchDocument,
  type RawPiece,
  rawBatchDocument,
  rawBatchId,
} from "./documents.ts";
import { type PartitionAppend, piecesOf, planLakeAppend } from "./plan.ts";
import { enforceMongoLakeRetention } from "./retention.ts";
import { lakeLastOffsets, rowsOfDocuments, walkLake } from "./scan.ts";
import { isOnlyDuplicateKeys } from "./write-errors.ts";

/** What the lake uses of the live store whose database it lives in (src/store/mongo/). */
export interface MongoLakeOwner {
  /** Fails with PULSE_STORE_CLOSED once the store is closed. */
  requireOpen(): void;
  /** Runs a read, once the store has finished any recovery; failures come back as StoreErrors naming `during`. */
  read<T>(during: string, read: () => Promise<T>): Promise<T>;
  /** Upserts documents by _id in commands the server can take (FerretDB holds a connection per statement). */
  replaceById(collection: string, docs: readonly Document[], ordered: boolean): Promise<void>;
}

/*
 * A commit's rows are written in the first step of the store's commit protocol, before its commit points:
 * keyed by position and deterministic, so writing them early is harmless, and they never go into a redo
 * record. Each partition's rows of a commit become raw_batches documents (documents.ts): the stream job's
 * runs as they are, one insert for the whole commit.
 *
 * Where a write meets stored offsets (a retry, or the replay after a crash or a rebalance), it reads the
 * partition's documents it overlaps: pieces stored already with the same bytes are left alone, a piece
 * that covers exactly one stored document's range replaces it, and anything else rewrites the stored
 * documents it overlaps and its own rows as one merged run, the new rows winning. A rewrite writes its
 * documents from the highest offset down (each upserted by _id, one document at a time atomically) and
 * only then deletes the documents it replaced, lowest first, so a rewrite cut short by a crash leaves
 * overlapping documents that still read every committed row (scan.ts), and its retry finishes it.
 *
 * To know that a write meets no stored offset without a read per commit, the lake keeps each
 * partition's greatest stored offset, read once per topic (on FerretDB, whose SQLite backend filters
 * only by _id in SQL, any read scans the collection). A write that starts past it is inserted straight
 * away. Another process's rows past it show up as duplicate keys (a replay's first run starts where the
 * stored one does), and the write then takes the path above.
 */
export class MongoRawLake extends PartitionScans {
  readonly #db: Db;
  readonly #owner: MongoLakeOwner;
  readonly #encoder = new RawBatchEncoder();
  /** Per topic, each partition's greatest stored offset as far as this lake knows (a topic absent: unknown). */
  readonly #ends = new Map<string, Map<number, number>>();

  constructor(db: Db, owner: MongoLakeOwner) {
    super();
    this.#db = db;
    this.#owner = owner;
  }

  /** A commit's raw rows, checked (before anything of the batch is written), as each partition's pieces. */
  plan(batch: LakeAppend): PartitionAppend[] {
    return planLakeAppend(batch, this.#encoder);
  }

  /** Writes planned rows (see above). A failure forgets what the lake knew of the topics' ends. */
  async write(appends: readonly PartitionAppend[]): Promise<void> {
    const topics = new Set(appends.map((append) => append.topic));
    try {
      for (const topic of topics) {
        if (!this.#ends.has(topic)) this.#ends.set(topic, await this.#storedEnds(topic));
      }
      const fresh: PartitionAppend[] = [];
      const overlapping: PartitionAppend[] = [];
      for (const append of appends) {
        const end = this.#ends.get(append.topic)!.get(append.partition) ?? -1;
        (append.pieces[0]!.first_offset > end ? fresh : overlapping).push(append);
      }
      if (fresh.length > 0 && !(await this.#insert(fresh))) overlapping.push(...fresh);
      for (const append of overlapping) await this.#rewrite(append);
      for (const { topic, partition, pieces } of appends) {
        const ends = this.#ends.get(topic)!;
        ends.set(partition, Math.max(ends.get(partition) ?? -1, pieces.at(-1)!.last_offset));
      }
    } catch (error) {
      for (const topic of topics) this.#ends.delete(topic);
      throw error;
    }
  }

  /** Deletes each partition's loaded documents wholly before the cutoff, oldest first (retention.ts). */
  async enforceRetention(retention: LakeRetention): Promise<LakeRetentionResult> {
    return this.#owner.read("enforcing the raw lake's retention", () =>
      enforceMongoLakeRetention(this.#db, retention),
    );
  }

  protected requireOpen(): void {
    this.#owner.requireOpen();
  }

  protected async walk(walk: PartitionWalk): Promise<RawEventRow[]> {
    return this.#owner.read("reading raw events", () => walkLake(this.#db, walk));
  }

  protected async lastOffsetsOf(topic: string): Promise<Map<number, number>> {
    return this.#owner.read("reading raw events", () => lakeLastOffsets(this.#db, topic));
  }

  /** Each partition's greatest last_offset in raw_batches. */
  async #storedEnds(topic: string): Promise<Map<number, number>> {
    const ends = new Map<number, number>();
    const docs = this.#batches().find({ topic }, { projection: { _id: 0, partition: 1, last_offset: 1 } });
    for await (const doc of docs) {
      ends.set(doc.partition, Math.max(ends.get(doc.partition) ?? -1, doc.last_offset));
    }
    return ends;
  }

  /**
   * Inserts the partitions' pieces in one unordered bulk write; false when some were stored already
   * (their partitions are then written again through #rewrite, which leaves what is stored alike).
   */
  async #insert(appends: readonly PartitionAppend[]): Promise<boolean> {
    const docs = await Promise.all(
      appends.flatMap(({ topic, partition, pieces }) =>
        pieces.map((piece) => rawBatchDocument(topic, partition, piece)),
      ),
    );
    try {
      await this.#batches().insertMany(docs, { ordered: false });
      return true;
    } catch (error) {
      if (isOnlyDuplicateKeys(error)) return false;
      throw error;
    }
  }

  /** Writes one partition's pieces over the stored documents they overlap (see above). */
  async #rewrite({ topic, partition, pieces }: PartitionAppend): Promise<void> {
    const first = pieces[0]!.first_offset;
    const last = pieces.at(-1)!.last_offset;
    const stored = await this.#batches()
      .find(
        { topic, partition, first_offset: { $lte: last }, last_offset: { $gte: first } },
        { sort: { first_offset: 1 }, promoteBuffers: true },
      )
      .toArray();
    const byId = new Map(stored.map((doc) => [doc._id, doc]));
    /** Whether a piece is stored already: a document of its first offset with its range and rows. */
    const unchanged = (piece: RawPiece) => {
      const old = byId.get(rawBatchId(topic, partition, piece.first_offset));
      return (
        old !== undefined && old.last_offset === piece.last_offset && batchRecords(old).equals(piece.records)
      );
    };
    // Stored documents that overlap one another are what a rewrite cut short left: this write finishes it.
    const tidy = stored.every((doc, i) => i === 0 || doc.first_offset > stored[i - 1]!.last_offset);
    const changed = pieces.filter((piece) => !unchanged(piece));
    if (tidy && changed.length === 0) return;
    const inPlace = changed.every((piece) => {
      const met = stored.filter(
        (s) => s.first_offset <= piece.last_offset && s.last_offset >= piece.first_offset,
      );
      return (
        met.length === 0 ||
        (met.length === 1 &&
          met[0]!.first_offset === piece.first_offset &&
          met[0]!.last_offset === piece.last_offset)
      );
    });
    if (tidy && inPlace) {
      await this.#put(topic, partition, changed);
      return;
    }
    const byOffset = new Map<number, RawEventRow>();
    for (const row of rowsOfDocuments(stored, topic, partition)) byOffset.set(row.offset, row);
    for (const piece of pieces) {
      for (const row of decodeRawBatch(piece.records, topic, partition)) byOffset.set(row.offset, row);
    }
    const rows = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
    const merged = piecesOf(rows, this.#encoder);
    await this.#put(topic, partition, merged.filter((piece) => !unchanged(piece)).reverse());
    const kept = new Set(merged.map((piece) => rawBatchId(topic, partition, piece.first_offset)));
    for (const doc of stored) {
      if (!kept.has(doc._id)) await this.#batches().deleteOne({ _id: doc._id });
    }
  }

  /** Upserts pieces by _id, in their order. */
  async #put(topic: string, partition: number, pieces: readonly RawPiece[]): Promise<void> {
    const docs = await Promise.all(pieces.map((piece) => rawBatchDocument(topic, partition, piece)));
    await this.#owner.replaceById(RAW_BATCHES, docs, true);
  }

  #batches() {
    return this.#db.collection<RawBatchDocument>(RAW_BATCHES);
  }
}
