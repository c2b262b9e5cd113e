// The MongoDB live store's commit protocol: raw rows first, then redo records in per-partition commit points, then the rows; recovery re-applies what a crash left.
/*
 * Commit without multi-document transactions (FerretDB has none); the unit of atomicity is one document.
 *   1. Raw-lake rows are written first (MongoRawLake.write, as raw_batches documents): keyed by offset and
 *      deterministic, writing them early is harmless.
 *   2. Each checkpoint document is the commit point of its (job, topic, partition): the same single-document
 *      write carries a redo record, {batch, seq, rows}, with that partition's window, daily, top-page and
 *      late-event rows of the batch. Rows whose partition has no checkpoint in the batch, and alerts (no
 *      partition), ride with the lowest-partition checkpoint; a batch without checkpoints gets a journal
 *      commit point in `redo`. Commit points are written lowest partition first, in ordered writes, so a
 *      row's carrier is durable no later than its own partition's checkpoint.
 *   3. The rows are written to the query collections (v = seq): window and daily rows as new versions
 *      (versions.ts), the others upserted by _id. Then the redo records are cleared.
 * A crash between 2 and 3 leaves committed redo records: open() re-applies them, and so does the next
 * read or commit after a commit that failed past step 2. A checkpoint is thus never durable without its
 * rows. Unlike the embedded store, a batch is atomic per partition, not as a whole: after a crash in step 2
 * some partitions hold the new checkpoint and the others the old one, which the job replays; rows are
 * absolute values, not increments, so the replay rewrites them to the same values.
 *
 * Bounds: a redo record carries at most INLINE_REDO_BYTES of rows and a checkpoint document stays under
 * 16 MiB (state ≤ MAX_STATE_BYTES); larger row sets go to overflow pages in `redo`, written before the
 * commit point that references them, so they take effect with it. Raw-lake rows never go through redo.
 *
 * Re-applying a redo record inserts its window and daily versions (readers keep the newest, so a record
 * recovered late cannot hide a later batch's rows), then sweeps the versions it left stale. Its other rows
 * are written only where the stored one is older (v < seq) or missing, so a process that recovers a record
 * late (it opened while the writer was between steps 2 and 3) does not overwrite a later batch's rows.
 * That check is a read then a write: FerretDB has no atomic conditional
 * write to do better, and on MongoDB too a writer could slip a newer row in between (a window of one
 * round trip per 16 rows), which would leave the older row until the writer writes that row again.
 */
import { randomUUID } from "node:crypto";
import {
  type AnyBulkWriteOperation,
  BSON,
  type Db,
  type Document,
  type MongoBulkWriteError,
  MongoServerError,
} from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import {
  isOnlyDuplicateKeys,
  MAX_ROW_BYTES,
  type MongoRawLake,
  writeErrorsOf,
} from "../../lake/mongo/index.ts";
import type { Checkpoint } from "../index.ts";
import { checkpointConflict, checkpointWithoutState } from "../validate.ts";
import { addRows, allRows, type BatchPlan, type CommitPoint } from "./plan.ts";
import {
  type CheckpointDocument,
  checkpointId,
  REDO_COLLECTIONS,
  REDO_KINDS,
  type RedoDocument,
  type RedoRecord,
  type RedoRows,
  type RowDocument,
  upsertMeta,
} from "./schema.ts";
import { insertVersions, isVersioned, sweepVersions, VersionLedger } from "./versions.ts";

