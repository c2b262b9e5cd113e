// The MongoDB live store's versioned rows: each batch inserts the window and daily rows it changes as new documents, readers keep the newest of each key, and superseded versions are deleted in bulk.
/*
 * Why versions: FerretDB 1.24 finds a document by _id with a scan of its collection (schema.ts), twice per
 * replace, each in a SQLite transaction of its own: rewriting one window row cost about 20 ms beside 2,000
 * windows, most of a drain's time. An insert command writes all its documents in one transaction.
 *
 *   - A window or daily row is written as a version: _id is its key with the batch's sequence number
 *     appended ([window_ms, window_start, key, partition, seq]) and v = seq. Rows written before schema 3
 *     have the key alone as _id; they read as one more version.
 *   - Readers sort a key's versions together, oldest first, and keep the last (newestVersions).
 *   - The writer remembers which version of each key it wrote last (VersionLedger); a later version makes
 *     that one stale. Stale versions are deleted by _id in one command per collection once STALE_FLUSH
 *     are due (which bounds what readers skip), and when the store closes. On FerretDB that command is one
 *     scan of the collection, where a replace was two per row.
 *   - Versions nobody remembers (another writer's, or a crash's between insert and delete) are removed by
 *     sweepVersions: after a recovery re-applied rows, and by retention (at most hourly).
 * The new version is durable before the old one is deleted, so a reader never misses a row.
 */
import type { Db, Document } from "mongodb";
import { isOnlyDuplicateKeys } from "../../lake/mongo/index.ts";
import { SERIES, type Series } from "../series.ts";
import { dailyKind, REDO_COLLECTIONS, type RedoKind, type RowDocument, windowsKind } from "./schema.ts";

/** The row kinds written as versions, with their series (whose key names the version's key field). */
const VERSIONED = new Map<RedoKind, Series>(
  SERIES.flatMap((series) => [
    [windowsKind(series), series],
    [dailyKind(series), series],
  ]),
);

/** Stale versions a writer lets accumulate before it deletes them. */
export const STALE_FLUSH = 500;
/** Rows a writer remembers, over all collections, before it deletes its stale versions and forgets. */
const MAX_REMEMBERED = 200_000;
/** _ids per delete command. */
const DELETE_IDS = 5000;
/** Documents per insert command. */
const INSERT_DOCS = 1000;

export function isVersioned(kind: RedoKind): boolean {
  return VERSIONED.has(kind);
}

/** A version's _id: the row's key (a JSON array) with the batch's sequence number appended. */
export function versionId(key: string, seq: number): string {
  return `${key.slice(0, -1)},${seq}]`;
}

/**
 * The newest version of each key, from documents sorted by their key fields and then by v ascending (so
 * a key's versions are consecutive and its newest is last). Order is kept.
 */
export function newestVersions(docs: readonly RowDocument[], key: string): RowDocument[] {
  const out: RowDocument[] = [];
  let last: RowDocument | undefined;
  for (const doc of docs) {
    if (last !== undefined && sameKey(last, doc, key)) out[out.length - 1] = doc;
    else out.push(doc);
    last = doc;
  }
  return out;
}

function sameKey(a: Document, b: Document, key: string): boolean {
  return (
    a.window_start === b.window_start &&
    a.window_ms === b.window_ms &&
    a[key] === b[key] &&
    a.partition === b.partition
  );
}

/**
 * Inserts the rows as versions of batch `seq`, in bulk. A version already there (a retried commit, a redo
 * record re-applied twice) is the same document: its duplicate key is not an error.
 */
export async function insertVersions(
  db: Db,
  name: string,
  rows: readonly RowDocument[],
  seq: number,
): Promise<void> {
  const collection = db.collection<RowDocument>(name);
  const docs = rows.map((row) => ({ ...row, _id: versionId(row._id, seq), v: seq }));
  for (let i = 0; i < docs.length; i += INSERT_DOCS) {
    try {
      await collection.insertMany(docs.slice(i, i + INSERT_DOCS), { ordered: false });
    } catch (error) {
      if (!isOnlyDuplicateKeys(error)) throw error;
    }
  }
}

/** Deletes documents by _id, DELETE_IDS per command (each is one scan of the collection on FerretDB). */
async function deleteIds(db: Db, name: string, ids: readonly string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < ids.length; i += DELETE_IDS) {
    const result = await db
      .collection<RowDocument>(name)
      .deleteMany({ _id: { $in: ids.slice(i, i + DELETE_IDS) } });
    deleted += result.deletedCount;
  }
  return deleted;
}

/**
 * A writer's memory of the version of each key it wrote last, per collection, and of the versions those
 * replaced. Forgetting is safe: a version it forgets stays until sweepVersions, and readers skip it.
 */
export class VersionLedger {
  readonly #latest = new Map<string, Map<string, string>>();
  readonly #stale = new Map<string, string[]>();
  #remembered = 0;
  #staleCount = 0;

  /** Writes a kind's rows of batch `seq` as versions, then deletes stale versions if enough are due. */
  async write(db: Db, name: string, rows: readonly RowDocument[], seq: number): Promise<void> {
    await insertVersions(db, name, rows, seq);
    let latest = this.#latest.get(name);
    if (latest === undefined) {
      latest = new Map();
      this.#latest.set(name, latest);
    }
    let stale = this.#stale.get(name);
    if (stale === undefined) {
      stale = [];
      this.#stale.set(name, stale);
    }
    for (const row of rows) {
      const id = versionId(row._id, seq);
      const before = latest.get(row._id);
      if (before === undefined) this.#remembered++;
      else if (before !== id) {
        stale.push(before);
        this.#staleCount++;
      }
      latest.set(row._id, id);
    }
    if (this.#staleCount >= STALE_FLUSH) await this.flush(db);
    if (this.#remembered > MAX_REMEMBERED) {
      await this.flush(db);
      this.#latest.clear();
      this.#remembered = 0;
    }
  }

  /**
   * Deletes every stale version this writer knows of. Each list is taken before its delete, so versions
   * that writes running meanwhile make stale wait for the next flush; a failed delete leaves its versions
   * to sweepVersions.
   */
  async flush(db: Db): Promise<void> {
    for (const [name, ids] of [...this.#stale]) {
      if (ids.length === 0) continue;
      this.#stale.set(name, []);
      this.#staleCount -= ids.length;
      await deleteIds(db, name, ids);
    }
  }
}

/**
 * Deletes every version older than its key's newest, in every window and daily collection. Reads each
 * collection's keys and versions once; returns the documents deleted.
 */
export async function sweepVersions(db: Db): Promise<number> {
  let deleted = 0;
  for (const [kind, series] of VERSIONED) {
    const name = REDO_COLLECTIONS[kind]!;
    const newest = new Map<string, { id: string; v: number }>();
    const stale: string[] = [];
    const found = db
      .collection<RowDocument>(name)
      .find(
        {},
        { projection: { _id: 1, window_ms: 1, window_start: 1, [series.key]: 1, partition: 1, v: 1 } },
      );
    for await (const doc of found) {
      const key = JSON.stringify([doc.window_ms, doc.window_start, doc[series.key], doc.partition]);
      const v = typeof doc.v === "number" ? doc.v : 0;
      const kept = newest.get(key);
      if (kept === undefined) newest.set(key, { id: doc._id, v });
      else if (v > kept.v) {
        stale.push(kept.id);
        newest.set(key, { id: doc._id, v });
      } else stale.push(doc._id);
    }
    if (stale.length > 0) deleted += await deleteIds(db, name, stale);
  }
  return deleted;
}
