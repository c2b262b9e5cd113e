// Replays a REES46 e-commerce clickstream CSV as UserActivity records, paced by event_time.

import crypto, { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { formatUuid } from "../bytes.ts";
import type { EventType, UserActivity } from "../contracts/types.ts";
import { calendarDateExists } from "../contracts/validate.ts";
import { CsvErrorCode, SourceError } from "../errors.ts";
import { EventTimePacer } from "./pacer.ts";
import { sourceFileError } from "./source-file.ts";

/**
 * Row grammar (REES46 "Open CDP" export; columns are found by header name):
 *
 *   header = "event_time,event_type,product_id,[category_id,category_code,brand,]price,user_id,user_session"
 *   row    = field *( "," field ) [ CR ] LF
 *   field  = *( any char but "," and '"' ) / '"' *( any char but '"' / '""' ) '"'
 *   event_time = YYYY "-" MM "-" DD " " hh ":" mm ":" ss " UTC"   ; a real date and time, year 0100 on
 *   event_type = "view" / "cart" / "remove_from_cart" / "purchase"
 *   price      = digits [ "." digits ]        ; "0.4" as well as "0.40" (the derived cosmetics file)
 */

export type ActivityCsvRecord =
  | { line: number; ok: true; event: UserActivity }
  | { line: number; ok: false; code: CsvErrorCode; message: string; raw: string };

export interface ActivityCsvColumns {
  eventTime: number;
  eventType: number;
  productId: number;
  price: number;
  userId: number;
  userSession: number;
  count: number;
}

export interface ReplayActivityCsvOptions {
  /** 1 = recorded pace, 2 = twice as fast, 0 (default) = as fast as possible. */
  speed?: number;
  signal?: AbortSignal;
}

const EVENT_TYPE_MAP: Record<string, EventType> = {
  view: "VIEW",
  cart: "ADD_TO_CART",
  remove_from_cart: "REMOVE_FROM_CART",
  purchase: "PURCHASE",
};

const EVENT_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$/;
const PRICE = /^\d+(\.\d+)?$/;
/** The columns a header must name, for the message when one is missing. */
const HEADER_NAMES = "event_time, event_type, product_id, price, user_id and user_session";

/** A fixed UUID namespace for Pulse's content-derived ids, so ids do not collide with other v5 users. */
export const PULSE_CSV_NAMESPACE = Buffer.from("6f1c2a8e4b7d4e59a3c05d2e9b8f7a61", "hex");

/** The namespace and the row's bytes, as rowUuid hashes them; grown for longer rows. */
let hashInput = Buffer.allocUnsafe(1024);
PULSE_CSV_NAMESPACE.copy(hashInput);
const oneShotHash = typeof crypto.hash === "function" ? crypto.hash : undefined;

/**
 * A name-based (version 5) UUID over the row text without CR: an exact duplicate row gets the same
 * event_id, so downstream deduplication sees REES46's double-logged rows as the duplicates they are.
 */
function rowUuid(line: string): string {
  // The namespace, then the row's UTF-8 (at most 3 bytes a UTF-16 unit), hashed in one call: a Hash
  // object a row was about a sixth of a replay. crypto.hash arrived in Node 20.12.
  const needed = PULSE_CSV_NAMESPACE.length + 3 * line.length;
  if (hashInput.length < needed) {
    hashInput = Buffer.allocUnsafe(Math.max(needed, 2 * hashInput.length));
    PULSE_CSV_NAMESPACE.copy(hashInput);
  }
  const end = PULSE_CSV_NAMESPACE.length + hashInput.write(line, PULSE_CSV_NAMESPACE.length, "utf8");
  return formatUuid(v5UuidBytes(hashInput.subarray(0, end)));
}

/**
 * The 16 bytes of a name-based (version 5) UUID: SHA-1 of `input` (the namespace, then the name's bytes),
 * version and variant set. rowUuid and the replay's frames (activity-csv-frames.ts) both hash with it.
 */
export function v5UuidBytes(input: Uint8Array): Buffer {
  const hash = oneShotHash ? oneShotHash("sha1", input, "buffer") : createHash("sha1").update(input).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  return hash;
}

function splitFields(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (line[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * The ms of an event_time, or NaN when it is not one. The fields are range-checked because Date.UTC
 * rolls an impossible date over (2019-02-30 would become March 2, 24:00 the next day) and reads the
 * years 0–99 as 1900–1999.
 */
function eventTimeOf(field: string): number {
  const time = EVENT_TIME.exec(field);
  if (time === null) return Number.NaN;
  const year = +time[1]!;
  const month = +time[2]!;
  const day = +time[3]!;
  const hour = +time[4]!;
  const minute = +time[5]!;
  const second = +time[6]!;
  if (year < 100 || !calendarDateExists(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    return Number.NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Finds the columns by name; `{ ok: false }` names the missing column. */
export function parseActivityCsvHeader(
  line: string,
): { ok: true; columns: ActivityCsvColumns } | { ok: false; code: CsvErrorCode; message: string } {
  const names = splitFields(stripCr(line).replace(/^\uFEFF/, "")).map((name) => name.trim());
  const find = (name: string): number => names.indexOf(name);
  const columns: ActivityCsvColumns = {
    eventTime: find("event_time"),
    eventType: find("event_type"),
    productId: find("product_id"),
    price: find("price"),
    userId: find("user_id"),
    userSession: find("user_session"),
    count: names.length,
  };
  for (const [key, index] of Object.entries(columns)) {
    if (index < 0) {
      const column = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const message = `CSV header has no "${column}" column; a REES46 export's header names ${HEADER_NAMES}`;
      return { ok: false, code: CsvErrorCode.badHeader, message };
    }
  }
  return { ok: true, columns };
}

/** Pure: one data row to a UserActivity, or a rejection naming the field and the rule it broke. */
export function parseActivityCsvLine(
  line: string,
  columns: ActivityCsvColumns,
  lineNumber: number,
): ActivityCsvRecord {
  const text = stripCr(line);
  const reject = (code: CsvErrorCode, message: string): ActivityCsvRecord => ({
    line: lineNumber,
    ok: false,
    code,
    message: `line ${lineNumber}: ${message}`,
    raw: text,
  });
  const fields = splitFields(text);
  if (fields.length !== columns.count) {
    return reject(CsvErrorCode.badRow, `expected ${columns.count} fields, got ${fields.length}`);
  }
  const eventTimeMs = eventTimeOf(fields[columns.eventTime]!);
  if (Number.isNaN(eventTimeMs)) {
    return reject(CsvErrorCode.badTime, 'event_time is not a "YYYY-MM-DD hh:mm:ss UTC" date and time');
  }
  const rawType = fields[columns.eventType]!;
  const eventType = Object.hasOwn(EVENT_TYPE_MAP, rawType) ? EVENT_TYPE_MAP[rawType] : undefined;
  if (eventType === undefined) {
    return reject(
      CsvErrorCode.unknownEventType,
      `event_type "${rawType.slice(0, 40)}" is not one of ${Object.keys(EVENT_TYPE_MAP).join(", ")}`,
    );
  }
  const productId = fields[columns.productId]!;
  const userId = fields[columns.userId]!;
  const session = fields[columns.userSession]!;
  if (productId === "") return reject(CsvErrorCode.missingField, "product_id is empty");
  if (userId === "") return reject(CsvErrorCode.missingField, "user_id is empty");
  if (session === "") return reject(CsvErrorCode.missingField, "user_session is empty");
  const price = fields[columns.price]!;
  if (!PRICE.test(price)) return reject(CsvErrorCode.badPrice, "price is not a non-negative decimal number");
  let amount: number | null = null;
  if (eventType === "PURCHASE") {
    amount = Number.parseFloat(price);
    if (!(amount > 0)) return reject(CsvErrorCode.badPrice, "a purchase must have a price > 0");
  }
  return {
    line: lineNumber,
    ok: true,
    event: {
      event_id: rowUuid(text),
      user_id: userId,
      session_id: session,
      event_type: eventType,
      event_time: eventTimeMs,
      page: `/product/${productId}`,
      referrer: null,
      device: "UNKNOWN",
      country: null,
      amount,
      currency: amount === null ? null : "USD",
    },
  };
}

/** Characters read from the file at a time. */
const CHUNK_BYTES = 256 * 1024;

/**
 * The lines of a text read in chunks, a chunk's lines at a time (one promise a chunk, not one a line,
 * as readline costs), with readline's line breaks: CRLF, LF or a lone CR. A CR that ends a chunk may be
 * the first half of a CRLF, so its line waits for the next chunk.
 */
async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string[]> {
  const lineBreak = /\r\n|\n|\r/g;
  let rest = "";
  for await (const chunk of chunks) {
    const text = rest + chunk;
    const lines: string[] = [];
    let start = 0;
    lineBreak.lastIndex = 0;
    for (let m = lineBreak.exec(text); m !== null; m = lineBreak.exec(text)) {
      if (m[0] === "\r" && m.index === text.length - 1) break;
      lines.push(text.slice(start, m.index));
      start = m.index + m[0].length;
    }
    rest = text.slice(start);
    yield lines;
  }
  const last = stripCr(rest);
  if (last.length > 0) yield [last];
}

/**
 * Yields one record per data row in file order (blank lines are skipped but keep their line number).
 * A header without the needed columns, or an unreadable file, throws a SourceError.
 */
export async function* replayActivityCsv(
  path: string,
  options: ReplayActivityCsvOptions = {},
): AsyncGenerator<ActivityCsvRecord> {
  const { speed = 0, signal } = options;
  const pacer = new EventTimePacer(speed, signal);
  const input = createReadStream(path, { encoding: "utf8", highWaterMark: CHUNK_BYTES });
  let columns: ActivityCsvColumns | undefined;
  let lineNumber = 0;
  try {
    for await (const lines of linesOf(input as AsyncIterable<string>)) {
      for (const line of lines) {
        lineNumber++;
        if (signal?.aborted) return;
        if (columns === undefined) {
          const header = parseActivityCsvHeader(line);
          if (!header.ok) {
            throw new SourceError(header.code, `${path}:1: ${header.message}`, {
              details: { path },
              location: { file: path, line: 1 },
            });
          }
          columns = header.columns;
          continue;
        }
        if (line.length === 0) continue;
        const record = parseActivityCsvLine(line, columns, lineNumber);
        if (record.ok && pacer.paces && !(await pacer.wait(record.event.event_time))) return;
        yield record;
      }
    }
  } catch (error) {
    throw sourceFileError(error, "activity CSV", path);
  } finally {
    input.destroy();
  }
}
