// The embedded log's segment files: batch bytes beside the log file, new segments, retention removing files, damage, and the schema-2 upgrade.
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { LogErrorCode } from "../../errors.ts";
import type { LogRecord, ProduceRecord } from "../index.ts";
import { EmbeddedLog, type EmbeddedLogOptions } from "./index.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-log-segments-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "log.db");
}

function open(path: string, options: Omit<EmbeddedLogOptions, "path"> = {}): EmbeddedLog {
  const log = EmbeddedLog.open({ path, ...options });
  cleanups.push(() => log.close());
  return log;
}

/** `count` records for partition 0 tagged `tag`, values of `size` bytes, timestamps from `firstMs` on. */
function records(count: number, tag: string, firstMs = 1_000, size = 100): ProduceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`${tag}-${i}`),
    value: Buffer.from(`${tag}:${i}:`.padEnd(size, "v")),
    partition: 0,
    timestampMs: firstMs + i,
  }));
}

/** Every record of a partition from `offset`, fetched 50 at a time. */
async function readAll(log: EmbeddedLog, topic: string, partition = 0, offset = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let next = offset; ; ) {
    const page = await log.fetch(topic, partition, next, { maxRecords: 50 });
    if (page.length === 0) return out;
    out.push(...page);
    next = page[page.length - 1]!.offset + 1;
  }
}

const values = (rows: readonly { value: Uint8Array | null }[]) =>
  rows.map((r) => Buffer.from(r.value!).toString());

type IndexRow = {
  base: number;
  inline: number;
  segment: number | null;
  pos: number | null;
  length: number | null;
};

/** The batch rows and segment ends of a topic, read with a separate connection. */
function index(path: string, topic: string) {
  const db = new Database(path, { readonly: true });
  try {
    const topicId = db.prepare("SELECT topic_id FROM topics WHERE name = ?").pluck().get(topic) as number;
    return {
      batches: db
        .prepare<[number], IndexRow>(
          `SELECT id & 0x1FFFFFFFFFF AS base, length(records) AS inline, segment, pos, length
           FROM batches WHERE id >> 51 = ? ORDER BY id`,
        )
        .all(topicId),
      ends: db
        .prepare<[number], { partition: number; segment: number; end_pos: number }>(
          "SELECT partition, segment, end_pos FROM segments WHERE topic_id = ? ORDER BY partition",
        )
        .all(topicId),
    };
  } finally {
    db.close();
  }
}

/** Files this process holds open that were removed. */
function openRemovedFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(join("/proc/self/fd", fd));
      if (target.endsWith(" (deleted)") && target.includes("pulse-log-segments-")) {
        out.push(target.slice(0, -" (deleted)".length));
      }
    } catch {
      // Closed since the listing.
    }
  }
  return out.sort();
}

function segmentFiles(path: string, folder: string): { name: string; size: number }[] {
  const dir = join(`${path}-segments`, folder);
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, size: statSync(join(dir, name)).size }));
}

