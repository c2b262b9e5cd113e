// The RawLake conformance suite: every raw lake (embedded, MongoDB) runs these cases, appending through the commit of the store that holds it.
import { describe, expect, it } from "vitest";
import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import { RawRunWriter } from "../../src/lake/batch.ts";
import { decodeRawEvent } from "../../src/lake/decode.ts";
import type { RawEventRow, RawLake, RawRun } from "../../src/lake/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import type { Checkpoint, StoreBatch } from "../../src/store/index.ts";
import { freshSubjectPerTest } from "../helpers/subjects.ts";

/** A row as the lake stored it before it kept frames: the event's JSON text. */
export interface LegacyRawRow {
  topic: string;
  partition: number;
  offset: number;
  event_time: number;
  ingested_at: number;
  json: string;
}

export interface LakeConformanceSubject {
  lake: RawLake;
  /** The commit of the live store that holds the lake: the only way rows get in. */
  commit: (batch: StoreBatch) => Promise<void>;
  /** Stores rows in the older format, as a lake written before frames holds them (each run one partition's, in offset order). */
  writeLegacy: (rows: readonly LegacyRawRow[]) => Promise<void>;
  /**
   * Set, with the reason, when a commit that fails after its first step leaves its raw rows stored (MongoDB
   * writes them before its commit points); the suite then skips the case that expects none.
   */
  keepsRawRowsOfFailedCommit?: string;
  cleanup: () => Promise<void>;
}

const T0 = Date.UTC(2026, 10, 28);
const TOPIC = "user-activity";
const OTHER = "wikimedia.recentchange";

/*
 * Every case gets a fresh, empty lake from makeLake and releases it afterwards. A server-backed factory
 * should create a uniquely named database per call and drop it in cleanup.
 */
