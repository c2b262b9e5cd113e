// RawRunWriter: raw-lake rows written straight into encoded runs, split where a stored batch must end.
import { describe, expect, it } from "vitest";
import type { RawEventRow } from "./index.ts";
import { checkRawRun, decodeRawBatch, RawRunWriter } from "./batch.ts";

function row(topic: string, partition: number, offset: number, size = 10): RawEventRow {
  return {
    topic,
    partition,
    offset,
    event_time: 1_800_000_000_000 + offset,
    ingested_at: 1_800_000_000_500,
    value: Buffer.alloc(size, offset % 251),
  };
}

function write(writer: RawRunWriter, rows: readonly RawEventRow[]): void {
  for (const r of rows) writer.append(r.topic, r.partition, r.offset, r.event_time, r.ingested_at, r.value);
}

/** Every run read back as rows, with copies of the values. */
function readBack(writer: RawRunWriter): { where: string; rows: RawEventRow[] }[] {
  return writer.runs().map((run) => ({
    where: `${run.topic}/${run.partition}`,
    rows: decodeRawBatch(Buffer.from(run.bytes), run.topic, run.partition),
  }));
}

describe("RawRunWriter", () => {
  it("ends a run where the topic or partition changes or the offset does not increase", () => {
    const writer = new RawRunWriter();
    const rows = [
      row("a", 0, 5),
      row("a", 0, 7),
      row("a", 1, 1),
      row("b", 1, 2),
      row("b", 1, 2),
      row("b", 1, 9),
      row("a", 0, 8),
    ];
    write(writer, rows);
    expect(writer.rows).toBe(7);
    const runs = readBack(writer);
    expect(runs.map((r) => [r.where, r.rows.map((x) => x.offset)])).toEqual([
      ["a/0", [5, 7]],
      ["a/1", [1]],
      ["b/1", [2]],
      ["b/1", [2, 9]],
      ["a/0", [8]],
    ]);
    expect(runs.flatMap((r) => r.rows)).toEqual(rows);
    for (const run of writer.runs()) {
      const checked = checkRawRun(run, 2 ** 41 - 1);
      expect(checked.count).toBe(decodeRawBatch(checked.bytes, run.topic, run.partition).length);
    }
  });

  it("keeps each run under a megabyte, a larger record in a run of its own, across buffer growth", () => {
    const writer = new RawRunWriter();
    const rows: RawEventRow[] = [];
    for (let offset = 0; offset < 30_000; offset++) rows.push(row("t", 0, offset, 200));
    rows.push(row("t", 0, 30_000, 3 << 20));
    rows.push(row("t", 0, 30_001, 50));
    write(writer, rows);
    const runs = writer.runs();
    for (const run of runs) {
      if (decodeRawBatch(Buffer.from(run.bytes), "t", 0).length > 1)
        expect(run.bytes.length).toBeLessThanOrEqual(1 << 20);
    }
    expect(runs.length).toBeGreaterThanOrEqual(7);
    // Compared as text: deep equality over 30,000 Buffers is slow.
    const text = (r: RawEventRow) =>
      `${r.offset} ${r.event_time} ${r.ingested_at} ${Buffer.from(r.value).toString("base64")}`;
    expect(
      readBack(writer)
        .flatMap((r) => r.rows)
        .map(text),
    ).toEqual(rows.map(text));
  });

  it("starts over after reset, its earlier runs given up", () => {
    const writer = new RawRunWriter();
    write(writer, [row("t", 0, 1), row("t", 0, 2)]);
    expect(writer.runs()).toHaveLength(1);
    writer.reset();
    expect(writer.rows).toBe(0);
    expect(writer.runs()).toEqual([]);
    write(writer, [row("t", 3, 4)]);
    expect(readBack(writer)).toEqual([{ where: "t/3", rows: [row("t", 3, 4)] }]);
  });
});
