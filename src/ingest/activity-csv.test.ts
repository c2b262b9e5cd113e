// Tests for the REES46 clickstream CSV replay: exact counts, ids, sums, and row-level rejections.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import avro from "avsc";
import { describe, expect, it, onTestFinished } from "vitest";
import type { UserActivity } from "../contracts/types.ts";
import {
  type ActivityCsvColumns,
  type ActivityCsvRecord,
  parseActivityCsvHeader,
  parseActivityCsvLine,
  replayActivityCsv,
} from "./activity-csv.ts";

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/activity/${name}`, import.meta.url));
const MULTI = fixture("rees46-multicategory-2019-10-01.csv");
const COSMETICS = fixture("rees46-cosmetics-derived-2022-10-01.csv");
const SCHEMA = avro.Type.forSchema(
  JSON.parse(readFileSync(new URL("../contracts/schemas/user-activity.v1.avsc", import.meta.url), "utf8")),
);
const TYPE_NAMES: Record<string, string> = {
  view: "VIEW",
  cart: "ADD_TO_CART",
  remove_from_cart: "REMOVE_FROM_CART",
  purchase: "PURCHASE",
};

async function replayAll(path: string, speed = 0): Promise<ActivityCsvRecord[]> {
  const out: ActivityCsvRecord[] = [];
  for await (const record of replayActivityCsv(path, { speed })) out.push(record);
  return out;
}

function okEvents(records: ActivityCsvRecord[]): UserActivity[] {
  return records.map((r) => {
    if (!r.ok) expect.unreachable(`${r.code}: ${r.message}`);
    return r.event;
  });
}

/** The independent count: a plain split of the file, no CSV parsing beyond the second comma. */
function plainCounts(path: string): { rows: number; types: Record<string, number>; distinctRows: number } {
  const rows = readFileSync(path, "utf8")
    .replaceAll("\r", "")
    .split("\n")
    .slice(1)
    .filter((l) => l !== "");
  const types: Record<string, number> = {};
  for (const row of rows) {
    const name = TYPE_NAMES[row.split(",")[1]!]!;
    types[name] = (types[name] ?? 0) + 1;
  }
  return { rows: rows.length, types, distinctRows: new Set(rows).size };
}

function countTypes(events: UserActivity[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.event_type] = (counts[e.event_type] ?? 0) + 1;
  return counts;
}

const cents = (events: UserActivity[]): number =>
  events.reduce((sum, e) => sum + (e.amount === null ? 0 : Math.round(e.amount * 100)), 0);

describe("replayActivityCsv over the REES46 fixtures", () => {
  it("maps the multi-category file (CRLF) one record per row with exact counts and sums", async () => {
    const records = await replayAll(MULTI);
    const events = okEvents(records);
    // tr -d '\r' < f | tail -n +2 | wc -l
    expect(events).toHaveLength(13_947);
    // tr -d '\r' < f | awk -F, 'NR>1{c[$2]++} END{for(k in c) print k,c[k]}'
    expect(countTypes(events)).toEqual({ VIEW: 13_656, ADD_TO_CART: 131, PURCHASE: 160 });
    // tr -d '\r' < f | tail -n +2 | sort -u | wc -l
    expect(new Set(events.map((e) => e.event_id)).size).toBe(13_943);
    // tr -d '\r' < f | awk -F, 'NR>1 && $2=="purchase"{s+=$7} END{printf "%.2f\n", s}'
    expect(cents(events)).toBe(4_810_440);
    const plain = plainCounts(MULTI);
    expect(events).toHaveLength(plain.rows);
    expect(countTypes(events)).toEqual(plain.types);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(plain.distinctRows);
    expect(records.map((r) => r.line)).toEqual(Array.from({ length: 13_947 }, (_, i) => i + 2));
  });

  it("maps the derived cosmetics file (LF, no trailing newline, 1-decimal prices)", async () => {
    const events = okEvents(await replayAll(COSMETICS));
    expect(events).toHaveLength(799);
    // awk -F, 'NR>1{c[$2]++} END{for(k in c) print k,c[k]}'
    expect(countTypes(events)).toEqual({ VIEW: 266, ADD_TO_CART: 217, REMOVE_FROM_CART: 200, PURCHASE: 116 });
    // tail -n +2 f | sort -u | wc -l
    expect(new Set(events.map((e) => e.event_id)).size).toBe(741);
    // awk -F, 'NR>1 && $2=="purchase"{s+=$4} END{printf "%.2f\n", s}'
    expect(cents(events)).toBe(44_465);
    const plain = plainCounts(COSMETICS);
    expect(countTypes(events)).toEqual(plain.types);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(plain.distinctRows);
  });

  it("produces records valid against the v1 Avro contract, amount and currency only on purchases", async () => {
    const uuidV5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const path of [MULTI, COSMETICS]) {
      const broken = okEvents(await replayAll(path)).filter(
        (e) =>
          !SCHEMA.isValid(e) ||
          (e.amount !== null) !== (e.event_type === "PURCHASE") ||
          e.currency !== (e.event_type === "PURCHASE" ? "USD" : null) ||
          !uuidV5.test(e.event_id),
      );
      expect(broken).toEqual([]);
    }
  });

  it("maps the first row field by field", async () => {
    const [first] = await replayAll(MULTI);
    expect(first).toEqual({
      line: 2,
      ok: true,
      event: {
        event_id: expect.any(String),
        user_id: "541312140",
        session_id: "72d76fde-8bb3-4e00-8c23-a032dfed738c",
        event_type: "VIEW",
        event_time: Date.UTC(2019, 9, 1, 0, 0, 0),
        page: "/product/44600062",
        referrer: null,
        device: "UNKNOWN",
        country: null,
        amount: null,
        currency: null,
      },
    });
  });

  it("paces by event_time: 1,488 s of events at speed 5000 take at least 297 ms", async () => {
    // The cosmetics file runs from 00:00:00 to 00:24:48 (SOURCES.md).
    const started = performance.now();
    expect(await replayAll(COSMETICS, 5000)).toHaveLength(799);
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeGreaterThanOrEqual(280);
    expect(elapsedMs).toBeLessThan(30_000);
  });

  it("throws PULSE_CSV_BAD_HEADER for a header without a needed column", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-csv-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "bad.csv");
    writeFileSync(path, "event_time,event_type,product_id,price,user_session\n");
    await expect(replayAll(path)).rejects.toMatchObject({ code: "PULSE_CSV_BAD_HEADER" });
    await expect(replayAll(join(dir, "missing.csv"))).rejects.toMatchObject({
      code: "PULSE_SOURCE_FILE_UNREADABLE",
    });
  });

  it("rejects bad rows with their line numbers and keeps going", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-csv-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "mixed.csv");
    writeFileSync(
      path,
      [
        "event_time,event_type,product_id,price,user_id,user_session",
        "2022-10-01 00:00:00 UTC,view,1,2.50,7,s1",
        "2022-10-01 00:00:01 UTC,wishlist,1,2.50,7,s1",
        "",
        "2022-10-01 00:00:02 UTC,purchase,1,2.50,7,s1",
      ].join("\n"),
    );
    const records = await replayAll(path);
    expect(records.map((r) => [r.line, r.ok ? r.event.event_type : r.code])).toEqual([
      [2, "VIEW"],
      [3, "PULSE_CSV_UNKNOWN_EVENT_TYPE"],
      [5, "PURCHASE"],
    ]);
  });
});

describe("replayActivityCsv line breaks", () => {
  const HEADER = "event_time,event_type,product_id,price,user_id,user_session";
  const rowOf = (i: number, pad: number): string =>
    `2022-10-01 00:00:00 UTC,view,${i},2.50,7,s${"x".repeat(pad)}`;

  async function linesOf(content: string): Promise<[number, string][]> {
    const dir = mkdtempSync(join(tmpdir(), "pulse-csv-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "rows.csv");
    writeFileSync(path, content);
    return (await replayAll(path)).map((r) => [r.line, r.ok ? r.event.page : r.code]);
  }

  it("reads CRLF, LF and lone-CR breaks alike, blank lines keeping their numbers", async () => {
    const rows = [HEADER, rowOf(1, 0), "", rowOf(2, 0), rowOf(3, 0)];
    const expected = [
      [2, "/product/1"],
      [4, "/product/2"],
      [5, "/product/3"],
    ];
    for (const eol of ["\r\n", "\n", "\r"]) {
      expect(await linesOf(rows.join(eol))).toEqual(expected);
      expect(await linesOf(rows.join(eol) + eol)).toEqual(expected);
    }
  });

  it("keeps a CRLF that straddles two reads of the file one line break", async () => {
    // Rows of one length, padded so that some row's CR is the last character of the first 256 KiB read.
    const read = 256 * 1024;
    let pad = 0;
    const rowLength = (p: number): number => rowOf(0, p).length + 2;
    while ((read - (HEADER.length + 2) - (rowLength(pad) - 1)) % rowLength(pad) !== 0) pad++;
    const count = Math.ceil((2 * read) / rowLength(pad));
    const content = [HEADER, ...Array.from({ length: count }, () => rowOf(0, pad))].join("\r\n");
    const lines = await linesOf(content);
    expect(lines).toHaveLength(count);
    expect(lines.map(([line]) => line)).toEqual(Array.from({ length: count }, (_, i) => i + 2));
  });
});

describe("parseActivityCsvLine", () => {
  const header = parseActivityCsvHeader("event_time,event_type,product_id,price,user_id,user_session\r");
  if (!header.ok) expect.unreachable(header.message);
  const columns: ActivityCsvColumns = header.ok ? header.columns : ({} as ActivityCsvColumns);
  const row = "2022-10-01 00:00:03 UTC,purchase,5773353,2.62,463240011,26dd6e6e-4dac-4778-8d2c-92e149dab885";

  it("gives a row the same id with or without CR, and a different row a different id", () => {
    const a = parseActivityCsvLine(row, columns, 2);
    const b = parseActivityCsvLine(`${row}\r`, columns, 9);
    const c = parseActivityCsvLine(row.replace("2.62", "2.63"), columns, 3);
    if (!a.ok || !b.ok || !c.ok) expect.unreachable("rows should parse");
    expect(a.event.event_id).toBe(b.event.event_id);
    expect(a.event.event_id).not.toBe(c.event.event_id);
    expect(a.event.amount).toBe(2.62);
  });

  it("reads simple double-quoted fields", () => {
    const result = parseActivityCsvLine(
      '"2022-10-01 00:00:03 UTC","view","57,73""353",2.62,463240011,"s"',
      columns,
      4,
    );
    expect(result).toMatchObject({ ok: true, event: { page: '/product/57,73"353', session_id: "s" } });
  });

  it.each([
    ["a missing field", "2022-10-01 00:00:03 UTC,view,1,2.62,463240011", "PULSE_CSV_BAD_ROW"],
    ["a bad time", "2022-10-01T00:00:03Z,view,1,2.62,463240011,s", "PULSE_CSV_BAD_EVENT_TIME"],
    // Found by the fuzz suite: Date.UTC rolled these over into other days and read year 0000 as 1900.
    ["a day that does not exist", "2019-02-29 00:00:03 UTC,view,1,2.62,5,s", "PULSE_CSV_BAD_EVENT_TIME"],
    ["hour 24", "2022-10-01 24:00:00 UTC,view,1,2.62,5,s", "PULSE_CSV_BAD_EVENT_TIME"],
    ["month 13", "2022-13-01 00:00:00 UTC,view,1,2.62,5,s", "PULSE_CSV_BAD_EVENT_TIME"],
    ["year 0000", "0000-01-01 00:00:00 UTC,view,1,2.62,5,s", "PULSE_CSV_BAD_EVENT_TIME"],
    ["an unknown type", "2022-10-01 00:00:03 UTC,VIEW,1,2.62,463240011,s", "PULSE_CSV_UNKNOWN_EVENT_TYPE"],
    [
      "a prototype key as type",
      "2022-10-01 00:00:03 UTC,constructor,1,2.62,463240011,s",
      "PULSE_CSV_UNKNOWN_EVENT_TYPE",
    ],
    ["an empty user", "2022-10-01 00:00:03 UTC,view,1,2.62,,s", "PULSE_CSV_MISSING_FIELD"],
    ["an empty session", "2022-10-01 00:00:03 UTC,view,1,2.62,5,", "PULSE_CSV_MISSING_FIELD"],
    ["a bad price", "2022-10-01 00:00:03 UTC,view,1,-2.62,5,s", "PULSE_CSV_BAD_PRICE"],
    ["a free purchase", "2022-10-01 00:00:03 UTC,purchase,1,0.00,5,s", "PULSE_CSV_BAD_PRICE"],
  ])("rejects %s", (_name, line, code) => {
    const result = parseActivityCsvLine(line, columns, 12);
    expect(result).toMatchObject({ ok: false, line: 12, code, raw: line });
    if (!result.ok) expect(result.message).toMatch(/^line 12: /);
  });
});