const MIB = 1024 * 1024;
/** Rows carried inline by one commit point; more go to overflow pages. */
const INLINE_REDO_BYTES = 2 * MIB;
/** Rows per overflow page: one row of the largest size with room to spare, well under 16 MiB. */
const PAGE_BYTES = MAX_ROW_BYTES + 64 * 1024;
/** Room for a checkpoint document's own fields and BSON framing. */
const DOCUMENT_BUDGET_BYTES = 16 * MIB - 64 * 1024;
/** Overflow pages that no commit point references are left-overs of a failed commit after this long. */
const ORPHAN_PAGE_AGE_MS = 3_600_000;
/** Statements per update command on FerretDB, whose SQLite pool has 100 connections per database. */
const FERRETDB_STATEMENTS_PER_WRITE = 16;
const MONGODB_STATEMENTS_PER_WRITE = 1000;
/** Row _ids a store remembers having written, per collection, before it starts over. */
const MAX_WRITTEN_IDS = 200_000;
/** Rows whose versions a recovery reads (in parallel) right before writing them. */
const REAPPLY_ROWS = 16;

export interface MongoCommitOptions {
  /**
   * For crash tests: called once a batch's commit points are durable and before its rows are applied.
   * A throw stops the commit there, as a crash would; reopening the store must recover the batch.
   */
  testHooks?: { afterCommitPoint?: () => void | Promise<void> };
}

/** Where a batch's redo records were written (see #clear). */
interface RedoPlaces {
  inCheckpoints: boolean;
  inRedo: boolean;
}

/** Runs the protocol above for one store, and the recovery of what a crash or failed commit left. */
export class MongoCommit {
  readonly #db: Db;
  readonly #lake: MongoRawLake;
  /** The URL as messages show it. */
  readonly #url: string;
  readonly #hooks: MongoCommitOptions["testHooks"];
  /** Set while a commit may have left committed redo records behind; the next read or commit recovers. */
  #recoveryNeeded = true;
  /**
   * Set when a commit failed after it started writing commit points: some may be durable (the server
   * applied them, then the answer was lost). Its retry then takes a checkpoint equal to its own (same
   * offset, same updated_at) for its own earlier write, not for another member's commit.
   */
  #inDoubt = false;
  /** Row _ids this store has written, by collection: a later batch replaces them (see #upsertRows). */
  readonly #written = new Map<string, Set<string>>();
  /** The window and daily versions this store wrote, and the stale ones it has yet to delete. */
  readonly #versions = new VersionLedger();
  /** Statements per update command: few on FerretDB (see replaceById), the driver's batching elsewhere. */
  #statementsPerWrite = MONGODB_STATEMENTS_PER_WRITE;

  constructor(db: Db, lake: MongoRawLake, url: string, options: MongoCommitOptions) {
    this.#db = db;
    this.#lake = lake;
    this.#url = url;
    this.#hooks = options.testHooks;
  }

  /** The server is FerretDB: update commands of few statements (see replaceById). */
  useFerretDbLimits(): void {
    this.#statementsPerWrite = FERRETDB_STATEMENTS_PER_WRITE;
  }