describe("EmbeddedLog segment files", () => {
  it("appends each produce's batches to its partition's segment file and reads them back, also from another connection", async () => {
    const path = tempPath();
    const log = open(path);
    await log.ensureTopic({ name: "t", partitions: 2 });
    const first = records(30, "one");
    const second = records(20, "two");
    await log.produce("t", first);
    await log.produce("t", [...second, { key: null, value: Buffer.from("p1"), partition: 1 }]);

    const { batches, ends } = index(path, "t");
    // Partition 0: two batches back to back in segment 1; partition 1: one batch in its own folder.
    const p0 = batches.slice(0, 2);
    expect(p0.map((b) => [b.base, b.inline, b.segment, b.pos])).toEqual([
      [0, 0, 1, 0],
      [30, 0, 1, p0[0]!.length],
    ]);
    const end = p0[0]!.length! + p0[1]!.length!;
    expect(ends).toEqual([
      { partition: 0, segment: 1, end_pos: end },
      { partition: 1, segment: 1, end_pos: batches[2]!.length },
    ]);
    expect(segmentFiles(path, "t-0")).toEqual([{ name: "000001.seg", size: end }]);
    expect(segmentFiles(path, "t-1")).toEqual([{ name: "000001.seg", size: batches[2]!.length }]);

    expect(values(await readAll(log, "t"))).toEqual(values([...first, ...second]));
    // From the middle of a batch, and through a second connection (as another process reads).
    const other = open(path);
    const page = await other.fetch("t", 0, 25, { maxRecords: 10 });
    expect(page.map((r) => r.offset)).toEqual([25, 26, 27, 28, 29, 30, 31, 32, 33, 34]);
    expect(values(page)).toEqual(values([...first, ...second].slice(25, 35)));
    expect(values(await readAll(other, "t", 1))).toEqual(["p1"]);
  });

  it("keeps the bytes in the rows under synchronous=FULL (one fsync a produce), and reads either kind of row", async () => {
    const path = tempPath();
    const normal = open(path);
    await normal.ensureTopic({ name: "t", partitions: 1 });
    await normal.produce("t", records(10, "normal"));
    await normal.close();
    const full = open(path, { synchronous: "FULL" });
    await full.produce("t", records(5, "full"));
    expect(index(path, "t").batches.map((b) => [b.base, b.segment, b.inline > 0])).toEqual([
      [0, 1, false],
      [10, null, true],
    ]);
    expect(values(await readAll(full, "t"))).toEqual(
      values([...records(10, "normal"), ...records(5, "full")]),
    );
  });

  it("keeps the bytes in the rows for an in-memory log", async () => {
    const log = EmbeddedLog.open({ path: ":memory:" });
    cleanups.push(() => log.close());
    await log.ensureTopic({ name: "t", partitions: 1 });
    await log.produce("t", records(10, "mem"));
    expect(values(await readAll(log, "t"))).toEqual(values(records(10, "mem")));
  });

  it("writes over a killed produce's bytes past the committed end", async () => {
    const path = tempPath();
    const log = open(path);
    await log.ensureTopic({ name: "t", partitions: 1 });
    await log.produce("t", records(10, "kept"));
    const committedEnd = index(path, "t").ends[0]!.end_pos;
    // What a producer killed between its write and its commit leaves behind.
    appendFileSync(join(`${path}-segments`, "t-0", "000001.seg"), Buffer.alloc(5000, 0xee));
    await log.produce("t", records(5, "next"));
    const { batches, ends } = index(path, "t");
    expect(batches.map((b) => b.pos)).toEqual([0, committedEnd]);
    expect(ends[0]!.end_pos).toBe(committedEnd + batches[1]!.length!);
    expect(values(await readAll(log, "t"))).toEqual(values([...records(10, "kept"), ...records(5, "next")]));
  });

  it("moves on to a new segment past segmentBytes, and a batch larger than that gets one alone", async () => {
    const path = tempPath();
    const log = open(path, { segmentBytes: 4096 });
    await log.ensureTopic({ name: "t", partitions: 1 });
    const produced: ProduceRecord[] = [];
    // About 1.3 KB a produce: three fit in 4096 bytes, the fourth starts segment 2.
    for (let i = 0; i < 5; i++) {
      const batch = records(10, `small${i}`);
      produced.push(...batch);
      await log.produce("t", batch);
    }
    const large = records(60, "large");
    produced.push(...large);
    await log.produce("t", large);
    const after = records(3, "after");
    produced.push(...after);
    await log.produce("t", after);

    const segments = index(path, "t").batches.map((b) => b.segment);
    expect(segments).toEqual([1, 1, 1, 2, 2, 3, 4]);
    const files = segmentFiles(path, "t-0");
    expect(files.map((f) => f.name)).toEqual(["000001.seg", "000002.seg", "000003.seg", "000004.seg"]);
    expect(files[2]!.size).toBeGreaterThan(4096);
    expect(values(await readAll(log, "t"))).toEqual(values(produced));
  });

  it("retention removes the segment files no row names any more, and keeps the rest readable", async () => {
    const path = tempPath();
    const log = open(path, { segmentBytes: 4096 });
    await log.ensureTopic({ name: "t", partitions: 1, retention: { maxAgeMs: 1000 } });
    const produced: ProduceRecord[] = [];
    // Seven produces of ten records at 1,000 ms apart: segments 1 (three), 2 (three), 3 (one).
    for (let i = 0; i < 7; i++) {
      const batch = records(10, `b${i}`, 10_000 + i * 1_000);
      produced.push(...batch);
      await log.produce("t", batch);
    }
    expect(segmentFiles(path, "t-0").map((f) => f.name)).toEqual(["000001.seg", "000002.seg", "000003.seg"]);
    // Another connection (as another process) holds segment 1 open from reading it.
    const reader = open(path);
    expect(values(await reader.fetch("t", 0, 0, { maxRecords: 5 }))).toEqual(values(produced.slice(0, 5)));
    expect(openRemovedFiles()).toEqual([]);

    // Expires batches 0-2 and the first five records of batch 3: segment 1 is unused, and batch 3's
    // rest is rewritten into its row, so segment 2 is still needed for batches 4 and 5.
    const cutoff = 10_000 + 3 * 1_000 + 5;
    expect(await log.enforceRetention(cutoff + 1000)).toBe(35);
    expect(segmentFiles(path, "t-0").map((f) => f.name)).toEqual(["000002.seg", "000003.seg"]);
    const rows = index(path, "t").batches;
    expect(rows.map((b) => [b.base, b.segment])).toEqual([
      [35, null],
      [40, 2],
      [50, 2],
      [60, 3],
    ]);
    expect(rows[0]!.inline).toBeGreaterThan(0);
    expect(values(await readAll(log, "t"))).toEqual(values(produced.slice(35)));
    // The reader held the removed segment 1 open until it opened another segment of the partition.
    expect(openRemovedFiles()).toEqual([join(`${path}-segments`, "t-0", "000001.seg")]);
    expect(values(await readAll(reader, "t"))).toEqual(values(produced.slice(35)));
    expect(openRemovedFiles()).toEqual([]);

    // Everything expires: every segment but the newest goes, and the next produce appends to it.
    expect(await log.enforceRetention(1_000_000)).toBe(35);
    expect(segmentFiles(path, "t-0").map((f) => f.name)).toEqual(["000003.seg"]);
    const later = records(4, "later", 2_000_000);
    await log.produce("t", later);
    expect(index(path, "t").batches.map((b) => [b.base, b.segment])).toEqual([[70, 3]]);
    expect(values(await readAll(log, "t"))).toEqual(values(later));
  });

  it("a damaged or missing segment file fails the fetch with PULSE_LOG_STORAGE naming the file", async () => {
    const path = tempPath();
    const log = open(path);
    await log.ensureTopic({ name: "t", partitions: 1 });
    await log.produce("t", records(10, "x"));
    const file = join(`${path}-segments`, "t-0", "000001.seg");
    const size = statSync(file).size;

    truncateSync(file, size - 3);
    const reader = open(path);
    await expect(reader.fetch("t", 0, 0)).rejects.toMatchObject({
      code: LogErrorCode.storage,
      message: expect.stringMatching(
        /000001\.seg does not hold the batch its index names .*the file ends after/,
      ),
    });
    unlinkSync(file);
    const again = open(path);
    await expect(again.fetch("t", 0, 0)).rejects.toMatchObject({
      code: LogErrorCode.storage,
      message: expect.stringMatching(
        /000001\.seg is missing, but the index names it; restore the data folder/,
      ),
    });
  });

  it("refuses a segmentBytes that is not a positive whole number with PULSE_LOG_BAD_ARGUMENT", () => {
    for (const segmentBytes of [0, -1, 1.5]) {
      expect(() => EmbeddedLog.open({ path: ":memory:", segmentBytes })).toThrow(
        expect.objectContaining({
          code: LogErrorCode.badArgument,
          message: expect.stringContaining("segmentBytes"),
        }),
      );
    }
  });

  it("opens a schema-2 file (bytes in the rows): old rows stay as they are, new batches go to segment files", async () => {
    const path = tempPath();
    const log = open(path);
    await log.ensureTopic({ name: "t", partitions: 1 });
    const old = records(25, "old");
    await log.produce("t", old.slice(0, 10));
    await log.produce("t", old.slice(10));
    await log.close();
    toSchema2(path);

    const upgraded = open(path);
    const added = records(5, "new");
    await upgraded.produce("t", added);
    const { batches } = index(path, "t");
    expect(batches.map((b) => [b.base, b.segment, b.pos])).toEqual([
      [0, null, null],
      [10, null, null],
      [25, 1, 0],
    ]);
    expect(values(await readAll(upgraded, "t"))).toEqual(values([...old, ...added]));
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(3);
    } finally {
      db.close();
    }
  });
});

