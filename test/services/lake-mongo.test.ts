// The MongoDB raw lake against a real FerretDB (scripts/services/ferretdb.sh): the RawLake contract, through the store's lake and through one opened on its own, and its documents.
import { randomBytes } from "node:crypto";
import { describe, expect, it, type TestContext } from "vitest";
import type { RawEventRow } from "../../src/lake/index.ts";
import type { OpenedRawLake } from "../../src/lake/index.ts";
import type { Checkpoint } from "../../src/store/index.ts";
import type { MongoCommitOptions } from "../../src/store/mongo/commit.ts";
import { MongoLiveStore, openMongoRawLake } from "../../src/store/mongo/index.ts";
import { type LakeConformanceSubject, raw, runLakeConformance, runsOf } from "../conformance/lake.ts";
import { useFerretDb } from "./services.ts";

const ferret = useFerretDb();

/** A store on a fresh database, and the lake the case reads through: the store's own, or one `open` opens on it. */
function subject(open?: (url: string) => Promise<OpenedRawLake>) {
  return async (): Promise<LakeConformanceSubject> => {
    const name = `pulse_test_${randomBytes(6).toString("hex")}`;
    const url = `${ferret.server}/${name}`;
    const store = await MongoLiveStore.open({ url });
    const opened = await open?.(url);
    return {
      lake: opened ?? store.lake,
      commit: (batch) => store.commit(batch),
      // Documents as the lake wrote them before it kept frames: the JSON text in `payload`.
      writeLegacy: async (rows) => {
        await ferret.admin
          .db(name)
          .collection<{ _id: string }>("raw_events")
          .insertMany(
            rows.map((row) => ({
              _id: JSON.stringify([row.topic, row.partition, row.offset]),
              topic: row.topic,
              partition: row.partition,
              offset: row.offset,
              event_time: row.event_time,
              ingested_at: row.ingested_at,
              payload: row.json,
            })),
          );
      },
      keepsRawRowsOfFailedCommit:
        "MongoDB writes a commit's raw rows in its first step, before the commit points (FerretDB has no multi-document transactions); a commit that fails later leaves them, and its retry or replay writes the same rows",
      cleanup: async () => {
        await opened?.close();
        await store.close();
        await ferret.admin.db(name).dropDatabase();
      },
    };
  };
}

runLakeConformance("mongodb (FerretDB), the store's lake", subject());

runLakeConformance(
  "mongodb (FerretDB), opened on its own",
  subject((url) => openMongoRawLake({ url })),
);

