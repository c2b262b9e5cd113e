// The Spark bench's input: the real REES46 fixture rows repeated with shifted times and session suffixes, 1% exact duplicates, as one CSV and as numbered files.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseActivityCsvHeader, parseActivityCsvLine } from "../../src/ingest/activity-csv.ts";

/** Pulse's window length and watermark delay in this bench (pulse stream --window 1m --out-of-orderness 10m). */
export const WINDOW_MS = 60_000;
export const WATERMARK_DELAY_MS = 10 * 60_000;
/** One row in this many is written twice in a row: the 1% exact duplicates every engine must drop. */
const DUPLICATE_EVERY = 100;

/*
 * Row grammar of the generated files (the fixture's columns, then the bench's own):
 *   header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session,event_id"
 *   event_id = 40 hex digits: SHA-1 of the row's text before it
 * Copy k of the fixture has its times shifted by k whole spans (the fixture's time range rounded up to whole
 * minutes, plus one), so windows never mix copies, and "-k" appended to user_session. Only rows Pulse's
 * parser accepts are taken, so the engines see the same events. Exact duplicates share every byte, hence
 * their event_id and Pulse's own id (a hash of the whole row): the three engines drop the same rows.
 */
export const HEADER =
  "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session,event_id";

export interface FixtureRow {
  eventTimeMs: number;
  /** The fixture's fields in HEADER order, event_time and user_session to be replaced per copy. */
  fields: string[];
}

/** The fixture's rows Pulse accepts, in file order. */
export function readFixture(path: string): FixtureRow[] {
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  const header = parseActivityCsvHeader(lines[0]!);
  if (!header.ok) throw new Error(`${path}: ${header.message}`);
  const names = lines[0]!.replace(/\r$/, "").split(",");
  const order = HEADER.split(",")
    .slice(0, -1)
    .map((name) => names.indexOf(name));
  if (order.some((i) => i < 0)) throw new Error(`${path}: expected the columns ${HEADER}`);
  const rows: FixtureRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const parsed = parseActivityCsvLine(line, header.columns, i + 1);
    if (!parsed.ok) continue;
    const fields = line.split(",");
    rows.push({ eventTimeMs: parsed.event.event_time, fields: order.map((j) => fields[j]!) });
  }
  return rows;
}

export function formatEventTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** One generated row: the fields with this time and session, then the event_id. */
export function csvRow(row: FixtureRow, eventTimeMs: number, sessionSuffix: string): string {
  const fields = [...row.fields];
  fields[0] = formatEventTime(eventTimeMs);
  fields[8] = `${fields[8]}${sessionSuffix}`;
  const text = fields.join(",");
  return `${text},${createHash("sha1").update(text).digest("hex")}`;
}

export interface BenchInput {
  /** The whole input under one header, for `pulse produce activity --replay` and DuckDB. */
  csv: string;
  /** Folder of numbered files (header each), Spark's file source; the sentinel is written later. */
  filesDir: string;
  files: number;
  /** Rows, duplicates included. */
  rows: number;
  /** Event time of the last row. */
  lastEventTimeMs: number;
}

/** Writes `rows` rows (duplicates included) in `dir`: one CSV, and files of `rowsPerFile` rows. */
export function writeBenchInput(
  fixture: readonly FixtureRow[],
  dir: string,
  rows: number,
  rowsPerFile: number,
): BenchInput {
  const first = Math.min(...fixture.map((r) => r.eventTimeMs));
  const last = Math.max(...fixture.map((r) => r.eventTimeMs));
  const spanMs = (Math.floor((last - first) / WINDOW_MS) + 2) * WINDOW_MS;
  const out: string[] = [];
  let lastEventTimeMs = first;
  for (let copy = 0, i = 0; out.length < rows; copy++) {
    for (const row of fixture) {
      if (out.length >= rows) break;
      lastEventTimeMs = row.eventTimeMs + copy * spanMs;
      const line = csvRow(row, lastEventTimeMs, `-${copy}`);
      out.push(line);
      if (++i % DUPLICATE_EVERY === 0 && out.length < rows) out.push(line);
    }
  }
  const csv = join(dir, "input.csv");
  writeFileSync(csv, `${HEADER}\n${out.join("\n")}\n`);
  const filesDir = join(dir, "files");
  mkdirSync(filesDir, { recursive: true });
  const files = Math.ceil(out.length / rowsPerFile);
  // The file source takes files in modification-time order: one second apart, in row order.
  const baseS = Math.floor(Date.now() / 1000) - files - 10;
  for (let f = 0; f < files; f++) {
    const path = join(filesDir, fileName(f));
    writeFileSync(path, `${HEADER}\n${out.slice(f * rowsPerFile, (f + 1) * rowsPerFile).join("\n")}\n`);
    utimesSync(path, baseS + f, baseS + f);
  }
  return { csv, filesDir, files, rows: out.length, lastEventTimeMs };
}

export function fileName(index: number): string {
  return `part-${String(index).padStart(5, "0")}.csv`;
}

/**
 * The event that ends Spark's run: its time moves the watermark a minute past the end of the last window,
 * so every window is written. Its window is never final, so no engine reports it.
 */
export function sentinel(lastEventTimeMs: number): {
  eventTimeMs: number;
  stopWatermarkMs: number;
  row: string;
} {
  const lastEnd = (Math.floor(lastEventTimeMs / WINDOW_MS) + 1) * WINDOW_MS;
  const eventTimeMs = lastEnd + WINDOW_MS + WATERMARK_DELAY_MS;
  const text = `${formatEventTime(eventTimeMs)},view,0,0,,,1.00,0,sentinel`;
  return {
    eventTimeMs,
    stopWatermarkMs: eventTimeMs - WATERMARK_DELAY_MS,
    row: `${text},${createHash("sha1").update(text).digest("hex")}`,
  };
}

/** Writes the sentinel as the folder's last file (its modification time after every other). */
export function writeSentinel(input: BenchInput, row: string): void {
  const path = join(input.filesDir, fileName(input.files));
  writeFileSync(path, `${HEADER}\n${row}\n`);
}
