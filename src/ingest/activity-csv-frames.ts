// Encodes REES46 CSV rows straight from the file's bytes into UserActivity v2 frames, for an unpaced replay.

import { createReadStream } from "node:fs";
import { DEVICE_INDEX, EVENT_TYPE_INDEX } from "../contracts/activity-shape.ts";
import { calendarDateExists } from "../contracts/validate.ts";
import { writeUuidText } from "../bytes.ts";
import { SourceError } from "../errors.ts";
import { writeLong } from "../serde/activity-writer.ts";
import { writeHeader } from "../serde/wire-format.ts";
import {
  type ActivityCsvColumns,
  PULSE_CSV_NAMESPACE,
  parseActivityCsvHeader,
  parseActivityCsvLine,
  v5UuidBytes,
} from "./activity-csv.ts";
import { EncodedRecord } from "./producer.ts";
import { sourceFileError } from "./source-file.ts";

/*
 * The fast path of `pulse produce activity --replay --speed 0`. A clean row (ASCII, no quotes, as many
 * fields as the header, a well-formed time, a known type, a price, non-empty ids) is written as the Avro
 * frame the object path writes for it (parseActivityCsvLine, then the producer's encoder), byte for byte,
 * keyed by its user_id's bytes: no object, no string per row. Any other row takes the object path, so
 * rejections and their messages are the same. activity-csv-frames.test.ts holds the two paths' bytes equal.
 */

/** One row the object path handles: the event parseActivityCsvLine made, or the raw line it rejected. */
export type ActivityCsvItem = CsvFrame | unknown;

/** A row encoded from its bytes; raw() parses it the object path's way when the producer's check fails. */
export class CsvFrame extends EncodedRecord {
  readonly #source: Buffer;
  readonly #start: number;
  readonly #end: number;
  readonly #columns: ActivityCsvColumns;
  readonly #lineNumber: number;

  constructor(
    key: Buffer,
    value: Buffer,
    source: Buffer,
    start: number,
    end: number,
    columns: ActivityCsvColumns,
    lineNumber: number,
  ) {
    super(key, value);
    this.#source = source;
    this.#start = start;
    this.#end = end;
    this.#columns = columns;
    this.#lineNumber = lineNumber;
  }

  raw(): unknown {
    const line = this.#source.toString("utf8", this.#start, this.#end);
    const record = parseActivityCsvLine(line, this.#columns, this.#lineNumber);
    return record.ok ? record.event : record.raw;
  }
}

export interface ActivityCsvFramesOptions {
  /** The registry id of UserActivity v2 under the producer's subject: the frames' header. */
  schemaId: number;
  signal?: AbortSignal;
  /** Bytes read at a time (default 256 KiB); tests make it small to cut lines and line breaks. */
  chunkBytes?: number;
}

const CHUNK_BYTES = 256 * 1024;
/** Fresh frame memory is taken this much at a time; frames are views into it until the log has them. */
const SLAB_BYTES = 512 * 1024;
/** A frame's bytes besides the row's own: header, 36-character id, lengths, enums, time, unions, price. */
const FRAME_OVERHEAD = 5 + 37 + 3 * 5 + 2 + 10 + 9 + 3 + 9 + 5 + 1;

const LF = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;

const PAGE_PREFIX = Buffer.from("/product/", "latin1");
const USD = Buffer.from("USD", "latin1");

/** The event types by their CSV spelling's length and first byte, with their Avro enum index. */
const TYPES: ReadonlyArray<{ text: Buffer; index: number; purchase: boolean }> = [
  ["view", "VIEW"],
  ["cart", "ADD_TO_CART"],
  ["remove_from_cart", "REMOVE_FROM_CART"],
  ["purchase", "PURCHASE"],
].map(([text, type]) => ({
  text: Buffer.from(text!, "latin1"),
  index: EVENT_TYPE_INDEX.get(type!)!,
  purchase: type === "PURCHASE",
}));
const UNKNOWN_DEVICE = DEVICE_INDEX.get("UNKNOWN")!;

/**
 * Yields the rows of a REES46 CSV a chunk at a time, in file order: CsvFrame for each clean row, and for
 * any other the object path's answer (the event, or the raw line for a rejection). Blank lines are
 * skipped. A header without the needed columns, or an unreadable file, throws a SourceError.
 */
export async function* readActivityCsvFrames(
  path: string,
  options: ActivityCsvFramesOptions,
): AsyncGenerator<ActivityCsvItem[]> {
  const encoder = new RowEncoder(options.schemaId);
  const input = createReadStream(path, { highWaterMark: options.chunkBytes ?? CHUNK_BYTES });
  let rest: Buffer | undefined;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (options.signal?.aborted) return;
      const text = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      const items: ActivityCsvItem[] = [];
      // A CR that ends the chunk may be the first half of a CRLF: its line waits for the next chunk.
      const end = encoder.lines(
        text,
        text[text.length - 1] === CR ? text.length - 1 : text.length,
        items,
        path,
      );
      rest = end < text.length ? text.subarray(end) : undefined;
      if (items.length > 0) yield items;
    }
    if (rest !== undefined && rest.length > 0) {
      const items: ActivityCsvItem[] = [];
      encoder.lastLine(rest, items, path);
      if (items.length > 0) yield items;
    }
  } catch (error) {
    throw sourceFileError(error, "activity CSV", path);
  } finally {
    input.destroy();
  }
}