export function runLakeConformance(name: string, makeLake: () => Promise<LakeConformanceSubject>): void {
  describe(`RawLake contract: ${name}`, () => {
    let subject: LakeConformanceSubject;
    let lake: RawLake;
    let commit: (batch: StoreBatch) => Promise<void>;
    freshSubjectPerTest(makeLake, (made) => {
      subject = made;
      lake = made.lake;
      commit = made.commit;
    });

    describe("appends through a commit", () => {
      it("reads after per-partition positions, in (partition, offset) order, and pages through every row once", async () => {
        const rows: RawEventRow[] = [];
        for (const [partition, count] of [
          [0, 25],
          [2, 40],
          [5, 7],
        ] as const) {
          for (let offset = 0; offset < count; offset++) rows.push(raw({ partition, offset }));
        }
        // Written out of order and in two batches: reads must still come back sorted.
        const shuffled = [...rows].reverse();
        await commit({ rawEvents: shuffled.slice(0, 30), checkpoints: [] });
        await commit({ rawEvents: shuffled.slice(30), checkpoints: [] });
        await commit({
          rawEvents: [raw({ topic: OTHER, partition: 0, offset: 0 })],
          checkpoints: [],
        });

        expect(await lake.scanAfter(TOPIC, new Map(), 1000)).toEqual(rows);
        const after = new Map([
          [0, 19],
          [2, 39],
          [5, -1],
        ]);
        expect((await lake.scanAfter(TOPIC, after, 1000)).map((r) => [r.partition, r.offset])).toEqual([
          [0, 20],
          [0, 21],
          [0, 22],
          [0, 23],
          [0, 24],
          ...[0, 1, 2, 3, 4, 5, 6].map((o) => [5, o]),
        ]);
        // A partition absent from the map is read from its start.
        expect(
          (await lake.scanAfter(TOPIC, new Map([[2, 10]]), 1000)).filter((r) => r.partition !== 2),
        ).toHaveLength(32);

        // Paging: each page continues from the positions of the rows read so far.
        for (const pageSize of [1, 7, 25, 100]) {
          const position = new Map<number, number>();
          const seen: RawEventRow[] = [];
          for (let pages = 0; pages < 200; pages++) {
            const page = await lake.scanAfter(TOPIC, position, pageSize);
            expect(page.length).toBeLessThanOrEqual(pageSize);
            if (page.length === 0) break;
            for (const row of page) {
              seen.push(row);
              position.set(row.partition, row.offset);
            }
          }
          expect(seen).toEqual(rows);
        }
        expect(await lake.scanAfter(TOPIC, new Map(), 0)).toEqual([]);
        expect(await lake.scanAfter(OTHER, new Map(), 10)).toHaveLength(1);
        expect(await lake.scanAfter("no-such-topic", new Map(), 10)).toEqual([]);
      });

      it.for(["rows", "runs", "rows and runs"] as const)(
        "keeps one row per offset when writes overlap, the newest write winning (%s)",
        async (how) => {
          // Each write as RawEventRow objects, as encoded runs, or alternating.
          let writes = 0;
          const write = (rows: RawEventRow[]) =>
            commit(
              how === "rows" || (how === "rows and runs" && writes++ % 2 === 0)
                ? { rawEvents: rows, checkpoints: [] }
                : { rawRuns: runsOf(rows), checkpoints: [] },
            );
          const v = (partition: number, offset: number, version: number) =>
            raw({ partition, offset, value: utf8(JSON.stringify({ v: version, offset })) });
          const range = (from: number, to: number, version: number, step = 1) => {
            const rows: RawEventRow[] = [];
            for (let offset = from; offset <= to; offset += step) rows.push(v(1, offset, version));
            return rows;
          };
          await write(range(0, 9, 1));
          await write(range(20, 29, 1));
          // Overlaps the end of the first run and starts a gap; then a sparse run inside both; then one
          // that covers the second run and more.
          await write(range(5, 14, 2));
          await write(range(2, 8, 3, 3));
          await write(range(18, 31, 4));

          const expected = new Map<number, number>();
          for (let o = 0; o <= 9; o++) expected.set(o, 1);
          for (let o = 20; o <= 29; o++) expected.set(o, 1);
          for (let o = 5; o <= 14; o++) expected.set(o, 2);
          for (let o = 2; o <= 8; o += 3) expected.set(o, 3);
          for (let o = 18; o <= 31; o++) expected.set(o, 4);
          const want = [...expected].sort((a, b) => a[0] - b[0]).map(([o, version]) => v(1, o, version));
          expect(await lake.scanAfter(TOPIC, new Map(), 1000)).toEqual(want);
          // Paging from inside a merged run starts at the right offset.
          expect(await lake.scanAfter(TOPIC, new Map([[1, 6]]), 3)).toEqual(want.slice(7, 10));
          expect(await lake.scanOffsets(TOPIC, 1, { fromOffset: 4, toOffset: 19 }, 1000)).toEqual(
            want.filter((r) => r.offset >= 4 && r.offset < 19),
          );
        },
      );

      it("stores encoded runs exactly as the same rows, beside rows of the same batch", async () => {
        const rows: RawEventRow[] = [];
        for (const partition of [0, 2, 3]) {
          for (let offset = 0; offset < 12; offset++) rows.push(raw({ partition, offset }));
        }
        rows.push(raw({ topic: OTHER, partition: 0, offset: 4 }));
        const asRows = rows.filter((r) => r.partition === 3);
        const runs = runsOf(rows.filter((r) => r.partition !== 3));
        expect(runs.map((r) => [r.topic, r.partition])).toEqual([
          [TOPIC, 0],
          [TOPIC, 2],
          [OTHER, 0],
        ]);
        await commit({ rawEvents: asRows, rawRuns: runs, checkpoints: [] });
        expect(await lake.scanAfter(TOPIC, new Map(), 1000)).toEqual(rows.filter((r) => r.topic === TOPIC));
        expect(await lake.scanAfter(OTHER, new Map(), 10)).toEqual([rows.at(-1)]);
      });

      it("changes nothing when the same offsets are appended again, as rows or as runs", async () => {
        const rows = [0, 1, 2, 3].flatMap((partition) =>
          Array.from({ length: 6 }, (_, offset) => raw({ partition, offset })),
        );
        await commit({ rawEvents: rows, checkpoints: [checkpoint(0, 6)] });
        const before = await lake.scanAfter(TOPIC, new Map(), 1000);
        expect(before).toEqual(rows);
        await commit({ rawEvents: rows, checkpoints: [checkpoint(0, 6)] });
        await commit({ rawRuns: runsOf(rows), checkpoints: [checkpoint(0, 6)] });
        await commit({ rawEvents: rows.slice(3, 9), rawRuns: runsOf(rows.slice(8, 20)), checkpoints: [] });
        expect(await lake.scanAfter(TOPIC, new Map(), 1000)).toEqual(before);
      });

      it("keeps large offsets, event times and values exact", async () => {
        // A frame's bytes (magic 0, schema id, body): every byte value, zeros included, comes back.
        const value = Buffer.concat([
          Buffer.from([0, 0, 0, 0, 7]),
          Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)),
        ]);
        const row = raw({ partition: 1023, offset: 2 ** 40 + 3, event_time: T0 + 123, value });
        await commit({ rawEvents: [row], checkpoints: [] });
        expect(await lake.scanAfter(TOPIC, new Map(), 5)).toEqual([row]);
        expect(await lake.scanAfter(TOPIC, new Map([[1023, 2 ** 40 + 3]]), 5)).toEqual([]);
        expect(
          await lake.scanOffsets(TOPIC, 1023, { fromOffset: 2 ** 40, toOffset: 2 ** 40 + 4 }, 5),
        ).toEqual([row]);
        expect(await lake.scanEventTime(TOPIC, { fromMs: T0 + 123, toMs: T0 + 124 }, 5)).toEqual([row]);
      });
    });

    describe("a failed commit", () => {
      it("refused for its input or a moved fence appends nothing", async () => {
        await commit({ checkpoints: [checkpoint(0, 10)] });
        const good = runsOf([raw({ partition: 0, offset: 1 }), raw({ partition: 0, offset: 2 })])[0]!;
        const truncated = Buffer.from(good.bytes).subarray(0, good.bytes.length - 3);
        for (const batch of [
          // A raw value that is text, not the record's bytes, after good rows.
          {
            rawEvents: [raw({ partition: 0, offset: 0 }), { ...raw({ partition: 1 }), value: "{}" as never }],
            checkpoints: [],
          },
          // A malformed run after a good one.
          { rawRuns: [good, { ...good, partition: 1, bytes: truncated }], checkpoints: [] },
          // A bad checkpoint.
          { rawEvents: [raw({ partition: 0, offset: 0 })], checkpoints: [checkpoint(0, -1)] },
          // A fence that another writer moved.
          {
            rawEvents: [raw({ partition: 0, offset: 0 })],
            rawRuns: [good],
            checkpoints: [{ ...checkpoint(0, 20), expectedNextOffset: 5 }],
          },
        ] as StoreBatch[]) {
          const error = await commit(batch).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(StoreError);
          expect([StoreErrorCode.badArgument, StoreErrorCode.conflict]).toContain((error as StoreError).code);
          expect(await lake.scanAfter(TOPIC, new Map(), 100)).toEqual([]);
        }
      });

      it("that fails at its checkpoints appends nothing", async (ctx) => {
        if (subject.keepsRawRowsOfFailedCommit !== undefined) ctx.skip(subject.keepsRawRowsOfFailedCommit);
        await commit({ rawEvents: [raw({ partition: 0, offset: 0 })], checkpoints: [] });
        // An offset-only checkpoint of a partition without one is refused after the raw rows went in.
        const failing = commit({
          rawEvents: [raw({ partition: 0, offset: 1 }), raw({ partition: 2, offset: 0 })],
          rawRuns: runsOf([raw({ topic: OTHER, partition: 0, offset: 0 })]),
          checkpoints: [{ ...checkpoint(0, 2), state: undefined }],
        });
        await expect(failing).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
        expect(await lake.scanAfter(TOPIC, new Map(), 100)).toEqual([raw({ partition: 0, offset: 0 })]);
        expect(await lake.scanAfter(OTHER, new Map(), 100)).toEqual([]);
      });
    });

    describe("scans", () => {
      /** Partitions 0, 1 and 4 with offsets 0..19 (partition 1 every other), event times out of order. */
      const spread = (): RawEventRow[] =>
        [0, 1, 4].flatMap((partition) =>
          Array.from({ length: 20 }, (_, i) => i)
            .filter((offset) => partition !== 1 || offset % 2 === 0)
            .map((offset) =>
              raw({ partition, offset, event_time: T0 + ((offset * 7 + partition) % 20) * 1000 }),
            ),
        );

      it("scanOffsets: one partition's offsets in [from, to), in offset order, up to the limit", async () => {
        const rows = spread();
        await commit({ rawRuns: runsOf(rows.slice(0, 30)), checkpoints: [] });
        await commit({ rawEvents: rows.slice(30), checkpoints: [] });
        await commit({ rawEvents: [raw({ topic: OTHER, partition: 1, offset: 5 })], checkpoints: [] });
        const of = (partition: number, from: number, to: number) =>
          rows.filter((r) => r.partition === partition && r.offset >= from && r.offset < to);

        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 0, toOffset: 20 }, 100)).toEqual(of(0, 0, 20));
        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 5, toOffset: 9 }, 100)).toEqual(of(0, 5, 9));
        expect(await lake.scanOffsets(TOPIC, 1, { fromOffset: 3, toOffset: 12 }, 100)).toEqual(of(1, 3, 12));
        expect(await lake.scanOffsets(TOPIC, 4, { fromOffset: -10, toOffset: 1e12 }, 3)).toEqual(
          of(4, 0, 20).slice(0, 3),
        );
        expect(await lake.scanOffsets(TOPIC, 4, { fromOffset: 18, toOffset: 1e12 }, 100)).toEqual(
          of(4, 18, 20),
        );
        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 9, toOffset: 9 }, 100)).toEqual([]);
        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 12, toOffset: 3 }, 100)).toEqual([]);
        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 20, toOffset: 40 }, 100)).toEqual([]);
        expect(await lake.scanOffsets(TOPIC, 0, { fromOffset: 0, toOffset: 20 }, 0)).toEqual([]);
        expect(await lake.scanOffsets(TOPIC, 2, { fromOffset: 0, toOffset: 20 }, 100)).toEqual([]);
        expect(await lake.scanOffsets(TOPIC, 1023, { fromOffset: 0, toOffset: 20 }, 100)).toEqual([]);
        expect(await lake.scanOffsets(OTHER, 1, { fromOffset: 0, toOffset: 20 }, 100)).toEqual([
          raw({ topic: OTHER, partition: 1, offset: 5 }),
        ]);
        expect(await lake.scanOffsets("no-such-topic", 0, { fromOffset: 0, toOffset: 20 }, 100)).toEqual([]);
      });

      it("lastOffsets: each partition's greatest stored offset, across rows and runs; none for a topic without rows", async () => {
        expect(await lake.lastOffsets(TOPIC)).toEqual(new Map());
        const rows = spread();
        await commit({ rawRuns: runsOf(rows.slice(0, 30)), checkpoints: [] });
        await commit({ rawEvents: rows.slice(30), checkpoints: [] });
        await commit({ rawEvents: [raw({ topic: OTHER, partition: 7, offset: 123_456 })], checkpoints: [] });
        // Partition 1 holds the even offsets only: its last is 18.
        expect(await lake.lastOffsets(TOPIC)).toEqual(
          new Map([
            [0, 19],
            [1, 18],
            [4, 19],
          ]),
        );
        expect(await lake.lastOffsets(OTHER)).toEqual(new Map([[7, 123_456]]));
        expect(await lake.lastOffsets("no-such-topic")).toEqual(new Map());
        await commit({ rawEvents: [raw({ partition: 1, offset: 1_000_000 })], checkpoints: [] });
        expect((await lake.lastOffsets(TOPIC)).get(1)).toBe(1_000_000);
      });

      it("scanEventTime: rows with event_time in [fromMs, toMs) in (partition, offset) order, paged after a position", async () => {
        const rows = spread();
        await commit({ rawEvents: rows.slice(0, 25), checkpoints: [] });
        await commit({ rawRuns: runsOf(rows.slice(25)), checkpoints: [] });
        await commit({
          rawEvents: [raw({ topic: OTHER, partition: 0, offset: 0, event_time: T0 + 5000 })],
          checkpoints: [],
        });
        const range = { fromMs: T0 + 5000, toMs: T0 + 12_000 };
        const inRange = rows.filter((r) => r.event_time >= range.fromMs && r.event_time < range.toMs);
        // The case means something: rows in range and out of it in every partition, in no time order.
        expect(inRange.length).toBeGreaterThan(10);
        expect(new Set(inRange.map((r) => r.partition))).toEqual(new Set([0, 1, 4]));

        expect(await lake.scanEventTime(TOPIC, range, 1000)).toEqual(inRange);
        expect(await lake.scanEventTime(TOPIC, { fromMs: T0, toMs: T0 + 20_000 }, 1000)).toEqual(rows);
        expect(await lake.scanEventTime(TOPIC, { fromMs: T0 + 20_000, toMs: T0 + 90_000 }, 1000)).toEqual([]);
        expect(await lake.scanEventTime(TOPIC, { fromMs: T0 + 7000, toMs: T0 + 7000 }, 1000)).toEqual([]);
        expect(await lake.scanEventTime(TOPIC, range, 0)).toEqual([]);
        // After a position: the rest of its partition, then the later partitions from their start.
        const middle = inRange[5]!;
        expect(await lake.scanEventTime(TOPIC, range, 1000, middle)).toEqual(inRange.slice(6));
        expect(await lake.scanEventTime(TOPIC, range, 1000, { partition: 1, offset: -1 })).toEqual(
          inRange.filter((r) => r.partition >= 1),
        );
        expect(await lake.scanEventTime(TOPIC, range, 1000, { partition: 4, offset: 19 })).toEqual([]);
        expect(await lake.scanEventTime(OTHER, range, 10)).toEqual([
          raw({ topic: OTHER, partition: 0, offset: 0, event_time: T0 + 5000 }),
        ]);
        expect(await lake.scanEventTime("no-such-topic", range, 10)).toEqual([]);

        // Paging: each page after the last row of the one before, until a page comes back empty.
        for (const pageSize of [1, 4, 100]) {
          const seen: RawEventRow[] = [];
          let after: RawEventRow | undefined;
          for (let pages = 0; pages < 200; pages++) {
            const page = await lake.scanEventTime(TOPIC, range, pageSize, after);
            expect(page.length).toBeLessThanOrEqual(pageSize);
            if (page.length === 0) break;
            seen.push(...page);
            after = page.at(-1);
          }
          expect(seen).toEqual(inRange);
        }
      });

      it("rejects bad arguments with PULSE_STORE_BAD_ARGUMENT", async () => {
        for (const scan of [
          () => lake.scanAfter(TOPIC, new Map(), -1),
          () => lake.scanAfter(TOPIC, new Map([[0.5, 1]]), 1),
          () => lake.scanAfter(TOPIC, new Map([[0, Number.NaN]]), 1),
          () => lake.scanOffsets(TOPIC, -1, { fromOffset: 0, toOffset: 1 }, 1),
          () => lake.scanOffsets(TOPIC, 0, { fromOffset: 0.5, toOffset: 1 }, 1),
          () => lake.scanOffsets(TOPIC, 0, { fromOffset: 0, toOffset: 1 }, 1.5),
          () => lake.scanEventTime(TOPIC, { fromMs: Number.NaN, toMs: 1 }, 1),
          () => lake.scanEventTime(TOPIC, { fromMs: 0, toMs: Number.POSITIVE_INFINITY }, 1),
          () => lake.scanEventTime(TOPIC, { fromMs: 0, toMs: 1 }, -2),
          () => lake.scanEventTime(TOPIC, { fromMs: 0, toMs: 1 }, 1, { partition: 0, offset: 0.5 }),
        ]) {
          await expect(scan()).rejects.toMatchObject({ code: StoreErrorCode.badArgument });
        }
      });
    });

    describe("rows of the older format", () => {
      it("reads rows stored as JSON text through every scan, beside and over new ones", async () => {
        const legacy: LegacyRawRow[] = [0, 1].flatMap((partition) =>
          Array.from({ length: 5 }, (_, offset) => ({
            topic: TOPIC,
            partition,
            offset,
            event_time: T0 + offset * 1000,
            ingested_at: T0 + offset * 1000 + 5,
            json: JSON.stringify({ event_id: `old-${partition}-${offset}`, event_type: "VIEW" }),
          })),
        );
        await subject.writeLegacy(legacy);
        const old = legacy.map(
          (row): RawEventRow => ({
            topic: row.topic,
            partition: row.partition,
            offset: row.offset,
            event_time: row.event_time,
            ingested_at: row.ingested_at,
            value: utf8(row.json),
          }),
        );
        expect(await lake.scanAfter(TOPIC, new Map(), 100)).toEqual(old);
        expect(await lake.scanOffsets(TOPIC, 1, { fromOffset: 1, toOffset: 3 }, 100)).toEqual(
          old.slice(6, 8),
        );
        expect(await lake.scanEventTime(TOPIC, { fromMs: T0 + 3000, toMs: T0 + 9000 }, 100)).toEqual([
          old[3],
          old[4],
          old[8],
          old[9],
        ]);
        const registry = SchemaRegistry.open({ path: ":memory:" });
        try {
          const serde = new AvroSerde(registry);
          const [first] = await lake.scanAfter(TOPIC, new Map(), 1);
          expect(await decodeRawEvent(serde, first!)).toEqual({ event_id: "old-0-0", event_type: "VIEW" });
        } finally {
          registry.close();
        }

        // New rows after the old ones, and one old offset written again: the others stay as they were.
        const added = [raw({ partition: 0, offset: 5 }), raw({ partition: 0, offset: 6 })];
        const rewritten = raw({ partition: 1, offset: 2, value: utf8('{"v":2}') });
        await commit({ rawEvents: [...added, rewritten], checkpoints: [] });
        expect(await lake.scanAfter(TOPIC, new Map(), 100)).toEqual([
          ...old.slice(0, 5),
          ...added,
          ...old.slice(5, 7),
          rewritten,
          ...old.slice(8),
        ]);
      });
    });
  });
}