describe("MongoDB raw lake documents", () => {
  const TOPIC = "user-activity";

  /** A fresh database, dropped after the test; `open` opens a store on it (each a process of its own, as far as the lake knows). */
  function database({ onTestFinished }: TestContext) {
    const name = `pulse_test_${randomBytes(6).toString("hex")}`;
    const url = `${ferret.server}/${name}`;
    const stores: MongoLiveStore[] = [];
    onTestFinished(async () => {
      for (const store of stores) await store.close();
      await ferret.admin.db(name).dropDatabase();
    });
    const db = ferret.admin.db(name);
    return {
      db,
      open: async (testHooks?: MongoCommitOptions["testHooks"]) => {
        const store = await MongoLiveStore.open({ url, testHooks });
        stores.push(store);
        return store;
      },
      count: (collection: string) => db.collection(collection).countDocuments(),
    };
  }

  /** `count` rows of each partition from offset `from`, with a value of about 200 bytes. */
  function rows(partitions: readonly number[], from: number, count: number, tag = "a"): RawEventRow[] {
    return partitions.flatMap((partition) =>
      Array.from({ length: count }, (_, i) =>
        raw({
          partition,
          offset: from + i,
          value: Buffer.from(JSON.stringify({ tag, partition, offset: from + i, pad: "x".repeat(160) })),
        }),
      ),
    );
  }

  function checkpoint(partition: number, nextOffset: number): Checkpoint {
    return {
      job: "job-a",
      topic: TOPIC,
      partition,
      nextOffset,
      state: Uint8Array.of(1),
      updatedAt: nextOffset,
    };
  }

  it("stores a commit's rows as a document per partition run, not one per row", async (ctx) => {
    const { open, count } = database(ctx);
    const store = await open();
    const written = rows([0, 1, 2], 0, 1000);
    await store.commit({ rawRuns: runsOf(written), checkpoints: [0, 1, 2].map((p) => checkpoint(p, 1000)) });
    // 3,000 rows of about 250 bytes: one document a partition (a run holds up to 1 MiB).
    expect(await count("raw_batches")).toBe(3);
    expect(await count("raw_events")).toBe(0);
    expect(await store.lake.scanAfter(TOPIC, new Map(), 10_000)).toEqual(written);
    // Rows handed over one by one are stored alike.
    await store.commit({ rawEvents: rows([3], 0, 500), checkpoints: [] });
    expect(await count("raw_batches")).toBe(4);
  });

  it("reads rows of the one-document-per-row shape beside batch documents, the newer write winning", async (ctx) => {
    const { open, db } = database(ctx);
    const store = await open();
    const old = rows([0, 1], 0, 10, "old");
    await db.collection<{ _id: string }>("raw_events").insertMany(
      old.map((row) => ({
        _id: JSON.stringify([row.topic, row.partition, row.offset]),
        topic: row.topic,
        partition: row.partition,
        offset: row.offset,
        event_time: row.event_time,
        ingested_at: row.ingested_at,
        value: row.value,
      })),
    );
    // New rows over offsets 5..14 of partition 0 (5..9 stored in the old shape too) and a new partition.
    const added = [...rows([0], 5, 10, "new"), ...rows([4], 0, 3, "new")];
    await store.commit({ rawRuns: runsOf(added), checkpoints: [] });
    const want = [...old.slice(0, 5), ...added.slice(0, 10), ...old.slice(10), ...added.slice(10)];
    expect(await store.lake.scanAfter(TOPIC, new Map(), 1000)).toEqual(want);
    for (const pageSize of [1, 3, 7]) {
      const position = new Map<number, number>();
      const seen: RawEventRow[] = [];
      for (;;) {
        const page = await store.lake.scanAfter(TOPIC, position, pageSize);
        if (page.length === 0) break;
        for (const row of page) position.set(row.partition, row.offset);
        seen.push(...page);
      }
      expect(seen).toEqual(want);
    }
    expect(await store.lake.scanOffsets(TOPIC, 0, { fromOffset: 3, toOffset: 8 }, 100)).toEqual(
      want.slice(3, 8),
    );
    const T = (offset: number) => old[0]!.event_time + offset * 1000;
    expect(await store.lake.scanEventTime(TOPIC, { fromMs: T(4), toMs: T(6) }, 100)).toEqual(
      want.filter((r) => r.event_time >= T(4) && r.event_time < T(6)),
    );
    expect(await store.lake.lastOffsets(TOPIC)).toEqual(
      new Map([
        [0, 14],
        [1, 9],
        [4, 2],
      ]),
    );
  });

  it("a replay of stored offsets after a crash adds no row and no document", async (ctx) => {
    const { open, count } = database(ctx);
    const crashing = await open({
      afterCommitPoint: () => {
        throw new Error("simulated crash after the commit point");
      },
    });
    const first = rows([0, 1], 0, 1000);
    await expect(
      crashing.commit({ rawRuns: runsOf(first), checkpoints: [checkpoint(0, 1000), checkpoint(1, 1000)] }),
    ).rejects.toThrow(/simulated crash/);
    expect(await count("raw_batches")).toBe(2);

    // Another process replays the same offsets: nothing changes.
    const replaying = await open();
    await replaying.commit({
      rawRuns: runsOf(first),
      checkpoints: [checkpoint(0, 1000), checkpoint(1, 1000)],
    });
    expect(await count("raw_batches")).toBe(2);
    expect(await replaying.lake.scanAfter(TOPIC, new Map(), 10_000)).toEqual(first);

    // A replay that reads further, in runs cut elsewhere, and with other ingestion times: each offset once,
    // the newest write's row.
    const later = rows([0, 1], 0, 1500, "b").map((row) => ({ ...row, ingested_at: row.ingested_at + 1 }));
    const third = await open();
    await third.commit({
      rawRuns: runsOf(later.filter((r) => r.offset < 700 || r.offset >= 1000)),
      checkpoints: [],
    });
    await third.commit({
      rawRuns: runsOf(later.filter((r) => r.offset >= 700 && r.offset < 1000)),
      checkpoints: [],
    });
    expect(await third.lake.scanAfter(TOPIC, new Map(), 10_000)).toEqual(later);
    expect(await third.lake.lastOffsets(TOPIC)).toEqual(
      new Map([
        [0, 1499],
        [1, 1499],
      ]),
    );
    expect(await count("raw_batches")).toBeLessThanOrEqual(6);
  });

  it("reads each offset once from documents that overlap (a rewrite cut short), and the next write merges them", async (ctx) => {
    const { open, db, count } = database(ctx);
    const store = await open();
    const stored = rows([0], 0, 20, "old");
    await store.commit({ rawRuns: runsOf(stored), checkpoints: [] });
    // A document over offsets 10..24 as a rewrite writes it before it deletes the one it replaces.
    const newer = rows([0], 10, 15, "new");
    const [run] = runsOf(newer);
    await db.collection<{ _id: string; [field: string]: unknown }>("raw_batches").insertOne({
      _id: JSON.stringify([TOPIC, 0, 10]),
      topic: TOPIC,
      partition: 0,
      first_offset: 10,
      last_offset: 24,
      count: 15,
      min_event_time: newer[0]!.event_time,
      max_event_time: newer.at(-1)!.event_time,
      records: Buffer.from(run!.bytes),
    });
    const seen = await store.lake.scanAfter(TOPIC, new Map(), 1000);
    expect(seen.map((r) => r.offset)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // Until then each offset comes from the first document that holds it: the old one up to its end.
    expect(await store.lake.scanAfter(TOPIC, new Map([[0, 15]]), 1000)).toEqual([
      ...stored.slice(16),
      ...newer.slice(10),
    ]);
    // Writing the new rows again finishes the rewrite: one set of documents, the new rows winning.
    const opened = await open();
    await opened.commit({ rawRuns: runsOf(newer), checkpoints: [] });
    expect(await opened.lake.scanAfter(TOPIC, new Map(), 1000)).toEqual([...stored.slice(0, 10), ...newer]);
    expect(await count("raw_batches")).toBe(1);
  });
});
