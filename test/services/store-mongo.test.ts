// MongoLiveStore against a real FerretDB (scripts/services/ferretdb.sh): the LiveStore contract, crash recovery, indexes, connection errors.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Document, MongoClient } from "mongodb";
import { describe, expect, it, onTestFinished } from "vitest";
import { openStore } from "../../src/app/backends.ts";
import { loadConfig } from "../../src/config/index.ts";
import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import {
  ACTIVITY_SERIES,
  type ActivityWindowRow,
  type LiveStore,
  type StoreBatch,
  WIKIMEDIA_SERIES,
} from "../../src/store/index.ts";
import { MongoLiveStore, type MongoLiveStoreOptions } from "../../src/store/mongo/index.ts";
import { STALE_FLUSH } from "../../src/store/mongo/versions.ts";
import { runLiveStoreContract } from "../conformance/live-store.ts";
import { activity } from "../conformance/live-store-rows.ts";
import { useFerretDb } from "./services.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 28);
const QUERY_COLLECTIONS = [
  "activity_windows",
  "activity_daily",
  "wiki_windows",
  "wiki_daily",
  "top_pages",
  "alerts",
  "late_events",
];

const ferret = useFerretDb();
const SERVER = ferret.server;

function uniqueDatabase(): string {
  return `pulse_test_${randomBytes(6).toString("hex")}`;
}

/** A store on a fresh database, closed and dropped when the test ends. */
async function openFresh(
  options: Omit<MongoLiveStoreOptions, "url"> = {},
): Promise<{ store: MongoLiveStore; url: string; db: ReturnType<MongoClient["db"]> }> {
  const name = uniqueDatabase();
  const url = `${SERVER}/${name}`;
  const store = await MongoLiveStore.open({ url, ...options });
  onTestFinished(async () => {
    await store.close();
    await ferret.admin.db(name).dropDatabase();
  });
  return { store, url, db: ferret.admin.db(name) };
}

/** A fresh database whose meta gives schema `version`, without a store on it; dropped when the test ends. */
async function databaseOfSchema(
  version: number,
): Promise<{ name: string; db: ReturnType<MongoClient["db"]> }> {
  const name = uniqueDatabase();
  const db = ferret.admin.db(name);
  onTestFinished(async () => {
    await db.dropDatabase();
  });
  await db.collection<{ _id: string; version: number }>("meta").insertOne({ _id: "schema", version });
  return { name, db };
}

/** Opens another store on the same database, closed when the test ends. */
async function reopen(
  url: string,
  options: Omit<MongoLiveStoreOptions, "url"> = {},
): Promise<MongoLiveStore> {
  const store = await MongoLiveStore.open({ url, ...options });
  onTestFinished(() => store.close());
  return store;
}

runLiveStoreContract("mongodb (FerretDB)", async () => {
  const name = uniqueDatabase();
  const store = await MongoLiveStore.open({ url: `${SERVER}/${name}` });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await ferret.admin.db(name).dropDatabase();
    },
  };
});

