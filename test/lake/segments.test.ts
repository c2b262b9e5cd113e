// The embedded raw lake's segment files: appends, index rows, rolled-back commits, new segments, damage, and the schema-3 upgrade.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { StoreErrorCode } from "../../src/errors.ts";
import { EmbeddedLiveStore, type EmbeddedLiveStoreOptions } from "../../src/store/embedded/index.ts";
import type { RawEventRow } from "../../src/lake/index.ts";
import { RawBatchEncoder } from "../../src/lake/batch.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-segments-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "live.db");
}

function open(path: string, options: Omit<EmbeddedLiveStoreOptions, "path"> = {}): EmbeddedLiveStore {
  const store = EmbeddedLiveStore.open({ path, ...options });
  cleanups.push(() => store.close());
  return store;
}

/** `count` rows of one topic and partition from `first`, every other offset, values of `size` bytes tagged by `tag`. */
function rows(topic: string, partition: number, first: number, count: number, tag: string, size = 40) {
  return Array.from({ length: count }, (_, i): RawEventRow => {
    const offset = first + 2 * i;
    return {
      topic,
      partition,
      offset,
      event_time: offset * 1000,
      ingested_at: offset * 1000 + 7,
      value: Buffer.from(`${tag}:${offset}:`.padEnd(size, "x")),
    };
  });
}

/** The index and segment bookkeeping, read with a separate connection. */
function index(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      batches: db
        .prepare<[], { inline: number; segment: number | null; pos: number | null; length: number | null }>(
          "SELECT length(records) AS inline, segment, pos, length FROM raw_batches ORDER BY segment, pos",
        )
        .all(),
      ends: db
        .prepare<[], { segment: number; end_pos: number }>("SELECT * FROM raw_segments ORDER BY segment")
        .all(),
    };
  } finally {
    db.close();
  }
}

function segmentFiles(path: string): { name: string; size: number }[] {
  const dir = `${path}-raw`;
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, size: statSync(join(dir, name)).size }));
}