/**
 * Turns a log file into what schema 2 wrote: each batch's bytes in its row, no segment columns, no
 * segments table, no segment files.
 */
function toSchema2(path: string): void {
  const db = new Database(path);
  try {
    const rows = db
      .prepare<
        [],
        { id: bigint; topic: string; partition: number; segment: number; pos: number; length: number }
      >(
        `SELECT b.id, t.name AS topic, (b.id >> 41) & 1023 AS partition, b.segment, b.pos, b.length
         FROM batches AS b JOIN topics AS t ON t.topic_id = b.id >> 51`,
      )
      .safeIntegers(true)
      .all();
    const update = db.prepare("UPDATE batches SET records = ? WHERE id = ?");
    for (const row of rows) {
      const file = join(
        `${path}-segments`,
        `${row.topic}-${row.partition}`,
        `${String(row.segment).padStart(6, "0")}.seg`,
      );
      const pos = Number(row.pos);
      update.run(readFileSync(file).subarray(pos, pos + Number(row.length)), row.id);
    }
    for (const column of ["segment", "pos", "length", "crc"])
      db.exec(`ALTER TABLE batches DROP COLUMN ${column}`);
    db.exec("DROP TABLE segments");
    db.pragma("user_version = 2");
  } finally {
    db.close();
  }
  rmSync(`${path}-segments`, { recursive: true, force: true });
}
