// Fuzzes REES46 CSV headers and rows: each becomes an activity event of the contract or a CSV code.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, it } from "vitest";
import { userActivityV1Type } from "../../src/contracts/schemas.ts";
import { CsvErrorCode } from "../../src/errors.ts";
import {
  type ActivityCsvColumns,
  parseActivityCsvHeader,
  parseActivityCsvLine,
} from "../../src/ingest/activity-csv.ts";
import { CsvFrame, activityCsvFramesOf } from "../../src/ingest/activity-csv-frames.ts";
import { projectFile } from "../../src/paths.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";
import { SCHEMA_TEXTS, subjectFor } from "../../src/contracts/schemas.ts";
import { TOPICS, type UserActivityV2 } from "../../src/contracts/types.ts";
import { checkBudget, FUZZ_RUNS, fuzzText, runs } from "./fuzz.ts";

function fixture(file: string): { header: string; rows: string[] } {
  const lines = readFileSync(projectFile(`fixtures/activity/${file}`), "utf8")
    .split("\n")
    .filter(Boolean);
  // A few rows of each event type.
  const rows = ["view", "cart", "remove_from_cart", "purchase"].flatMap((type) =>
    lines.filter((line) => line.includes(`,${type},`)).slice(0, 3),
  );
  return { header: lines[0]!, rows };
}

const FILES = [
  fixture("rees46-multicategory-2019-10-01.csv"),
  fixture("rees46-cosmetics-derived-2022-10-01.csv"),
];
/** Rows with quoted fields, edge dates and prices, as other exports write them. */
const EXTRA_ROWS = [
  '2019-10-01 00:00:00 UTC,purchase,1,2,"electronics,smartphone","a ""b""",0.4,5,s\r',
  "2020-02-29 23:59:59 UTC,view,1,2,,,0,5,s",
  "1999-12-31 23:59:59 UTC,cart,1,2,,,10,5,s",
];
const CSV_CODES = new Set<string>(Object.values(CsvErrorCode));

function columnsOf(header: string): ActivityCsvColumns {
  const parsed = parseActivityCsvHeader(header);
  assert.ok(parsed.ok);
  return parsed.columns;
}

const MULTI = columnsOf(FILES[0]!.header);
const COSMETICS = columnsOf(FILES[1]!.header);

/** Checks one row's outcome: an event the Avro contract takes, whose time reads back as the row wrote it. */
function checkRow(line: string, columns: ActivityCsvColumns): void {
  const started = performance.now();
  const record = parseActivityCsvLine(line, columns, 7);
  assert.equal(record.line, 7);
  if (!record.ok) {
    assert.ok(CSV_CODES.has(record.code), record.code);
    assert.ok(record.message.startsWith("line 7: "));
  } else {
    const { event } = record;
    assert.ok(userActivityV1Type.isValid(event), "the row gave an event the contract cannot encode");
    // event_time is the row's own date and time, not a date rolled over from an impossible one.
    const iso = new Date(event.event_time).toISOString();
    const written = line.split(",")[columns.eventTime]!.replace(/^"|"$/g, "");
    assert.equal(`${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`, written);
    if (event.event_type === "PURCHASE") assert.ok(event.amount !== null && event.amount > 0);
  }
  checkBudget(started);
}

describe("fuzz: REES46 CSV", () => {
  it("any header is found or rejected with PULSE_CSV_BAD_HEADER", () => {
    const headers = FILES.map((f) => f.header);
    fc.assert(
      fc.property(fuzzText(headers, 200), (header) => {
        const parsed = parseActivityCsvHeader(header);
        if (!parsed.ok) assert.equal(parsed.code, CsvErrorCode.badHeader);
        else assert.ok(Object.values(parsed.columns).every((i) => Number.isInteger(i) && i >= 0));
      }),
      runs(401),
    );
  });

  it("any row of the multicategory layout is an event or a CSV code", () => {
    fc.assert(
      fc.property(fuzzText([...FILES[0]!.rows, ...EXTRA_ROWS], 300), (line) => checkRow(line, MULTI)),
      runs(402),
    );
  });

  it("any row of the cosmetics layout is an event or a CSV code", () => {
    fc.assert(
      fc.property(fuzzText(FILES[1]!.rows, 300), (line) => checkRow(line, COSMETICS)),
      runs(403),
    );
  });

  it("rows with each date and time field set to any two or four digits are valid dates or PULSE_CSV_BAD_EVENT_TIME", () => {
    const digits = (n: number) =>
      fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, "0"));
    fc.assert(
      fc.property(
        fc.tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2)),
        ([y, mo, d, h, mi, s]) => {
          const line = `${y}-${mo}-${d} ${h}:${mi}:${s} UTC,view,5773203,2.62,463240011,26dd6e6e`;
          checkRow(line, COSMETICS);
        },
      ),
      runs(404),
    );
  });
});

describe("fuzz: REES46 CSV rows as frames", () => {
  it("encodes any row from its bytes exactly as the object path parses and encodes it, or defers to it", async () => {
    const registry = SchemaRegistry.open({ path: ":memory:" });
    const serde = new AvroSerde(registry);
    const subject = subjectFor(TOPICS.activity);
    const encode = await serde.encoder<UserActivityV2>(subject, SCHEMA_TEXTS.userActivityV2);
    const schemaId = await serde.schemaId(subject, SCHEMA_TEXTS.userActivityV2);
    const header = FILES[0]!.header;
    const seen = { frames: 0, deferred: 0 };
    try {
      fc.assert(
        fc.property(
          fuzzText([...FILES[0]!.rows, ...EXTRA_ROWS.map((r) => r.replace("\r", ""))], 300),
          (row) => {
            // One line: a line break inside the text would make it two rows on both paths.
            // A file holds UTF-8: a lone surrogate reads back as U+FFFD, on both paths.
            const line = Buffer.from(row.replace(/[\r\n]/g, ""), "utf8").toString("utf8");
            const items = activityCsvFramesOf(Buffer.from(`${header}\n${line}\n`, "utf8"), schemaId);
            if (line.length === 0) return assert.equal(items.length, 0);
            assert.equal(items.length, 1);
            const record = parseActivityCsvLine(line, MULTI, 2);
            const item = items[0];
            if (item instanceof CsvFrame) {
              seen.frames++;
              assert.ok(record.ok, "a frame for a row the object path rejects");
              assert.deepEqual(item.value, encode(record.event as UserActivityV2));
              assert.deepEqual(item.key, Buffer.from(record.event.user_id, "utf8"));
              assert.deepEqual(item.raw(), record.event);
            } else {
              seen.deferred++;
              assert.deepEqual(item, record.ok ? record.event : record.raw);
            }
          },
        ),
        runs(405),
      );
      // The cases reach both paths: rows still clean after mutation, and rows that are not.
      assert.ok(seen.frames > FUZZ_RUNS / 20 && seen.deferred > FUZZ_RUNS / 20, JSON.stringify(seen));
    } finally {
      registry.close();
    }
  });
});