/** Rows (in order) as encoded runs, as the stream job hands them over. */
export function runsOf(rows: readonly RawEventRow[]): RawRun[] {
  const writer = new RawRunWriter();
  for (const r of rows) writer.append(r.topic, r.partition, r.offset, r.event_time, r.ingested_at, r.value);
  // Copies: the writer's buffer is reused after a reset.
  return writer.runs().map((run) => ({ ...run, bytes: Buffer.from(run.bytes) }));
}

/** A raw-lake row of user-activity at T0 + offset seconds, its value JSON text, with `overrides`. */
export function raw(overrides: Partial<RawEventRow> = {}): RawEventRow {
  const partition = overrides.partition ?? 0;
  const offset = overrides.offset ?? 0;
  return {
    topic: TOPIC,
    partition,
    offset,
    event_time: T0 + offset * 1000,
    ingested_at: T0 + offset * 1000 + 5,
    value: utf8(JSON.stringify({ event_id: `raw-${partition}-${offset}`, event_type: "CLICK" })),
    ...overrides,
  };
}

function checkpoint(partition: number, nextOffset: number): Checkpoint {
  return {
    job: "job-a",
    topic: TOPIC,
    partition,
    nextOffset,
    state: Uint8Array.of(partition),
    updatedAt: T0 + nextOffset,
  };
}

function utf8(text: string): Buffer {
  return Buffer.from(text, "utf8");
}