describe("MongoLiveStore", () => {
  const crash = {
    afterCommitPoint: () => {
      throw new Error("simulated crash after the commit point");
    },
  };

  it("re-applies a batch whose commit points were written before a crash, exactly as a clean commit", async () => {
    const { store: crashing, url, db } = await openFresh({ testHooks: crash });
    const batch = crashBatch();
    await expect(crashing.commit(batch)).rejects.toBeInstanceOf(StoreError);
    await crashing.close();

    // The crash left durable commit points and raw rows, and no query rows.
    for (const name of QUERY_COLLECTIONS) expect(await db.collection(name).countDocuments()).toBe(0);
    // The raw rows of partitions 0 and 1: a raw_batches document each.
    expect(await db.collection("raw_batches").countDocuments()).toBe(2);
    const carriers = await db
      .collection("checkpoints")
      .find({ redo: { $exists: true } }, { projection: { partition: 1 } })
      .toArray();
    // Partition 0 carries its rows, the alert and partition 5's row (no checkpoint of its own); 1 carries its rows.
    expect(carriers.map((c) => c.partition).sort()).toEqual([0, 1]);

    const recovered = await reopen(url);
    const expected = await embeddedResult(batch);
    expect(await readEverything(recovered)).toEqual(expected);
    expect(await recovered.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).toMatchObject([
      { window_start: T0, event_type: "CLICK", event_count: 12, unique_users: 7, final: false },
      { window_start: T0, event_type: "VIEW", event_count: 4 },
    ]);
    // The redo records are gone, and committing the batch again changes nothing.
    expect(await db.collection("checkpoints").countDocuments({ redo: { $exists: true } })).toBe(0);
    expect(await db.collection("redo").countDocuments()).toBe(0);
    await recovered.commit(batch);
    expect(await readEverything(recovered)).toEqual(expected);
  });

  it("re-applies a crashed batch too large to carry inline, from its overflow pages", async () => {
    const { store: crashing, url, db } = await openFresh({ testHooks: crash });
    // 48 late events of 100 KB: about 4.8 MB of rows for partition 0, more than a redo record carries inline.
    const payload = "x".repeat(100_000);
    const batch: StoreBatch = {
      lateEvents: Array.from({ length: 48 }, (_, i) => ({
        topic: "user-activity",
        partition: 0,
        offset: i,
        event_time: T0 - MINUTE,
        watermark: T0 + i,
        payload: `${i}:${payload}`,
      })),
      windows: { activity: [activityRow({ partition: 0, event_count: 3 })] },
      checkpoints: [checkpoint(0, 48)],
    };
    await expect(crashing.commit(batch)).rejects.toBeInstanceOf(StoreError);
    await crashing.close();
    expect(await db.collection("redo").countDocuments({ kind: "page" })).toBeGreaterThanOrEqual(1);
    expect(await db.collection("late_events").countDocuments()).toBe(0);

    const recovered = await reopen(url);
    const late = await recovered.lateEvents(100);
    expect(late).toHaveLength(48);
    expect(late.map((e) => e.offset)).toEqual(Array.from({ length: 48 }, (_, i) => 47 - i));
    expect(late.every((e) => e.payload === `${e.offset}:${payload}`)).toBe(true);
    expect(await recovered.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
      { event_count: 3 },
    ]);
    expect(await recovered.checkpoints("job-a", "user-activity")).toMatchObject([
      { partition: 0, nextOffset: 48 },
    ]);
    expect(await db.collection("redo").countDocuments()).toBe(0);
  });

  it("never lets a stale redo record overwrite rows of a later batch", async () => {
    const { store: crashing, url, db } = await openFresh({ testHooks: crash });
    await expect(
      crashing.commit({
        windows: { activity: [activityRow({ partition: 0, event_count: 1, final: false })] },
        alerts: [alertRow(1)],
        checkpoints: [checkpoint(0, 1)],
      }),
    ).rejects.toBeInstanceOf(StoreError);
    await crashing.close();
    const stale = await db.collection("checkpoints").findOne({ redo: { $exists: true } });
    expect(stale?.redo).toBeDefined();

    // A writer recovers the first batch and commits a later one over the same keys.
    const writer = await reopen(url);
    await writer.commit({
      windows: { activity: [activityRow({ partition: 0, event_count: 9, final: true })] },
      alerts: [alertRow(9)],
      checkpoints: [checkpoint(0, 9)],
    });
    // A slow process now re-applies the first batch's record (as a reader that read it before the
    // writer cleared it would): put it back as a journal commit point and open a store over it.
    await db
      .collection<Document & { _id: string }>("redo")
      .insertOne({ _id: stale!.redo.batch, kind: "commit", ...stale!.redo });
    const reader = await reopen(url);
    expect(await reader.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1 })).toMatchObject([
      { event_count: 9, final: true },
    ]);
    expect((await reader.alerts(5)).map((a) => a.observed)).toEqual([9]);
    expect(await reader.checkpoints("job-a", "user-activity")).toMatchObject([{ nextOffset: 9 }]);
    expect(await db.collection("redo").countDocuments()).toBe(0);
    // The recovery swept the version it re-applied, older than the later batch's.
    expect(await db.collection("activity_windows").countDocuments()).toBe(1);
  });

  it("updates hundreds of existing rows in one batch (FerretDB deadlocked on update commands of >100 statements)", async () => {
    const { store } = await openFresh();
    const rows = (eventCount: number) =>
      Array.from({ length: 300 }, (_, i) =>
        activityRow({
          partition: i % 3,
          window_start: T0 + Math.floor(i / 3) * MINUTE,
          event_count: eventCount,
        }),
      );
    const checkpoints = [0, 1, 2].map((p) => checkpoint(p, 1));
    await store.commit({ windows: { activity: rows(1) }, checkpoints });
    await store.commit({ windows: { activity: rows(2) }, checkpoints });
    const windows = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 1000 });
    expect(windows).toHaveLength(100);
    expect(windows.every((w) => w.event_count === 6)).toBe(true);
  });

  it("rejects a row too large for a document before writing anything of its batch", async () => {
    const { store, db } = await openFresh();
    const batch: StoreBatch = {
      rawEvents: [
        {
          topic: "user-activity",
          partition: 0,
          offset: 0,
          event_time: T0,
          ingested_at: T0,
          value: Buffer.from("{}"),
        },
      ],
      lateEvents: [
        {
          topic: "user-activity",
          partition: 0,
          offset: 1,
          event_time: T0,
          watermark: T0,
          payload: "x".repeat(9 * 1024 * 1024),
        },
      ],
      checkpoints: [checkpoint(0, 2)],
    };
    await expect(store.commit(batch)).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
    expect(await db.collection("raw_batches").countDocuments()).toBe(0);
    expect(await store.checkpoints("job-a", "user-activity")).toEqual([]);
  });

  it("refuses a batch whose fenced checkpoint moved, with PULSE_STORE_CONFLICT, writing none of it", async () => {
    const { store } = await openFresh();
    await store.commit({ checkpoints: [checkpoint(0, 5)] });
    await store.commit({ checkpoints: [{ ...checkpoint(0, 7), expectedNextOffset: 5 }] });
    for (const expectedNextOffset of [5, null]) {
      await expect(
        store.commit({
          windows: { activity: [activityRow({ event_count: 99 })] },
          rawEvents: [
            {
              topic: "user-activity",
              partition: 0,
              offset: 9,
              event_time: T0,
              ingested_at: T0,
              value: Buffer.from("{}"),
            },
          ],
          checkpoints: [{ ...checkpoint(0, 10), expectedNextOffset }],
        }),
      ).rejects.toMatchObject({ code: StoreErrorCode.conflict, details: { current: 7 } });
    }
    expect(await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).toEqual([]);
    expect(await store.lake.scanAfter("user-activity", new Map(), 5)).toEqual([]);
    // A partition never committed is fenced with null.
    await store.commit({ checkpoints: [{ ...checkpoint(1, 3), expectedNextOffset: null }] });
    expect(
      (await store.checkpoints("job-a", "user-activity")).map((c) => [c.partition, c.nextOffset]),
    ).toEqual([
      [0, 7],
      [1, 3],
    ]);
  });

  it("opens a database of schema 1 (a raw_events document per raw row) as schema 3, its rows readable", async () => {
    const { name, db } = await databaseOfSchema(1);
    const row = {
      topic: "user-activity",
      partition: 0,
      offset: 0,
      event_time: T0,
      ingested_at: T0 + 5,
      value: Buffer.from('{"n":0}'),
    };
    await db
      .collection<{ _id: string }>("raw_events")
      .insertOne({ _id: JSON.stringify([row.topic, row.partition, row.offset]), ...row });
    const store = await reopen(`${SERVER}/${name}`);
    expect(await db.collection("meta").findOne({ _id: "schema" as never })).toMatchObject({ version: 3 });
    expect(await store.lake.scanAfter("user-activity", new Map(), 10)).toEqual([row]);
  });

  it("deletes stale versions while it runs, once STALE_FLUSH of them are due", async () => {
    const { store, db } = await openFresh();
    const half = STALE_FLUSH / 2;
    const rows = (eventCount: number) =>
      Array.from({ length: half }, (_, i) =>
        activityRow({ window_start: T0 + i * MINUTE, event_count: eventCount }),
      );
    await store.commit({ windows: { activity: rows(1) }, checkpoints: [checkpoint(0, 1)] });
    await store.commit({ windows: { activity: rows(2) }, checkpoints: [checkpoint(0, 2)] });
    expect(await db.collection("activity_windows").countDocuments()).toBe(2 * half);
    await store.commit({ windows: { activity: rows(3) }, checkpoints: [checkpoint(0, 3)] });
    expect(await db.collection("activity_windows").countDocuments()).toBe(half);
    const windows = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: STALE_FLUSH });
    expect(windows.map((w) => w.event_count)).toEqual(Array(half).fill(3));
  });

  it("reads schema 2's window rows (one document a key) as versions, which later batches supersede", async () => {
    const { name, db } = await databaseOfSchema(2);
    const old = (start: number, eventCount: number) => ({
      _id: JSON.stringify([MINUTE, start, "CLICK", 0]),
      window_ms: MINUTE,
      window_start: start,
      window_end: start + MINUTE,
      event_type: "CLICK",
      partition: 0,
      event_count: eventCount,
      unique_users: 1,
      sessions: 1,
      revenue_cents: 0,
      final: true,
      v: 1,
    });
    await db.collection<{ _id: string }>("activity_windows").insertMany([old(T0, 4), old(T0 + MINUTE, 5)]);
    await db.collection<{ _id: string; value: number }>("meta").insertOne({ _id: "seq", value: 1 });
    const store = await reopen(`${SERVER}/${name}`);
    const counts = async () =>
      (await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).map((w) => w.event_count);
    expect(await counts()).toEqual([4, 5]);
    await store.commit({
      windows: { activity: [activityRow({ window_start: T0 + MINUTE, event_count: 7 })] },
      checkpoints: [checkpoint(0, 1)],
    });
    expect(await counts()).toEqual([4, 7]);
    // The old document is a version no writer remembers: retention's sweep removes it.
    expect(await db.collection("activity_windows").countDocuments()).toBe(3);
    await store.enforceRetention({ beforeMs: 0 });
    expect(await db.collection("activity_windows").countDocuments()).toBe(2);
    expect(await counts()).toEqual([4, 7]);
  });

  // FerretDB finds a document by _id with a scan of its collection, twice per replace: a changed window
  // or daily row is inserted as a new version instead, and the versions it supersedes deleted in bulk.
  it("writes changed window and daily rows as new versions, reads the newest, deletes the stale on close", async () => {
    const { store, url, db } = await openFresh();
    const rows = (eventCount: number) =>
      [0, 1, 2].map((i) => activityRow({ window_start: T0 + i * MINUTE, event_count: eventCount }));
    const daily = (eventCount: number) => [
      activityRow({ window_start: T0, window_end: T0 + DAY, event_count: eventCount }),
    ];
    for (const n of [1, 2, 3]) {
      await store.commit({
        windows: { activity: rows(n) },
        daily: { activity: daily(n) },
        checkpoints: [checkpoint(0, n)],
      });
    }
    // Three versions of each row until the writer deletes the stale ones.
    expect(await db.collection("activity_windows").countDocuments()).toBe(9);
    expect(await db.collection("activity_daily").countDocuments()).toBe(3);
    const reader = await reopen(url);
    expect(
      (await reader.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).map((w) => w.event_count),
    ).toEqual([3, 3, 3]);
    expect((await reader.daily(ACTIVITY_SERIES, {})).map((d) => d.event_count)).toEqual([3]);
    expect(
      (await reader.windowRows(ACTIVITY_SERIES, { windowMs: MINUTE, fromMs: T0, toMs: T0 + DAY })).map(
        (w) => w.event_count,
      ),
    ).toEqual([3, 3, 3]);
    await store.close();
    expect(await db.collection("activity_windows").countDocuments()).toBe(3);
    expect(await db.collection("activity_daily").countDocuments()).toBe(1);
    expect(
      (await reader.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 5 })).map((w) => w.event_count),
    ).toEqual([3, 3, 3]);
  });

  // Each batch's rows are new versions; those another process stored are older, so each row reads as
  // the last batch wrote it.
  it("writes rows stored by another process, and new ones, as the last batch has them", async () => {
    const { store, url } = await openFresh();
    const minute = (i: number) => T0 + i * MINUTE;
    await store.commit({
      windows: { activity: [0, 1, 2].map((i) => activityRow({ window_start: minute(i), event_count: 1 })) },
      checkpoints: [checkpoint(0, 1)],
    });
    const other = await reopen(url);
    await other.commit({
      windows: {
        activity: [1, 2, 3, 4].map((i) => activityRow({ window_start: minute(i), event_count: 10 + i })),
      },
      checkpoints: [checkpoint(0, 2)],
    });
    await other.commit({
      windows: { activity: [4, 5].map((i) => activityRow({ window_start: minute(i), event_count: 20 + i })) },
      checkpoints: [checkpoint(0, 3)],
    });
    const counts = (await other.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 10 })).map((row) => [
      row.window_start,
      row.event_count,
    ]);
    expect(counts.sort((a, b) => a[0]! - b[0]!)).toEqual([
      [minute(0), 1],
      [minute(1), 11],
      [minute(2), 12],
      [minute(3), 13],
      [minute(4), 24],
      [minute(5), 25],
    ]);
  });

  it("creates the indexes of the live queries on open, and opening again keeps them", async () => {
    const { url, db } = await openFresh();
    await (await reopen(url)).close();
    const indexes: Record<string, Array<[string, Document]>> = {};
    for (const name of [...QUERY_COLLECTIONS, "raw_batches", "raw_events", "checkpoints", "redo"]) {
      indexes[name] = (await db.collection(name).listIndexes().toArray()).map((i) => [i.name, i.key]);
    }
    expect(indexes).toEqual({
      activity_windows: [
        ["_id_", { _id: 1 }],
        ["by_length_start_type", { window_ms: 1, window_start: 1, event_type: 1 }],
      ],
      activity_daily: [
        ["_id_", { _id: 1 }],
        ["by_day_length_type", { window_start: 1, window_ms: 1, event_type: 1 }],
      ],
      wiki_windows: [
        ["_id_", { _id: 1 }],
        ["by_length_start_wiki", { window_ms: 1, window_start: 1, wiki: 1 }],
      ],
      wiki_daily: [
        ["_id_", { _id: 1 }],
        ["by_day_length_wiki", { window_start: 1, window_ms: 1, wiki: 1 }],
      ],
      top_pages: [
        ["_id_", { _id: 1 }],
        ["by_length_start_partition", { window_ms: 1, window_start: 1, partition: 1 }],
      ],
      alerts: [
        ["_id_", { _id: 1 }],
        ["newest", { window_start: -1, series: 1 }],
      ],
      late_events: [
        ["_id_", { _id: 1 }],
        ["newest", { watermark: -1, topic: 1, partition: 1, offset: -1 }],
      ],
      raw_batches: [
        ["_id_", { _id: 1 }],
        ["by_first_offset", { topic: 1, partition: 1, first_offset: 1 }],
        ["by_last_offset", { topic: 1, partition: 1, last_offset: 1 }],
      ],
      raw_events: [
        ["_id_", { _id: 1 }],
        ["by_position", { topic: 1, partition: 1, offset: 1 }],
      ],
      checkpoints: [
        ["_id_", { _id: 1 }],
        ["by_job_topic_partition", { job: 1, topic: 1, partition: 1 }],
      ],
      redo: [
        ["_id_", { _id: 1 }],
        ["by_batch", { batch: 1 }],
      ],
    });
  });

  it("fails fast with a retriable PULSE_STORE_UNAVAILABLE naming the URL without its password", async () => {
    const startedMs = Date.now();
    const error = await MongoLiveStore.open({
      url: "mongodb://pulse:s3cret-pw@127.0.0.1:1/pulse_x?authSource=admin",
      serverSelectionTimeoutMs: 1_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - startedMs).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: StoreErrorCode.unavailable, retriable: true });
    const message = (error as StoreError).message;
    expect(message).toContain("mongodb://pulse:***@127.0.0.1:1/pulse_x");
    expect(message).not.toContain("s3cret");
  });

  it("rejects a malformed URL or database name with PULSE_STORE_BAD_ARGUMENT, without the password", async () => {
    for (const url of [
      "mongodb://pulse:s3cret-pw@127.0.0.1:99999/pulse_x",
      "mongodb://pulse:s3cret-pw@127.0.0.1:27017/bad.name",
      "postgres://pulse:s3cret-pw@127.0.0.1:5432/pulse",
    ]) {
      const error = await MongoLiveStore.open({ url, serverSelectionTimeoutMs: 1_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(StoreError);
      expect(error, url).toMatchObject({ code: StoreErrorCode.badArgument });
      expect((error as StoreError).message, url).toContain("pulse:***@127.0.0.1:");
      expect((error as StoreError).message, url).not.toContain("s3cret");
    }
  });

  it("rejects use after close with PULSE_STORE_CLOSED", async () => {
    const { store } = await openFresh();
    await store.close();
    await expect(store.alerts(1)).rejects.toMatchObject({ code: StoreErrorCode.closed });
    await expect(store.commit({ checkpoints: [] })).rejects.toMatchObject({ code: StoreErrorCode.closed });
    await store.close();
  });

  it("is what openStore returns for a mongodb:// store URL", async () => {
    const name = uniqueDatabase();
    const dir = mkdtempSync(join(tmpdir(), "pulse-config-"));
    onTestFinished(async () => {
      rmSync(dir, { recursive: true, force: true });
      await ferret.admin.db(name).dropDatabase();
    });
    const store = await openStore(loadConfig({ env: { PULSE_STORE: `${SERVER}/${name}` }, cwd: dir }));
    onTestFinished(() => store.close());
    expect(store).toBeInstanceOf(MongoLiveStore);
    await store.commit({
      windows: { activity: [activityRow({ event_count: 2 })] },
      checkpoints: [checkpoint(0, 1)],
    });
    expect(await ferret.admin.db(name).collection("activity_windows").countDocuments()).toBe(1);
  });
});

