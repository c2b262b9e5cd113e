// The MongoDB lake's layout of a commit's rows: runs kept as they are, rows encoded, overlaps resolved, large runs split.
import { describe, expect, it } from "vitest";
import { StoreErrorCode } from "../../errors.ts";
import { decodeRawBatch, RawBatchEncoder, RawRunWriter } from "../batch.ts";
import type { RawEventRow } from "../index.ts";
import { MAX_RECORDS_BYTES } from "./documents.ts";
import { planLakeAppend } from "./plan.ts";

const T0 = Date.UTC(2026, 11, 7);

function row(partition: number, offset: number, value: Buffer = Buffer.from(`{"o":${offset}}`)): RawEventRow {
  return { topic: "t", partition, offset, event_time: T0 + (offset % 7) * 1000, ingested_at: T0, value };
}

/** Rows (one partition, offsets increasing) as one raw-lake batch of any size (src/lake/batch.ts's layout). */
function batchOf(rows: readonly RawEventRow[]): Buffer {
  const head = Buffer.from([2, 0, 0, 0, 0]);
  head.writeUInt32LE(rows.length, 1);
  const parts = [head];
  for (const r of rows) {
    const header = Buffer.alloc(28);
    header.writeDoubleLE(r.offset, 0);
    header.writeDoubleLE(r.event_time, 8);
    header.writeDoubleLE(r.ingested_at, 16);
    header.writeUInt32LE(r.value.length, 24);
    parts.push(header, Buffer.from(r.value));
  }
  return Buffer.concat(parts);
}

const rowsOf = (bytes: Buffer) => decodeRawBatch(bytes, "t", 0).map((r) => r.offset);

describe("planLakeAppend", () => {
  it("keeps the stream job's runs as they are, with their offset range, count and event-time bounds", () => {
    const writer = new RawRunWriter();
    for (let offset = 0; offset < 10; offset++) {
      const r = row(offset < 5 ? 0 : 1, offset);
      writer.append(r.topic, r.partition, r.offset, r.event_time, r.ingested_at, r.value);
    }
    const runs = writer.runs();
    const [p0, p1] = planLakeAppend({ rawRuns: runs }, new RawBatchEncoder());
    expect(p0).toMatchObject({ topic: "t", partition: 0 });
    expect(p0!.pieces).toHaveLength(1);
    expect(p0!.pieces[0]).toMatchObject({ first_offset: 0, last_offset: 4, count: 5, min_event_time: T0 });
    expect(p0!.pieces[0]!.max_event_time).toBe(T0 + 4000);
    expect(p0!.pieces[0]!.records).toBe(runs[0]!.bytes);
    expect(p1!.pieces[0]).toMatchObject({ first_offset: 5, last_offset: 9, count: 5 });
  });

  it("resolves a partition's overlapping input by offset, the later write winning", () => {
    const [plan] = planLakeAppend(
      {
        rawEvents: [row(0, 3), row(0, 1), row(0, 2, Buffer.from("old"))],
        rawRuns: [{ topic: "t", partition: 0, bytes: batchOf([row(0, 2, Buffer.from("new")), row(0, 4)]) }],
      },
      new RawBatchEncoder(),
    );
    expect(plan!.pieces).toHaveLength(1);
    const rows = decodeRawBatch(plan!.pieces[0]!.records, "t", 0);
    expect(rows.map((r) => r.offset)).toEqual([1, 2, 3, 4]);
    expect(rows[1]!.value.toString()).toBe("new");
  });

  it("splits a run too large for one document, and refuses a row too large for one", () => {
    // 13 rows of 1 MiB: a run past the records a document takes.
    const big = Array.from({ length: 13 }, (_, offset) => row(0, offset, Buffer.alloc(1 << 20, offset)));
    const bytes = batchOf(big);
    expect(bytes.length).toBeGreaterThan(MAX_RECORDS_BYTES);
    const [plan] = planLakeAppend({ rawRuns: [{ topic: "t", partition: 0, bytes }] }, new RawBatchEncoder());
    expect(plan!.pieces.length).toBeGreaterThan(1);
    for (const piece of plan!.pieces) expect(piece.records.length).toBeLessThan(MAX_RECORDS_BYTES);
    expect(plan!.pieces.flatMap((piece) => rowsOf(piece.records))).toEqual(big.map((r) => r.offset));

    const huge = batchOf([row(0, 0, Buffer.alloc(MAX_RECORDS_BYTES))]);
    expect(() =>
      planLakeAppend({ rawRuns: [{ topic: "t", partition: 0, bytes: huge }] }, new RawBatchEncoder()),
    ).toThrow(expect.objectContaining({ code: StoreErrorCode.badArgument }));
  });
});
