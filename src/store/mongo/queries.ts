// The MongoDB live store's reads: live windows merged over partitions in the client (FerretDB's $group cannot), per-partition rows, top pages, alerts, late events, checkpoints.
import type { Binary, Db } from "mongodb";
import type { MongoLakeOwner } from "../../lake/mongo/index.ts";
import type {
  ActivityWindow,
  ActivityWindowRow,
  AlertRow,
  LateEventRow,
  LatestTopPages,
  StoredCheckpoint,
  TopPagesRow,
  WikiWindow,
  WikiWindowRow,
  WindowQuery,
  WindowRange,
  WindowRows,
} from "../index.ts";
import {
  checkDayRange,
  checkFinalStartsQuery,
  checkLimit,
  checkTopPagesQuery,
  checkWindowQuery,
  checkWindowRange,
  mergeTopPages,
  toActivityWindow,
} from "../validate.ts";
import { ACTIVITY_METRICS, type CheckpointDocument, type RowDocument, WIKI_METRICS } from "./schema.ts";

/** How a read reaches the database: the store's open check, and its recovery and error mapping around a read. */
export type MongoReader = Pick<MongoLakeOwner, "requireOpen" | "read">;

/** Each read checks the store is open and its arguments, then runs through the store's reader. */
export class MongoQueries {
  readonly #db: Db;
  readonly #store: MongoReader;

  constructor(db: Db, store: MongoReader) {
    this.#db = db;
    this.#store = store;
  }