/** Rows on partitions 0, 1 and 5 (no checkpoint), an alert, late and raw events, checkpoints of 0 and 1. */
function crashBatch(): StoreBatch {
  return {
    windows: {
      activity: [
        activityRow({ partition: 0, event_count: 5, unique_users: 3, final: true }),
        activityRow({ partition: 1, event_count: 7, unique_users: 4, final: false }),
        activityRow({ partition: 5, event_type: "VIEW", event_count: 4 }),
      ],
      wikimedia: [
        {
          partition: 1,
          window_start: T0,
          window_end: T0 + MINUTE,
          wiki: "enwiki",
          changes: 3,
          edits: 2,
          bot_edits: 1,
          human_edits: 1,
          new_pages: 0,
          byte_delta: -12,
          unique_editors: 2,
          final: false,
        },
      ],
    },
    daily: { activity: [activityRow({ partition: 1, window_end: T0 + DAY, event_count: 70 })] },
    topPages: [
      {
        partition: 1,
        window_start: T0,
        window_end: T0 + MINUTE,
        pages: [{ wiki: "enwiki", title: "Zürich", edits: 2 }],
        final: false,
      },
    ],
    alerts: [alertRow(42)],
    lateEvents: [
      {
        topic: "user-activity",
        partition: 1,
        offset: 17,
        event_time: T0 - 10 * MINUTE,
        watermark: T0,
        payload: '{"event_id":"late"}',
      },
    ],
    rawEvents: [0, 1, 2].map((offset) => ({
      topic: "user-activity",
      partition: offset === 2 ? 1 : 0,
      offset,
      event_time: T0 + offset,
      ingested_at: T0 + 5,
      value: Buffer.from(`{"n":${offset}}`),
    })),
    checkpoints: [checkpoint(1, 3), checkpoint(0, 2)],
  };
}

