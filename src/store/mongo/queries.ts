// The MongoDB live store's reads: each series' windows merged over partitions in the client (FerretDB's $group cannot), per-partition rows, top pages, alerts, late events, checkpoints.
import type { Binary, Db } from "mongodb";
import type * as Live from "../index.ts";
import { LiveStoreReads } from "../reads.ts";
import type { MergedRow, MetricMerge, Series } from "../series.ts";
import { mergeTopPages } from "../top-pages.ts";
import type { CheckpointDocument, RowDocument } from "./schema.ts";
import { newestVersions } from "./versions.ts";

/**
 * The read half of the MongoDB LiveStore, which MongoLiveStore extends with its commit, connection and
 * recovery: queries run through the store's `read`, which finishes a recovery first and turns failures
 * into StoreErrors.
 */
export abstract class MongoQueries extends LiveStoreReads {
  readonly #db: Db;

  constructor(db: Db) {
    super();
    this.#db = db;
  }

  async checkpoints(job: string, topic: string): Promise<Live.StoredCheckpoint[]> {
    return this.read("reading checkpoints", async () => {
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
    return this.read("reading checkpoint offsets", async () => {
      const docs = await this.#db
        .collection<CheckpointDocument>("checkpoints")
        .find({ job, topic }, { projection: { _id: 0, partition: 1, next_offset: 1 } })
        .toArray();
      return new Map(docs.map((doc) => [doc.partition, doc.next_offset]));
    });
  }

  /** Runs a read once any committed redo records are re-applied; its failures as StoreErrors. */
  protected abstract read<T>(during: string, read: () => Promise<T>): Promise<T>;

  protected async latestWindows(series: Series, query: Live.WindowQuery): Promise<unknown[]> {
    return this.read(`reading ${series.label} windows`, async () =>
      mergePartitions(await this.#latestWindows(series, query), series),
    );
  }

  protected async mergedDaily(series: Series, range: Live.DayRange): Promise<unknown[]> {
    return this.read(`reading daily ${series.label}`, async () => {
      const start: Record<string, number> = {};
      if (range.fromMs !== undefined) start.$gte = range.fromMs;
      if (range.toMs !== undefined) start.$lt = range.toMs;
      const rows = await this.#db
        .collection<RowDocument>(series.dailyTable)
        .find(Object.keys(start).length > 0 ? { window_start: start } : {}, {
          sort: { window_start: 1, window_ms: 1, [series.key]: 1, partition: 1, v: 1 },
        })
        .toArray();
      return mergePartitions(newestVersions(rows, series.key), series);
    });
  }

  /** Rows per partition of windows in `range`, as their newest versions hold them. */
  protected async partitionRows(series: Series, range: Live.WindowRange): Promise<Live.WindowRowKey[]> {
    const { key, metricColumns } = series;
    return this.read(`reading ${series.label} window rows`, async () => {
      const docs = await this.#db
        .collection<RowDocument>(series.windowTable)
        .find(
          { window_ms: range.windowMs, window_start: { $gte: range.fromMs, $lt: range.toMs } },
          { sort: { window_start: 1, [key]: 1, partition: 1, v: 1 } },
        )
        .toArray();
      return newestVersions(docs, key).map((doc) => {
        const row: Record<string, unknown> = {
          partition: doc.partition,
          window_start: doc.window_start,
          window_end: doc.window_end,
          [key]: doc[key],
        };
        for (const metric of metricColumns) row[metric] = doc[metric];
        row.final = doc.final === true;
        return row as unknown as Live.WindowRowKey;
      });
    });
  }

  protected async finalStarts(
    series: Series,
    windowMs: number,
    fromMs: number,
  ): Promise<Map<number, number>> {
    return this.read("reading final windows", async () => {
      const starts = new Map<number, number>();
      const found = this.#db
        .collection<RowDocument>(series.windowTable)
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

  protected async latestTopPages(windowMs: number, limit: number): Promise<Live.LatestTopPages> {
    return this.read("reading top pages", async () => {
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
        rows.map((row) => row.pages as Live.TopPagesRow["pages"]),
        limit,
      );
      return { window_start: start, window_end: start + windowMs, pages };
    });
  }

  protected async newestAlerts(limit: number): Promise<Live.AlertRow[]> {
    return this.read("reading alerts", () =>
      this.#newest<Live.AlertRow>("alerts", { window_start: -1, series: 1 }, limit),
    );
  }

  protected async newestLateEvents(limit: number): Promise<Live.LateEventRow[]> {
    return this.read("reading late events", () =>
      this.#newest<Live.LateEventRow>(
        "late_events",
        { watermark: -1, topic: 1, partition: 1, offset: -1 },
        limit,
      ),
    );
  }

  protected async lateEventsIn(topic: string, fromMs: number, toMs: number): Promise<Live.LateEventRow[]> {
    return this.read("reading late events", async () => {
      const docs = await this.#db
        .collection<RowDocument>("late_events")
        .find(
          { topic, event_time: { $gte: fromMs, $lt: toMs } },
          { sort: { partition: 1, offset: 1 }, projection: { _id: 0, v: 0 } },
        )
        .toArray();
      return docs as unknown as Live.LateEventRow[];
    });
  }

  /** The first `limit` rows of a collection in `sort` order, without their _id and version. */
  async #newest<R>(name: string, sort: Record<string, 1 | -1>, limit: number): Promise<R[]> {
    const docs = await this.#db
      .collection<RowDocument>(name)
      .find({}, { sort, limit, projection: { _id: 0, v: 0 } })
      .toArray();
    return docs as unknown as R[];
  }

  /** The rows, per partition, of the latest `last` window starts of one length, in key order. */
  async #latestWindows(series: Series, query: Live.WindowQuery): Promise<RowDocument[]> {
    const collection = this.#db.collection<RowDocument>(series.windowTable);
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
    const docs = await collection
      .find(
        { window_ms: query.windowMs, window_start: { $gte: oldest } },
        { sort: { window_start: 1, [series.key]: 1, partition: 1, v: 1 } },
      )
      .toArray();
    return newestVersions(docs, series.key);
  }
}

/** Each way a metric merges over partitions: the merged value so far and a partition's. */
const MERGE: Record<MetricMerge, (merged: number, value: number) => number> = { sum: (a, b) => a + b };

/**
 * Merges consecutive rows of one (window_start, window_ms, key) as the series says (rows come sorted,
 * so the output keeps their order), final when every partition's row is, and presents each.
 */
function mergePartitions(rows: readonly RowDocument[], series: Series): unknown[] {
  const { key, metricColumns, metrics } = series;
  const merged = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    const start = row.window_start as number;
    const windowMs = row.window_ms as number;
    const id = JSON.stringify([start, windowMs, row[key]]);
    let out = merged.get(id);
    if (out === undefined) {
      out = { window_start: start, window_end: start + windowMs, [key]: row[key] };
      for (const metric of metricColumns) out[metric] = row[metric];
      out.final = row.final === true;
      merged.set(id, out);
      continue;
    }
    for (const metric of metricColumns) {
      out[metric] = MERGE[metrics[metric]!](out[metric] as number, row[metric] as number);
    }
    if (row.final !== true) out.final = false;
  }
  return [...merged.values()].map((row) => series.present(row as unknown as MergedRow));
}

/** A copy of stored bytes as a plain Uint8Array (the driver hands back a BSON Binary). */
function bytesOf(value: Uint8Array | Binary): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  const out = new Uint8Array(value.position);
  out.set(value.buffer.subarray(0, value.position));
  return out;
}