/** readActivityCsvFrames over a whole CSV in memory, its rows' items in file order. */
export function activityCsvFramesOf(csv: Buffer, schemaId: number, path = "<memory>"): ActivityCsvItem[] {
  const items: ActivityCsvItem[] = [];
  new RowEncoder(schemaId).lastLine(csv, items, path);
  return items;
}

/** The line and row state of one file: the header's columns, the line count, the frame slab. */
class RowEncoder {
  readonly #schemaId: number;
  #columns: ActivityCsvColumns | undefined;
  #lineNumber = 0;
  /** Start and end of each field of the row being encoded. */
  #starts = new Int32Array(16);
  #ends = new Int32Array(16);
  #slab = Buffer.allocUnsafe(0);
  #used = 0;
  #hashInput = Buffer.allocUnsafe(1024);
  /** The last event_time date's 10 bytes and its midnight, so most rows parse only the clock. */
  #date = Buffer.alloc(10);
  #dateMs = Number.NaN;

  constructor(schemaId: number) {
    this.#schemaId = schemaId;
    PULSE_CSV_NAMESPACE.copy(this.#hashInput);
  }

  /**
   * Encodes the whole lines of buf[0 … limit) into `items` (line breaks as readline's: CRLF, LF or a lone
   * CR); returns where the unfinished last line starts.
   */
  lines(buf: Buffer, limit: number, items: ActivityCsvItem[], path: string): number {
    let start = 0;
    // The next CR at or after start (−1: none left): searched again only once passed, so a file without
    // CRs is scanned for them once a chunk.
    let cr = buf.indexOf(CR, 0);
    while (start < limit) {
      let lf = buf.indexOf(LF, start);
      if (lf < 0 || lf >= limit) lf = -1;
      if (cr >= 0 && cr < start) cr = buf.indexOf(CR, start);
      let end: number;
      let next: number;
      if (cr >= 0 && cr < limit && (lf < 0 || cr < lf)) {
        end = cr;
        next = cr + 1 < buf.length && buf[cr + 1] === LF ? cr + 2 : cr + 1;
      } else if (lf >= 0) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      this.#line(buf, start, end, items, path);
      start = next;
    }
    return start;
  }

  /** The file's last line, without a line break after it. */
  lastLine(buf: Buffer, items: ActivityCsvItem[], path: string): void {
    const end = this.lines(buf, buf.length, items, path);
    if (end < buf.length)
      this.#line(buf, end, buf[buf.length - 1] === CR ? buf.length - 1 : buf.length, items, path);
  }

  #line(buf: Buffer, start: number, end: number, items: ActivityCsvItem[], path: string): void {
    this.#lineNumber++;
    const columns = this.#columns;
    if (columns === undefined) {
      const header = parseActivityCsvHeader(buf.toString("utf8", start, end));
      if (!header.ok) {
        throw new SourceError(header.code, `${path}:1: ${header.message}`, {
          details: { path },
          location: { file: path, line: 1 },
        });
      }
      this.#columns = header.columns;
      return;
    }
    if (end === start) return;
    const frame = this.#encode(buf, start, end, columns);
    if (frame !== undefined) {
      items.push(frame);
      return;
    }
    const record = parseActivityCsvLine(buf.toString("utf8", start, end), columns, this.#lineNumber);
    items.push(record.ok ? record.event : record.raw);
  }

  /** The row buf[start … end) as a frame, or undefined when it is not a clean row. */
  #encode(buf: Buffer, start: number, end: number, columns: ActivityCsvColumns): CsvFrame | undefined {
    if (columns.count > this.#starts.length) return undefined;
    const starts = this.#starts;
    const ends = this.#ends;
    let field = 0;
    starts[0] = start;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c === COMMA) {
        if (field + 1 >= columns.count) return undefined;
        ends[field++] = i;
        starts[field] = i + 1;
      } else if (c === QUOTE || c >= 0x80) {
        return undefined;
      }
    }
    ends[field] = end;
    if (field + 1 !== columns.count) return undefined;

