// The MongoDB RawLake: the raw_events collection of the live store's database, written first in the store's commit and scanned partition by partition.
import type { Db, Document, MongoBulkWriteError } from "mongodb";
import { checkRawRun, decodeRawBatch } from "../batch.ts";
import type { LakeAppend, RawEventRow } from "../index.ts";
import { type PartitionWalk, PartitionScans } from "../scans.ts";
import { type RawDocument, rawEventDocument, rawEventRow, sameRawRow } from "./documents.ts";
import { isOnlyDuplicateKeys, writeErrorsOf } from "./write-errors.ts";

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
 * record. FerretDB 1.24's SQLite backend scans the whole table for a lookup by _id (see src/store/mongo/
 * schema.ts), so rows are inserted in bulk and rewritten one by one only where a stored row may differ.
 */
export class MongoRawLake extends PartitionScans {
  readonly #db: Db;
  readonly #owner: MongoLakeOwner;
  /**
   * Raw-lake rows that this store wrote, or sent and may have written, since its last successful commit,
   * by _id. A retried commit finds them stored already, with the content it is writing (see write).
   */
  readonly #sent = new Map<string, RawDocument>();

  constructor(db: Db, owner: MongoLakeOwner) {
    super();
    this.#db = db;
    this.#owner = owner;
  }

  /**
   * A commit's raw rows as documents, checked (before anything of the batch is written): runs are the
   * same rows encoded, and here each still becomes a document of its own. A later row at the same
   * position replaces an earlier one, as an upsert would.
   */
  plan(batch: LakeAppend): RawDocument[] {
    const raw = new Map<string, RawDocument>();
    const put = (row: RawEventRow) => {
      const doc = rawEventDocument(row);
      raw.delete(doc._id);
      raw.set(doc._id, doc);
    };
    for (const row of batch.rawEvents ?? []) put(row);
    for (const run of batch.rawRuns ?? []) {
      const { bytes } = checkRawRun(run, Number.MAX_SAFE_INTEGER);
      for (const row of decodeRawBatch(bytes, run.topic, run.partition)) put(row);
    }
    return [...raw.values()];
  }

  /**
   * Writes planned rows: inserted in one unordered bulk write; the rows already stored (a replay of
   * offsets) are replaced, the newest write winning, except those this store itself sent with the same
   * content in an earlier attempt at this commit. Those are what a retry after a failure past this step
   * meets: all of the batch, whose rewrite one row at a time would scan the whole lake per row on
   * FerretDB (minutes for a batch, with the job silent meanwhile). A stored row from another run is
   * rewritten.
   */
  async write(docs: RawDocument[]): Promise<void> {
    const raw = this.#db.collection<RawDocument>("raw_events");
    const sentBefore = docs.map((doc) => this.#sent.get(doc._id));
    // Whatever part of this insert reaches the server is this store's write, even if no reply comes back.
    for (const doc of docs) this.#sent.set(doc._id, doc);
    let duplicates: readonly number[];
    try {
      await raw.insertMany(docs, { ordered: false });
      return;
    } catch (error) {
      if (!isOnlyDuplicateKeys(error)) throw error;
      // The indexes, in the bulk write's own order, of the rows already stored.
      duplicates = writeErrorsOf(error as MongoBulkWriteError).map((e) => e.index);
    }
    const stale = duplicates.filter((i) => !sameRawRow(sentBefore[i], docs[i]!)).map((i) => docs[i]!);
    // Another run's rows until they are replaced: a retry after a failure below must rewrite them too.
    for (const doc of stale) this.#sent.delete(doc._id);
    await this.#owner.replaceById("raw_events", stale, false);
    for (const doc of stale) this.#sent.set(doc._id, doc);
  }

  /** After a successful commit: the rows sent are committed, and a later write of them is another run's. */
  committed(): void {
    this.#sent.clear();
  }

  protected requireOpen(): void {
    this.#owner.requireOpen();
  }

  protected async walk(walk: PartitionWalk): Promise<RawEventRow[]> {
    return this.#owner.read("reading raw events", () => this.#walk(walk));
  }

  protected async lastOffsetsOf(topic: string): Promise<Map<number, number>> {
    return this.#owner.read("reading raw events", async () => {
      const collection = this.#db.collection<RawDocument>("raw_events");
      const out = new Map<number, number>();
      let partition = 0;
      // Two index seeks a partition: its first row (which partition comes next), then its last.
      for (;;) {
        const next = await collection.findOne(
          { topic, partition: { $gte: partition } },
          { sort: { partition: 1, offset: 1 }, projection: { _id: 0, partition: 1 } },
        );
        if (next === null) break;
        const p = next.partition as number;
        const last = await collection.findOne(
          { topic, partition: p },
          { sort: { offset: -1 }, projection: { _id: 0, offset: 1 } },
        );
        if (last !== null) out.set(p, last.offset as number);
        partition = p + 1;
      }
      return out;
    });
  }

  /** Runs a walk (src/lake/scans.ts): one partition at a time, in order, with two index seeks each. */
  async #walk(walk: PartitionWalk): Promise<RawEventRow[]> {
    const collection = this.#db.collection<RawDocument>("raw_events");
    const { topic, limit, times } = walk;
    const out: RawEventRow[] = [];
    let partition = walk.fromPartition;
    while (out.length < limit && partition < walk.toPartition) {
      const next = await collection.findOne(
        { topic, partition: { $gte: partition } },
        { sort: { partition: 1, offset: 1 }, projection: { _id: 0, partition: 1 } },
      );
      if (next === null || (next.partition as number) >= walk.toPartition) break;
      partition = next.partition as number;
      const offset: Document = { $gte: walk.firstOffset(partition) };
      if (Number.isFinite(walk.endOffset)) offset.$lt = walk.endOffset;
      const filter: Document = { topic, partition, offset };
      if (times !== undefined) filter.event_time = { $gte: times.fromMs, $lt: times.toMs };
      const rows = await collection
        .find(filter, {
          sort: { offset: 1 },
          limit: limit - out.length,
          projection: { _id: 0 },
          promoteBuffers: true,
        })
        .toArray();
      for (const row of rows) out.push(rawEventRow(row));
      partition++;
    }
    return out;
  }
}