  async checkpoints(job: string, topic: string): Promise<StoredCheckpoint[]> {
    return this.#store.read("reading checkpoints", async () => {
      const docs = await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .find({ job, topic }, { projection: { redo: 0 }, sort: { partition: 1 } })
        .toArray();
      return docs.map((doc) => ({
        job: doc.job,
        topic: doc.topic,
        partition: doc.partition,
        nextOffset: doc.next_offset,
        state: bytesOf(doc.state!),
        updatedAt: doc.updated_at,
      }));
    });
  }

  async checkpointOffsets(job: string, topic: string): Promise<Map<number, number>> {
    return this.#store.read("reading checkpoint offsets", async () => {
      const docs = await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .find({ job, topic }, { projection: { _id: 0, partition: 1, next_offset: 1 } })
        .toArray();
      return new Map(docs.map((doc) => [doc.partition, doc.next_offset]));
    });
  }

  async activityWindows(query: WindowQuery): Promise<ActivityWindow[]> {
    this.#store.requireOpen();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#store.read("reading activity windows", async () =>
      (await this.#latestWindows("activity_windows", "event_type", ACTIVITY_METRICS, query)).map(fromMerged),
    );
  }

  async activityDaily(range: { fromMs?: number; toMs?: number }): Promise<ActivityWindow[]> {
    this.#store.requireOpen();
    checkDayRange(range);
    return this.#store.read("reading daily activity", async () => {
      const start: Record<string, number> = {};
      if (range.fromMs !== undefined) start.$gte = range.fromMs;
      if (range.toMs !== undefined) start.$lt = range.toMs;
      const rows = await this.#db
        .collection<RowDocument>("activity_daily")
        .find(Object.keys(start).length > 0 ? { window_start: start } : {}, {
          sort: { window_start: 1, window_ms: 1, event_type: 1, partition: 1 },
        })
        .toArray();
      return mergePartitions(rows, "event_type", ACTIVITY_METRICS).map(fromMerged);
    });
  }

  async wikiWindows(query: WindowQuery): Promise<WikiWindow[]> {
    this.#store.requireOpen();
    checkWindowQuery(query);
    if (query.last === 0) return [];
    return this.#store.read(
      "reading wiki windows",
      async () =>
        (await this.#latestWindows("wiki_windows", "wiki", WIKI_METRICS, query)) as unknown as WikiWindow[],
    );
  }

  async activityWindowRows(range: WindowRange): Promise<ActivityWindowRow[]> {
    return (await this.#windowRows(
      "activity_windows",
      "event_type",
      ACTIVITY_METRICS,
      range,
    )) as ActivityWindowRow[];
  }

  async wikiWindowRows(range: WindowRange): Promise<WikiWindowRow[]> {
    return (await this.#windowRows("wiki_windows", "wiki", WIKI_METRICS, range)) as WikiWindowRow[];
  }

  async finalWindowStarts(rows: WindowRows, windowMs: number, fromMs: number): Promise<Map<number, number>> {
    this.#store.requireOpen();
    checkFinalStartsQuery(rows, windowMs, fromMs);
    const name = rows === "activity" ? "activity_windows" : "wiki_windows";
    return this.#store.read("reading final windows", async () => {
      const starts = new Map<number, number>();
      const found = this.#db
        .collection<RowDocument>(name)
        .find(
          { window_ms: windowMs, window_start: { $gte: fromMs }, final: true },
          { projection: { _id: 0, partition: 1, window_start: 1 } },
        );
      for await (const doc of found) {
        const partition = doc.partition as number;
        const start = doc.window_start as number;
        if (!(start <= (starts.get(partition) ?? Number.NEGATIVE_INFINITY))) starts.set(partition, start);
      }
      return starts;
    });
  }

  async topPages(windowMs: number, limit: number): Promise<LatestTopPages> {
    this.#store.requireOpen();
    checkTopPagesQuery(windowMs, limit);
    return this.#store.read("reading top pages", async () => {
      const collection = this.#db.collection<RowDocument>("top_pages");
      const latest = await collection.findOne(
        { window_ms: windowMs },
        { sort: { window_start: -1 }, projection: { _id: 0, window_start: 1 } },
      );
      if (latest === null) return { window_start: 0, window_end: 0, pages: [] };
      const start = latest.window_start as number;
      const rows = await collection
        .find(
          { window_ms: windowMs, window_start: start },
          { sort: { partition: 1 }, projection: { _id: 0, pages: 1 } },
        )
        .toArray();
      const pages = mergeTopPages(
        rows.map((row) => row.pages as TopPagesRow["pages"]),
        limit,
      );
      return { window_start: start, window_end: start + windowMs, pages };
    });
  }

  async alerts(limit: number): Promise<AlertRow[]> {
    this.#store.requireOpen();
    checkLimit("alerts limit", limit);
    if (limit === 0) return [];
    return this.#store.read("reading alerts", async () => {
      const docs = await this.#db
        .collection<RowDocument>("alerts")
        .find({}, { sort: { window_start: -1, series: 1 }, limit, projection: { _id: 0, v: 0 } })
        .toArray();
      return docs as unknown as AlertRow[];
    });
  }

  async lateEvents(limit: number): Promise<LateEventRow[]> {
    this.#store.requireOpen();
    checkLimit("lateEvents limit", limit);
    if (limit === 0) return [];
    return this.#store.read("reading late events", async () => {
      const docs = await this.#db
        .collection<RowDocument>("late_events")
        .find(
          {},
          {
            sort: { watermark: -1, topic: 1, partition: 1, offset: -1 },
            limit,
            projection: { _id: 0, v: 0 },
          },
        )
        .toArray();
      return docs as unknown as LateEventRow[];
    });
  }

  /** Rows per partition of windows in `range`, as their documents hold them (activityWindowRows, wikiWindowRows). */
  async #windowRows(
    name: string,
    key: string,
    metrics: readonly string[],
    range: WindowRange,
  ): Promise<Array<ActivityWindowRow | WikiWindowRow>> {
    this.#store.requireOpen();
    checkWindowRange(range);
    return this.#store.read(`reading ${name}`, async () => {
      const docs = await this.#db
        .collection<RowDocument>(name)
        .find(
          { window_ms: range.windowMs, window_start: { $gte: range.fromMs, $lt: range.toMs } },
          { sort: { window_start: 1, [key]: 1, partition: 1 } },
        )
        .toArray();
      return docs.map((doc) => {
        const row: Record<string, unknown> = {
          partition: doc.partition,
          window_start: doc.window_start,
          window_end: doc.window_end,
          [key]: doc[key],
        };
        for (const metric of metrics) row[metric] = doc[metric];
        row.final = doc.final === true;
        return row as unknown as ActivityWindowRow | WikiWindowRow;
      });
    });
  }

  /** Merges the rows of the latest `last` window starts of one length over partitions. */
  async #latestWindows(
    name: string,
    key: string,
    metrics: readonly string[],
    query: WindowQuery,
  ): Promise<MergedWindow[]> {
    const collection = this.#db.collection<RowDocument>(name);
    // Newest starts first; a start has at most partitions × keys rows, so the walk stops soon after the N-th.
    const cursor = collection.find(
      { window_ms: query.windowMs },
      { sort: { window_start: -1 }, projection: { _id: 0, window_start: 1 }, batchSize: 1000 },
    );
    let oldest: number | undefined;
    let starts = 0;
    try {
      for await (const doc of cursor) {
        const start = doc.window_start as number;
        if (start === oldest) continue;
        oldest = start;
        if (++starts === query.last) break;
      }
    } finally {
      await cursor.close();
    }
    if (oldest === undefined) return [];
    const rows = await collection
      .find(
        { window_ms: query.windowMs, window_start: { $gte: oldest } },
        { sort: { window_start: 1, [key]: 1, partition: 1 } },
      )
      .toArray();
    return mergePartitions(rows, key, metrics);
  }
}

/** One merged (window, key): the measures summed over partitions, final when every partition's row is. */
type MergedWindow = Record<string, unknown> & { window_start: number; window_end: number; final: boolean };

/** Sums consecutive rows of one (window_start, window_ms, key); rows come sorted, so output keeps their order. */
function mergePartitions(
  rows: readonly RowDocument[],
  key: string,
  metrics: readonly string[],
): MergedWindow[] {
  const merged = new Map<string, MergedWindow>();
  for (const row of rows) {
    const start = row.window_start as number;
    const windowMs = row.window_ms as number;
    const id = JSON.stringify([start, windowMs, row[key]]);
    let out = merged.get(id);
    if (out === undefined) {
      out = { window_start: start, window_end: start + windowMs, [key]: row[key], final: true };
      for (const metric of metrics) out[metric] = 0;
      merged.set(id, out);
    }
    for (const metric of metrics) (out[metric] as number) += row[metric] as number;
    if (row.final !== true) out.final = false;
  }
  return [...merged.values()];
}

function fromMerged(row: MergedWindow): ActivityWindow {
  return toActivityWindow(row as unknown as Omit<ActivityWindowRow, "partition" | "final">, row.final);
}

/** A copy of stored bytes as a plain Uint8Array (the driver hands back a BSON Binary). */
function bytesOf(value: Uint8Array | Binary): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const out = new Uint8Array(value.position);
  out.set(value.buffer.subarray(0, value.position));
  return out;
}