/** What the embedded store reads back after committing the same batch: the reference. */
async function embeddedResult(batch: StoreBatch) {
  const dir = mkdtempSync(join(tmpdir(), "pulse-store-ref-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const store = EmbeddedLiveStore.open({ path: join(dir, "ref.db") });
  try {
    await store.commit(batch);
    return await readEverything(store);
  } finally {
    await store.close();
  }
}

async function readEverything(store: LiveStore) {
  return {
    activity: await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE, last: 100 }),
    daily: await store.daily(ACTIVITY_SERIES),
    wiki: await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE, last: 100 }),
    top: await store.topPages(MINUTE, 100),
    alerts: await store.alerts(100),
    late: await store.lateEvents(100),
    raw: await store.lake.scanAfter("user-activity", new Map(), 100),
    checkpoints: (await store.checkpoints("job-a", "user-activity")).map((c) => ({
      ...c,
      state: Buffer.from(c.state).toString("hex"),
    })),
  };
}

function activityRow(overrides: Partial<ActivityWindowRow> = {}): ActivityWindowRow {
  return activity({ final: false, ...overrides });
}

function alertRow(observed: number) {
  return {
    series: "activity.CLICK",
    window_start: T0,
    window_end: T0 + MINUTE,
    observed,
    expected: 2.5,
    score: 4,
    kind: "spike" as const,
    created_at: T0 + 2 * MINUTE,
  };
}

function checkpoint(partition: number, nextOffset: number) {
  return {
    job: "job-a",
    topic: "user-activity",
    partition,
    nextOffset,
    state: Uint8Array.of(partition, nextOffset & 0xff),
    updatedAt: T0 + nextOffset,
  };
}
