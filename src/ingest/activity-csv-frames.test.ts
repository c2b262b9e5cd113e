// The unpaced REES46 replay's frames held to the object path: the same bytes, keys and rejections, row for row.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { SCHEMA_TEXTS, subjectFor } from "../contracts/schemas.ts";
import { TOPICS, type UserActivityV2 } from "../contracts/types.ts";
import { SchemaRegistry } from "../registry/embedded/registry.ts";
import { AvroSerde } from "../serde/index.ts";
import { replayActivityCsv } from "./activity-csv.ts";
import { CsvFrame, readActivityCsvFrames } from "./activity-csv-frames.ts";

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/activity/${name}`, import.meta.url));

/** Each row as the log would get it: key and value bytes in hex, or "rejected: <raw line>". */
type Row = string;

async function serde(): Promise<{ id: number; encode: (e: UserActivityV2) => Buffer }> {
  const registry = SchemaRegistry.open({ path: ":memory:" });
  onTestFinished(() => registry.close());
  const s = new AvroSerde(registry);
  const subject = subjectFor(TOPICS.activity);
  const encode = await s.encoder<UserActivityV2>(subject, SCHEMA_TEXTS.userActivityV2);
  return { id: await s.schemaId(subject, SCHEMA_TEXTS.userActivityV2), encode };
}

function describeItem(item: unknown, encode: (e: UserActivityV2) => Buffer, framed: { n: number }): Row {
  if (item instanceof CsvFrame) {
    framed.n++;
    return `${item.key.toString("hex")} ${item.value.toString("hex")}`;
  }
  if (typeof item === "string") return `rejected: ${item}`;
  const e = item as UserActivityV2;
  return `${Buffer.from(e.user_id, "utf8").toString("hex")} ${encode(e).toString("hex")}`;
}

async function objectPath(path: string, encode: (e: UserActivityV2) => Buffer): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of replayActivityCsv(path)) {
    rows.push(describeItem(r.ok ? r.event : r.raw, encode, { n: 0 }));
  }
  return rows;
}

async function framePath(
  path: string,
  s: { id: number; encode: (e: UserActivityV2) => Buffer },
  chunkBytes?: number,
): Promise<{ rows: Row[]; framed: number; raws: unknown[] }> {
  const framed = { n: 0 };
  const rows: Row[] = [];
  const raws: unknown[] = [];
  for await (const items of readActivityCsvFrames(path, { schemaId: s.id, chunkBytes })) {
    for (const item of items) {
      rows.push(describeItem(item, s.encode, framed));
      if (item instanceof CsvFrame) raws.push(item.raw());
    }
  }
  return { rows, framed: framed.n, raws };
}

function tempCsv(text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-csv-frames-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "rows.csv");
  writeFileSync(path, text);
  return path;
}

describe("readActivityCsvFrames", () => {
  it.each([["rees46-multicategory-2019-10-01.csv"], ["rees46-cosmetics-derived-2022-10-01.csv"]])(
    "gives the object path's bytes and keys for every row of %s",
    async (name) => {
      const s = await serde();
      const expected = await objectPath(fixture(name), s.encode);
      const got = await framePath(fixture(name), s);
      expect(got.rows.length).toBe(expected.length);
      expect(got.rows).toEqual(expected);
      // The fixtures' rows are clean: every one is a frame, none took the object path.
      expect(got.framed).toBe(expected.length);
    },
  );

  it("defers every row it cannot judge to the object path, with its line number, across any chunk cut", async () => {
    const header =
      "\uFEFFevent_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";
    const good = (i: number, type = "view", price = "1.50") =>
      `2019-10-01 00:0${i % 10}:0${i % 6} UTC,${type},${100 + i},7,,brand,${price},${500 + i},s-${i}`;
    const lines = [
      header,
      good(1),
      good(2, "purchase", "12.30"),
      "",
      good(3, "cart", "0"),
      good(4, "purchase", "0"), // a purchase at price 0: rejected
      '2019-10-01 00:00:05 UTC,view,"1,2",7,,"q""b",2.00,501,s-5', // quoted fields: the object path
      "2019-10-01 00:00:06 UTC,view,106,7,,brànd,2.00,506,s-6", // non-ASCII: the object path
      "2019-10-01 00:00:07 UTC,view,107,7,,b,2.00,507", // a field short: rejected
      "2019-10-01 00:00:08 UTC,click,108,7,,b,2.00,508,s-8", // an unknown type: rejected
      "2019-13-41 25:61:61 UTC,view,109,7,,b,2.00,509,s-9", // a time that does not exist: rejected
      "2019-02-29 00:00:09 UTC,view,109,7,,b,2.00,509,s-9", // not a leap year: rejected
      "2020-02-29 23:59:59 UTC,view,109,7,,b,2.00,509,s-9", // a leap day
      "2019-10-01T00:00:10Z,view,110,7,,b,2.00,510,s-10", // another time format: rejected
      "2019-10-01 00:00:11 UTC,view,111,7,,b,1.,511,s-11", // a price without decimals after the point
      "2019-10-01 00:00:12 UTC,view,,7,,b,1.00,512,s-12", // no product_id
      good(13, "remove_from_cart", "3"),
    ];
    const s = await serde();
    for (const [name, eol] of [
      ["LF", "\n"],
      ["CRLF", "\r\n"],
      ["CR", "\r"],
    ] as const) {
      // No line break after the last line.
      const path = tempCsv(lines.join(eol));
      const expected = await objectPath(path, s.encode);
      expect(expected.filter((row) => row.startsWith("rejected: ")).length, name).toBe(8);
      for (const chunkBytes of [7, 64, 1 << 20]) {
        const got = await framePath(path, s, chunkBytes);
        expect(got.rows, `${name}, chunks of ${chunkBytes}`).toEqual(expected);
        expect(got.framed, `${name}, chunks of ${chunkBytes}`).toBe(5);
      }
    }
  });

  it("gives, through raw(), the event the object path parses from the same row", async () => {
    const s = await serde();
    const path = fixture("rees46-cosmetics-derived-2022-10-01.csv");
    const events: unknown[] = [];
    for await (const r of replayActivityCsv(path)) if (r.ok) events.push(r.event);
    expect((await framePath(path, s)).raws).toEqual(events);
  });

  it("refuses a header without the needed columns, naming the file and line", async () => {
    const s = await serde();
    const path = tempCsv("event_time,event_type,price\n2019-10-01 00:00:00 UTC,view,1\n");
    await expect(framePath(path, s)).rejects.toMatchObject({
      code: "PULSE_CSV_BAD_HEADER",
      location: { file: path, line: 1 },
    });
  });
});