    const eventTimeMs = this.#eventTime(buf, starts[columns.eventTime]!, ends[columns.eventTime]!);
    if (Number.isNaN(eventTimeMs)) return undefined;
    const type = eventTypeOf(buf, starts[columns.eventType]!, ends[columns.eventType]!);
    if (type === undefined) return undefined;
    const productStart = starts[columns.productId]!;
    const productEnd = ends[columns.productId]!;
    const userStart = starts[columns.userId]!;
    const userEnd = ends[columns.userId]!;
    const sessionStart = starts[columns.userSession]!;
    const sessionEnd = ends[columns.userSession]!;
    if (productEnd === productStart || userEnd === userStart || sessionEnd === sessionStart) return undefined;
    const priceStart = starts[columns.price]!;
    const priceEnd = ends[columns.price]!;
    if (!isPrice(buf, priceStart, priceEnd)) return undefined;
    let amount = Number.NaN;
    if (type.purchase) {
      amount = Number.parseFloat(buf.toString("latin1", priceStart, priceEnd));
      if (!(amount > 0)) return undefined;
    }

    const needed = FRAME_OVERHEAD + (end - start) + PAGE_PREFIX.length;
    if (this.#slab.length - this.#used < needed) {
      this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, needed));
      this.#used = 0;
    }
    const slab = this.#slab;
    const frameStart = this.#used;
    writeHeader(slab, this.#schemaId, frameStart);
    let at = frameStart + 5;
    slab[at++] = 72; // 36, zigzag
    this.#writeRowUuid(buf, start, end, slab, at);
    at += 36;
    at = writeLong(slab, at, userEnd - userStart);
    const keyStart = at;
    at = copyBytes(buf, userStart, userEnd, slab, at);
    const keyEnd = at;
    at = writeLong(slab, at, sessionEnd - sessionStart);
    at = copyBytes(buf, sessionStart, sessionEnd, slab, at);
    slab[at++] = type.index << 1;
    at = writeLong(slab, at, eventTimeMs);
    at = writeLong(slab, at, PAGE_PREFIX.length + productEnd - productStart);
    at = copyBytes(PAGE_PREFIX, 0, PAGE_PREFIX.length, slab, at);
    at = copyBytes(buf, productStart, productEnd, slab, at);
    slab[at++] = 0; // referrer: null
    slab[at++] = UNKNOWN_DEVICE << 1;
    slab[at++] = 0; // country: null
    if (type.purchase) {
      slab[at++] = 2;
      slab.writeDoubleLE(amount, at);
      at += 8;
      slab[at++] = 2;
      slab[at++] = 6; // 3, zigzag
      at = copyBytes(USD, 0, USD.length, slab, at);
    } else {
      slab[at++] = 0; // amount: null
      slab[at++] = 0; // currency: null
    }
    slab[at++] = 0; // app_version: null
    this.#used = at;
    return new CsvFrame(
      slab.subarray(keyStart, keyEnd),
      slab.subarray(frameStart, at),
      buf,
      start,
      end,
      columns,
      this.#lineNumber,
    );
  }

  /** rowUuid of activity-csv.ts over the row's bytes: SHA-1 of the namespace and the row, as a v5 UUID. */
  #writeRowUuid(buf: Buffer, start: number, end: number, out: Buffer, at: number): void {
    const length = PULSE_CSV_NAMESPACE.length + end - start;
    if (this.#hashInput.length < length) {
      this.#hashInput = Buffer.allocUnsafe(2 * length);
      PULSE_CSV_NAMESPACE.copy(this.#hashInput);
    }
    copyBytes(buf, start, end, this.#hashInput, PULSE_CSV_NAMESPACE.length);
    writeUuidText(v5UuidBytes(this.#hashInput.subarray(0, length)), out, at);
  }

  /** "YYYY-MM-DD hh:mm:ss UTC" as ms, as parseActivityCsvLine reads it; NaN for anything else (a time that does not exist too). */
  #eventTime(buf: Buffer, start: number, end: number): number {
    if (end - start !== 23) return Number.NaN;
    for (const i of TIME_DIGITS) if (!isDigit(buf[start + i]!)) return Number.NaN;
    if (buf[start + 4] !== 45 || buf[start + 7] !== 45 || buf[start + 10] !== 32) return Number.NaN;
    if (buf[start + 13] !== 58 || buf[start + 16] !== 58 || buf[start + 19] !== 32) return Number.NaN;
    if (buf[start + 20] !== 85 || buf[start + 21] !== 84 || buf[start + 22] !== 67) return Number.NaN;
    if (!sameBytes(buf, start, this.#date, 10) || Number.isNaN(this.#dateMs)) {
      const year = digits(buf, start, 4);
      const month = digits(buf, start + 5, 2);
      const day = digits(buf, start + 8, 2);
      // As parseActivityCsvLine: no year before 100, no day the calendar does not have.
      if (year < 100 || !calendarDateExists(year, month, day)) return Number.NaN;
      copyBytes(buf, start, start + 10, this.#date, 0);
      this.#dateMs = Date.UTC(year, month - 1, day);
    }
    const hour = digits(buf, start + 11, 2);
    const minute = digits(buf, start + 14, 2);
    const second = digits(buf, start + 17, 2);
    if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
    return this.#dateMs + hour * 3_600_000 + minute * 60_000 + second * 1_000;
  }
}

const TIME_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digits(buf: Buffer, at: number, n: number): number {
  let value = 0;
  for (let i = 0; i < n; i++) value = value * 10 + buf[at + i]! - 48;
  return value;
}

/** The type a CSV event_type spells, or undefined. */
function eventTypeOf(buf: Buffer, start: number, end: number): (typeof TYPES)[number] | undefined {
  for (const type of TYPES) {
    if (type.text.length === end - start && sameBytes(buf, start, type.text, type.text.length)) return type;
  }
  return undefined;
}

/** True when buf[at … at + n) equals expected[0 … n). */
function sameBytes(buf: Buffer, at: number, expected: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[at + i] !== expected[i]) return false;
  return true;
}

/** Copies from[start … end) to `to` at `at`; returns where it ends. A loop: Buffer.copy's call costs more for a few bytes. */
function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  for (let i = start; i < end; i++) to[at++] = from[i]!;
  return at;
}

/** digits [ "." digits ], as activity-csv.ts's PRICE. */
function isPrice(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && isDigit(buf[i]!)) i++;
  if (i === start) return false;
  if (i === end) return true;
  if (buf[i] !== 46) return false;
  const fraction = ++i;
  while (i < end && isDigit(buf[i]!)) i++;
  return i === end && i > fraction;
}