  /** Applies a planned batch; a failure leaves what the protocol allows, and the next read or commit recovers it. */
  async commit(plan: BatchPlan): Promise<void> {
    let committing = false;
    try {
      await this.recoverIfNeeded();
      await this.#checkFences(
        plan.commitPoints.flatMap((point) => (point.checkpoint ? [point.checkpoint] : [])),
      );
      if (plan.raw.length > 0) await this.#lake.write(plan.raw);
      if (plan.commitPoints.length === 0) return;
      const seq = await this.#nextSeq();
      const batchId = randomUUID();
      const records = await this.#writePages(batchId, seq, plan.commitPoints);
      committing = true;
      const places = await this.#writeCommitPoints(batchId, plan.commitPoints, records);
      await this.#hooks?.afterCommitPoint?.();
      await this.#applyRows(allRows(plan.commitPoints.map((point) => point.rows)), seq);
      await this.#clear(batchId, places);
      this.#inDoubt = false;
    } catch (error) {
      // Some commit points may be durable without their rows applied: the next read or commit finishes them.
      if (committing) {
        this.#recoveryNeeded = true;
        this.#inDoubt = true;
      }
      throw error;
    }
  }

  /** Re-applies every committed redo record (oldest first), then clears it. Idempotent. */
  async recoverIfNeeded(): Promise<void> {
    if (!this.#recoveryNeeded) return;
    const checkpoints = this.#db.collection<CheckpointDocument>("checkpoints");
    const redo = this.#db.collection<RedoDocument>("redo");
    const pending: RedoRecord[] = [];
    for (const doc of await checkpoints
      .find({ redo: { $exists: true } }, { projection: { redo: 1 } })
      .toArray()) {
      if (doc.redo !== undefined) pending.push(doc.redo);
    }
    for (const doc of await redo.find({ kind: "commit" }).toArray()) {
      pending.push({ batch: doc.batch, seq: doc.seq ?? 0, rows: doc.rows, pages: doc.pages ?? [] });
    }
    pending.sort((a, b) => a.seq - b.seq);
    const batches = new Set<string>();
    for (const record of pending) {
      batches.add(record.batch);
      const rows = await this.#withPages(record);
      if (rows !== undefined) await this.#reapplyRows(rows, record.seq);
    }
    if (pending.some((record) => Object.keys(record.rows).some(isVersioned) || record.pages.length > 0)) {
      await sweepVersions(this.#db);
    }
    for (const batch of batches) await this.#clear(batch);
    await redo.deleteMany({
      kind: "page",
      batch: { $nin: [...batches] },
      created_at: { $lt: Date.now() - ORPHAN_PAGE_AGE_MS },
    });
    this.#recoveryNeeded = false;
  }

  /**
   * Upserts documents by _id, #statementsPerWrite per command: FerretDB 1.24 holds a SQLite connection
   * per statement of an update command until the command ends (100 per database), so one command of
   * more than about 100 statements never finishes, and blocks every other user of that database.
   */
  async replaceById(name: string, docs: readonly Document[], ordered: boolean): Promise<void> {
    const collection = this.#db.collection(name);
    for (let i = 0; i < docs.length; i += this.#statementsPerWrite) {
      const writes: AnyBulkWriteOperation[] = docs
        .slice(i, i + this.#statementsPerWrite)
        .map((doc) => ({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } }));
      // Two upserts of one new _id at once (a writer and a reader re-applying its redo record) can both
      // try the insert; MongoDB retries the loser by itself, FerretDB reports E11000. The retry finds the
      // document and replaces it.
      for (let attempt = 0; ; attempt++) {
        try {
          await collection.bulkWrite(writes, { ordered });
          break;
        } catch (error) {
          if (!isOnlyDuplicateKeys(error) || attempt >= 3) throw error;
        }
      }
    }
  }

  /** A redo record's rows with its overflow pages; undefined when another process already finished it. */
  async #withPages(record: RedoRecord): Promise<RedoRows | undefined> {
    if (record.pages.length === 0) return record.rows;
    const pages = await this.#db
      .collection<RedoDocument>("redo")
      .find({ _id: { $in: record.pages } })
      .toArray();
    if (pages.length < record.pages.length) {
      const [checkpoint, journal] = await Promise.all([
        this.#db.collection<CheckpointDocument>("checkpoints").countDocuments({ "redo.batch": record.batch }),
        this.#db.collection<RedoDocument>("redo").countDocuments({ _id: record.batch }),
      ]);
      if (checkpoint === 0 && journal === 0) return undefined;
      throw new StoreError(
        StoreErrorCode.storage,
        `The live store at ${this.#url} lost overflow pages of committed batch ${record.batch}; its rows cannot be re-applied. Replay the stream job from earlier offsets.`,
      );
    }
    return allRows([record.rows, ...pages.map((page) => page.rows)]);
  }

  /** The next batch sequence number: meta.seq only grows, in any number of processes. */
  async #nextSeq(): Promise<number> {
    const doc = await upsertMeta(this.#db, "seq", { $inc: { value: 1 } });
    return doc?.value ?? 1;
  }

  /** Moves the rows of commit points too large to carry inline to pages; returns each point's record. */
  async #writePages(batch: string, seq: number, points: readonly CommitPoint[]): Promise<RedoRecord[]> {
    const records: RedoRecord[] = [];
    const pages: RedoDocument[] = [];
    for (const point of points) {
      const stateBytes = point.checkpoint?.state?.byteLength ?? 0;
      const rowBytes = BSON.calculateObjectSize(point.rows);
      if (rowBytes <= INLINE_REDO_BYTES && stateBytes + rowBytes <= DOCUMENT_BUDGET_BYTES) {
        records.push({ batch, seq, rows: point.rows, pages: [] });
        continue;
      }
      const ids: string[] = [];
      let page: RedoRows = {};
      let pageBytes = 0;
      const flush = () => {
        const _id = `${batch}:${pages.length}`;
        pages.push({ _id, kind: "page", batch, created_at: Date.now(), rows: page });
        ids.push(_id);
        page = {};
        pageBytes = 0;
      };
      for (const kind of REDO_KINDS) {
        for (const doc of point.rows[kind] ?? []) {
          // planBatch bounds every row well under PAGE_BYTES.
          const size = BSON.calculateObjectSize(doc) + 16;
          if (pageBytes + size > PAGE_BYTES) flush();
          addRows(page, kind, [doc]);
          pageBytes += size;
        }
      }
      if (pageBytes > 0) flush();
      records.push({ batch, seq, rows: {}, pages: ids });
    }
    if (pages.length > 0) {
      // One page per insert: each is up to PAGE_BYTES, and they are rare.
      for (const page of pages) await this.#db.collection<RedoDocument>("redo").insertOne(page);
    }
    return records;
  }

  /**
   * The commit points, lowest partition first, in ordered writes: each is one document write.
   * Returns where the batch's redo records are: whether a checkpoint carries one, and whether `redo`
   * holds any of it (a journal commit point or overflow pages).
   */
  async #writeCommitPoints(
    batch: string,
    points: readonly CommitPoint[],
    records: RedoRecord[],
  ): Promise<RedoPlaces> {
    const first = points[0]!;
    const inRedo = first.checkpoint === undefined || records.some((record) => record.pages.length > 0);
    if (first.checkpoint === undefined) {
      const record = records[0]!;
      await this.#db.collection<RedoDocument>("redo").insertOne({
        _id: batch,
        kind: "commit",
        batch,
        seq: record.seq,
        rows: record.rows,
        pages: record.pages,
      });
      return { inCheckpoints: false, inRedo };
    }
    const docs = points.map((point, i) => {
      const checkpoint = point.checkpoint!;
      const record = records[i]!;
      const carries =
        REDO_KINDS.some((kind) => (record.rows[kind]?.length ?? 0) > 0) || record.pages.length > 0;
      const doc: CheckpointDocument = {
        _id: checkpointId(checkpoint),
        job: checkpoint.job,
        topic: checkpoint.topic,
        partition: checkpoint.partition,
        next_offset: checkpoint.nextOffset,
        updated_at: checkpoint.updatedAt,
      };
      if (checkpoint.state !== undefined) doc.state = checkpoint.state;
      if (carries) doc.redo = record;
      return doc;
    });
    const unfenced = points.every(
      (point) => point.checkpoint!.expectedNextOffset === undefined && point.checkpoint!.state !== undefined,
    );
    if (unfenced) await this.replaceById("checkpoints", docs, true);
    else for (const [i, doc] of docs.entries()) await this.#writeFenced(doc, points[i]!.checkpoint!);
    return { inCheckpoints: docs.some((doc) => doc.redo !== undefined), inRedo };
  }

  /** A fenced checkpoint is a compare-and-set write of its document. */
  async #writeFenced(doc: CheckpointDocument, checkpoint: Checkpoint): Promise<void> {
    const checkpoints = this.#db.collection<CheckpointDocument>("checkpoints");
    const expected = checkpoint.expectedNextOffset;
    if (doc.state === undefined) {
      // Keeps the stored state: moves the offset and sets or clears the redo record in one update.
      const { _id, redo, ...fields } = doc;
      const update =
        redo === undefined ? { $set: fields, $unset: { redo: "" as const } } : { $set: { ...fields, redo } };
      if (expected === null) throw checkpointWithoutState(checkpoint);
      const filter = expected === undefined ? { _id } : { _id, next_offset: expected };
      if ((await checkpoints.updateOne(filter, update)).matchedCount === 1) return;
      if (expected === undefined) throw checkpointWithoutState(checkpoint);
      await this.#requireOwn(checkpoint);
      await checkpoints.updateOne({ _id }, update);
      return;
    }
    if (expected === undefined) {
      await checkpoints.replaceOne({ _id: doc._id }, doc, { upsert: true });
    } else if (expected === null) {
      try {
        await checkpoints.insertOne(doc);
      } catch (error) {
        if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
        await this.#requireOwn(checkpoint);
        await checkpoints.replaceOne({ _id: doc._id }, doc);
      }
    } else if (
      (await checkpoints.replaceOne({ _id: doc._id, next_offset: expected }, doc)).matchedCount !== 1
    ) {
      await this.#requireOwn(checkpoint);
      await checkpoints.replaceOne({ _id: doc._id }, doc);
    }
  }

  /**
   * Refuses a batch whose fenced checkpoints (Checkpoint.expectedNextOffset) moved since the writer read
   * them, before anything of it is written. The commit points repeat the check as compare-and-set
   * writes, which MongoDB makes atomic; FerretDB has none, so there it narrows the race to a round trip.
   */
  async #checkFences(checkpoints: readonly Checkpoint[]): Promise<void> {
    const collection = this.#db.collection<CheckpointDocument>("checkpoints");
    const fenced = checkpoints.filter((checkpoint) => checkpoint.expectedNextOffset !== undefined);
    const stored = await Promise.all(
      fenced.map((checkpoint) =>
        collection.findOne(
          { _id: checkpointId(checkpoint) },
          { projection: { next_offset: 1, updated_at: 1 } },
        ),
      ),
    );
    for (const [i, checkpoint] of fenced.entries()) {
      const found = stored[i] ?? null;
      if ((found?.next_offset ?? null) === checkpoint.expectedNextOffset) continue;
      if (!this.#ownEarlierWrite(found, checkpoint)) {
        throw checkpointConflict(checkpoint, found?.next_offset ?? null);
      }
    }
  }

  /** Whether `stored` is this commit's own checkpoint, written by an attempt whose answer was lost. */
  #ownEarlierWrite(
    stored: Pick<CheckpointDocument, "next_offset" | "updated_at"> | null,
    checkpoint: Checkpoint,
  ): boolean {
    return (
      this.#inDoubt &&
      stored !== null &&
      stored.next_offset === checkpoint.nextOffset &&
      stored.updated_at === checkpoint.updatedAt
    );
  }

  /**
   * After a compare-and-set matched nothing: returns when the stored checkpoint is this commit's own (an
   * earlier attempt's, whose answer was lost), else throws the conflict. One read serves both.
   */
  async #requireOwn(checkpoint: Checkpoint): Promise<void> {
    const stored = await this.#db
      .collection<CheckpointDocument>("checkpoints")
      .findOne({ _id: checkpointId(checkpoint) }, { projection: { next_offset: 1, updated_at: 1 } });
    if (!this.#ownEarlierWrite(stored, checkpoint)) {
      throw checkpointConflict(checkpoint, stored?.next_offset ?? null);
    }
  }

  /** Deletes the stale window and daily versions this store knows of (when it closes). */
  async flushVersions(): Promise<void> {
    await this.#versions.flush(this.#db);
  }

  /** Writes a batch's own rows: nothing newer can exist, since one writer commits a job's batches in order. */
  async #applyRows(rows: RedoRows, seq: number): Promise<void> {
    for (const kind of REDO_KINDS) {
      const docs = rows[kind];
      if (docs === undefined || docs.length === 0) continue;
      if (isVersioned(kind)) {
        await this.#versions.write(this.#db, REDO_COLLECTIONS[kind], docs, seq);
        continue;
      }
      await this.#upsertRows(
        REDO_COLLECTIONS[kind],
        docs.map((doc) => ({ ...doc, v: seq })),
      );
    }
  }

  /**
   * Upserts rows by _id. A replace by _id scans the collection on FerretDB (twice: its lookup, then its
   * update), and each runs in a SQLite transaction of its own, while an insert command writes all its
   * rows in one. So rows this store has not written yet (a new window, most rows of a batch) are inserted
   * first; those stored already (by an earlier process or another writer) fail with a duplicate key and
   * are replaced with the rows this store wrote before. Either write is atomic per row: a reader never
   * misses a row that was there.
   */
  async #upsertRows(name: string, docs: readonly RowDocument[]): Promise<void> {
    let written = this.#written.get(name);
    if (written === undefined) {
      written = new Set();
      this.#written.set(name, written);
    }
    const known = written;
    const fresh = docs.filter((doc) => !known.has(doc._id));
    let replace = docs.filter((doc) => known.has(doc._id));
    if (fresh.length > 0) {
      try {
        await this.#db.collection<RowDocument>(name).insertMany(fresh, { ordered: false });
      } catch (error) {
        if (!isOnlyDuplicateKeys(error)) throw error;
        const stored = new Set(writeErrorsOf(error as MongoBulkWriteError).map((e) => e.index));
        replace = replace.concat(fresh.filter((_, i) => stored.has(i)));
      }
    }
    await this.replaceById(name, replace, false);
    if (known.size > MAX_WRITTEN_IDS) known.clear();
    for (const doc of docs) known.add(doc._id);
  }

  /**
   * Re-applies a recovered redo record: each row only where the stored row is older (v < seq) or
   * missing, so a record re-applied late never overwrites rows of a later batch. The versions are read
   * right before each chunk is written, by _id.
   */
  async #reapplyRows(rows: RedoRows, seq: number): Promise<void> {
    for (const kind of REDO_KINDS) {
      const docs = rows[kind];
      if (docs === undefined || docs.length === 0) continue;
      if (isVersioned(kind)) {
        await insertVersions(this.#db, REDO_COLLECTIONS[kind], docs, seq);
        continue;
      }
      const collection = this.#db.collection<RowDocument>(REDO_COLLECTIONS[kind]);
      for (let i = 0; i < docs.length; i += REAPPLY_ROWS) {
        const chunk = docs.slice(i, i + REAPPLY_ROWS);
        const stored = await Promise.all(
          chunk.map((doc) => collection.findOne({ _id: doc._id }, { projection: { v: 1 } })),
        );
        const older = chunk.filter((_, j) => {
          const v = stored[j]?.v;
          return typeof v !== "number" || v < seq;
        });
        await this.replaceById(
          REDO_COLLECTIONS[kind],
          older.map((doc) => ({ ...doc, v: seq })),
          false,
        );
      }
    }
  }

  /**
   * Removes a batch's redo records from the checkpoints, and from `redo` unless `places` says it holds
   * none. One command for the checkpoints: FerretDB runs concurrent updates one after the other anyway.
   */
  async #clear(batch: string, places?: RedoPlaces): Promise<void> {
    if (places === undefined || places.inCheckpoints) {
      await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .updateMany({ "redo.batch": batch }, { $unset: { redo: "" } });
    }
    if (places === undefined || places.inRedo) {
      await this.#db.collection<RedoDocument>("redo").deleteMany({ batch });
    }
  }
}