describe("EmbeddedLiveStore raw-lake segment files", () => {
  it("appends each commit's batches to a segment file beside the store and reads them back through the index", async () => {
    const path = tempPath();
    const store = open(path, { synchronous: "FULL" });
    const first = [
      ...rows("a", 0, 0, 30, "one"),
      ...rows("a", 3, 10, 5, "one"),
      ...rows("b", 1, 0, 4, "one"),
    ];
    const second = [...rows("a", 0, 60, 20, "two"), ...rows("b", 1, 8, 3, "two")];
    await store.commit({ rawEvents: first, checkpoints: [] });
    await store.commit({ rawEvents: second, checkpoints: [] });

    const { batches, ends } = index(path);
    // One batch per topic and partition a commit: 3 + 2, none of them holding its bytes in the row.
    expect(batches).toHaveLength(5);
    expect(batches.every((b) => b.inline === 0 && b.segment === 1)).toBe(true);
    // Appended back to back: each batch starts where the one before it ends.
    let end = 0;
    for (const batch of batches) {
      expect(batch.pos).toBe(end);
      end += batch.length!;
    }
    expect(ends).toEqual([{ segment: 1, end_pos: end }]);
    expect(segmentFiles(path)).toEqual([{ name: "000001.seg", size: end }]);

    const all = [...first, ...second];
    for (const topic of ["a", "b"]) {
      const expected = all
        .filter((r) => r.topic === topic)
        .sort((x, y) => x.partition - y.partition || x.offset - y.offset);
      expect(await store.lake.scanAfter(topic, new Map(), 1000)).toEqual(expected);
    }
    // An incremental read from a position inside a batch.
    expect(
      await store.lake.scanAfter(
        "a",
        new Map([
          [0, 50],
          [3, 1000],
        ]),
        3,
      ),
    ).toEqual(
      [...first, ...second].filter((r) => r.topic === "a" && r.partition === 0 && r.offset > 50).slice(0, 3),
    );
  });

  it("a commit that fails after appending leaves nothing readable, and the next commit writes over its bytes", async () => {
    const path = tempPath();
    const store = open(path);
    await store.commit({ rawEvents: rows("a", 0, 0, 10, "kept"), checkpoints: [] });
    const committedEnd = index(path).ends[0]!.end_pos;
    // An offset-only checkpoint with no stored checkpoint fails the commit after the raw rows were appended.
    const failing = store.commit({
      rawEvents: rows("a", 0, 20, 50, "lost"),
      checkpoints: [{ job: "j", topic: "a", partition: 0, nextOffset: 120, updatedAt: 1 }],
    });
    await expect(failing).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
    expect(index(path).ends).toEqual([{ segment: 1, end_pos: committedEnd }]);
    expect(segmentFiles(path)[0]!.size).toBeGreaterThan(committedEnd);
    expect(await store.lake.scanAfter("a", new Map(), 1000)).toEqual(rows("a", 0, 0, 10, "kept"));

    const next = rows("a", 0, 20, 3, "next");
    await store.commit({ rawEvents: next, checkpoints: [] });
    const { batches, ends } = index(path);
    expect(batches.map((b) => b.pos)).toEqual([0, committedEnd]);
    expect(ends).toEqual([{ segment: 1, end_pos: committedEnd + batches[1]!.length! }]);
    expect(await store.lake.scanAfter("a", new Map(), 1000)).toEqual([
      ...rows("a", 0, 0, 10, "kept"),
      ...next,
    ]);
  });

  it("moves on to a new segment past rawSegmentBytes, cutting the garbage off the old one", async () => {
    const path = tempPath();
    const store = open(path, { rawSegmentBytes: 4096 });
    // About 3.4 KB: 50 rows of 40 bytes and 28 bytes of fixed fields each, plus the batch header.
    const big = (first: number, tag: string) => rows("a", 0, first, 50, tag);
    await store.commit({ rawEvents: big(0, "s1"), checkpoints: [] });
    const firstEnd = index(path).ends[0]!.end_pos;
    expect(firstEnd).toBe(5 + 50 * 68);
    // A failed commit whose batch fitted leaves garbage after the committed end of segment 1.
    await expect(
      store.commit({
        rawEvents: rows("a", 0, 100, 5, "lost"),
        checkpoints: [{ job: "j", topic: "a", partition: 0, nextOffset: 1, updatedAt: 1 }],
      }),
    ).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
    expect(segmentFiles(path)[0]!.size).toBeGreaterThan(firstEnd);
    // The next batch does not fit in segment 1, nor do the two after it share a segment.
    for (const [first, tag] of [
      [100, "s2"],
      [200, "s3"],
      [300, "s4"],
    ] as const) {
      await store.commit({ rawEvents: big(first, tag), checkpoints: [] });
    }
    const { batches, ends } = index(path);
    expect(batches.map((b) => [b.segment, b.pos])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
    expect(ends).toEqual([1, 2, 3, 4].map((segment) => ({ segment, end_pos: firstEnd })));
    // Every file is exactly its committed bytes: the failed commit's garbage was cut off segment 1.
    expect(segmentFiles(path)).toEqual(
      ["000001.seg", "000002.seg", "000003.seg", "000004.seg"].map((name) => ({ name, size: firstEnd })),
    );
    expect(await store.lake.scanAfter("a", new Map(), 1000)).toEqual([
      ...big(0, "s1"),
      ...big(100, "s2"),
      ...big(200, "s3"),
      ...big(300, "s4"),
    ]);
  });

  it("a batch larger than rawSegmentBytes gets a segment of its own", async () => {
    const path = tempPath();
    const store = open(path, { rawSegmentBytes: 1000 });
    await store.commit({ rawEvents: rows("a", 0, 0, 2, "small"), checkpoints: [] });
    await store.commit({ rawEvents: rows("a", 0, 10, 40, "large"), checkpoints: [] });
    await store.commit({ rawEvents: rows("a", 0, 100, 2, "after"), checkpoints: [] });
    expect(index(path).batches.map((b) => [b.segment, b.pos])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    expect(await store.lake.scanAfter("a", new Map(), 1000)).toEqual([
      ...rows("a", 0, 0, 2, "small"),
      ...rows("a", 0, 10, 40, "large"),
      ...rows("a", 0, 100, 2, "after"),
    ]);
  });

  it("refuses to return a changed, cut or missing segment's bytes, naming the file", async () => {
    const path = tempPath();
    const file = join(`${path}-raw`, "000001.seg");
    const writer = open(path);
    await writer.commit({ rawEvents: rows("a", 0, 0, 10, "ok"), checkpoints: [] });
    await writer.close();

    const original = readFileSync(file);
    const changed = Buffer.from(original);
    changed[changed.length - 3] ^= 0xff;
    writeFileSync(file, changed);
    const reader = open(path);
    const read = () => reader.lake.scanAfter("a", new Map(), 100);
    await expect(read()).rejects.toMatchObject({
      code: StoreErrorCode.storage,
      message: expect.stringContaining(file),
    });
    await expect(read()).rejects.toThrow(/checksum differs/);
    writeFileSync(file, original.subarray(0, original.length - 1));
    await expect(read()).rejects.toThrow(/the file ends after/);
    writeFileSync(file, original);
    expect(await read()).toEqual(rows("a", 0, 0, 10, "ok"));
    await reader.close();

    unlinkSync(file);
    const again = open(path);
    await expect(again.lake.scanAfter("a", new Map(), 100)).rejects.toMatchObject({
      code: StoreErrorCode.storage,
      message: expect.stringMatching(/000001\.seg is missing/),
    });
  });

  it("keeps an in-memory store's batches in their rows", async () => {
    const store = open(":memory:");
    await store.commit({ rawEvents: rows("a", 2, 0, 5, "mem"), checkpoints: [] });
    expect(await store.lake.scanAfter("a", new Map(), 100)).toEqual(rows("a", 2, 0, 5, "mem"));
  });

  it("opens a schema-3 file: its batches stay in their rows and read in order with new ones from segments", async () => {
    const path = tempPath();
    // A schema-3 store: this schema without the segment columns and table, holding a batch in its row.
    await open(path).close();
    const db = new Database(path);
    const stored = rows("a", 1, 0, 20, "v3");
    const batch = new RawBatchEncoder().encode(stored, 0, stored.length);
    db.exec(`DROP TABLE raw_segments;
      ALTER TABLE raw_batches DROP COLUMN segment; ALTER TABLE raw_batches DROP COLUMN pos;
      ALTER TABLE raw_batches DROP COLUMN length; ALTER TABLE raw_batches DROP COLUMN crc;
      INSERT INTO raw_topics VALUES (1, 'a');`);
    db.prepare("INSERT INTO raw_batches VALUES ((1 << 51) | (1 << 41) | ?, ?, ?)").run(
      batch.firstOffset,
      batch.lastOffset,
      batch.bytes,
    );
    db.pragma("user_version = 3");
    db.close();

    const store = open(path);
    const added = rows("a", 1, 100, 5, "v4");
    await store.commit({ rawEvents: added, checkpoints: [] });
    expect(await store.lake.scanAfter("a", new Map(), 1000)).toEqual([...stored, ...added]);
    expect(await store.lake.scanAfter("a", new Map([[1, 38]]), 1000)).toEqual(added);
    const { batches } = index(path);
    expect(batches.map((b) => [b.inline > 0, b.segment])).toEqual([
      [true, null],
      [false, 1],
    ]);
    const check = new Database(path, { readonly: true });
    cleanups.push(() => check.close());
    expect(check.pragma("user_version", { simple: true })).toBe(4);
  });
});

describe("retention", () => {
  it("removes the segment files whose every batch retention deleted, never the newest", async () => {
    const path = tempPath();
    // A segment per batch: each commit's batch starts a new one.
    const store = open(path, { rawSegmentBytes: 1 });
    for (let j = 0; j < 6; j++)
      await store.commit({ rawEvents: rows("user-activity", 0, 20 * j, 10, `c${j}`), checkpoints: [] });
    const segments = () => readdirSync(`${path}-raw`).sort();
    expect(segments()).toEqual([
      "000001.seg",
      "000002.seg",
      "000003.seg",
      "000004.seg",
      "000005.seg",
      "000006.seg",
    ]);
    // Commit j holds offsets 20j … 20j + 18, event time offset × 1000: before 60 000 are commits 0–2.
    const loaded = new Map([["user-activity", new Map([[0, 1000]])]]);
    expect(await store.enforceRetention({ beforeMs: 60_000, loaded })).toMatchObject({
      rawBatches: 3,
      rawEvents: 30,
    });
    expect(segments()).toEqual(["000004.seg", "000005.seg", "000006.seg"]);
    expect(index(path).ends.map((e) => e.segment)).toEqual([4, 5, 6]);
    // Everything expired: the newest segment stays, as its end row, for the next append.
    expect(await store.enforceRetention({ beforeMs: 1e9, loaded })).toMatchObject({ rawBatches: 3 });
    expect(segments()).toEqual(["000006.seg"]);
    await store.commit({ rawEvents: rows("user-activity", 0, 200, 3, "next"), checkpoints: [] });
    expect((await store.lake.scanAfter("user-activity", new Map(), 100)).map((r) => r.offset)).toEqual([
      200, 202, 204,
    ]);
  });
});
