// Record headers decoded once: a topic's records carry the same few names, and a producer tags its
// records alike; decoding each again cost a native call, a string, an object and a view per record.
import type { RecordHeaders } from "./index.ts";

/** Names seen so far, by their UTF-8 bytes; a short list, scanned in order. */
const seen: { bytes: Uint8Array; name: string }[] = [];
/** Names kept (later ones are decoded every time), and the longest name kept. */
const MAX_NAMES = 32;
const MAX_NAME_BYTES = 64;

/** The name whose UTF-8 bytes are buf[start, end): the same string for the same bytes, as decoding gives. */
export function headerName(buf: Uint8Array, start: number, end: number): string {
  const length = end - start;
  for (let i = 0; i < seen.length; i++) {
    const entry = seen[i]!;
    if (sameBytes(entry.bytes, 0, entry.bytes.length, buf, start, end)) return entry.name;
  }
  const name = Buffer.from(buf.buffer, buf.byteOffset + start, length).toString("utf8");
  if (seen.length < MAX_NAMES && length <= MAX_NAME_BYTES) {
    seen.push({ bytes: buf.slice(start, end), name });
  }
  return name;
}

/**
 * Sets a decoded header. A header may be named "__proto__" (the name is any UTF-8): plain assignment
 * would set the object's prototype and lose the header, so that one name is defined as an own property.
 */
export function setHeader(headers: RecordHeaders, name: string, value: Buffer): void {
  if (name === "__proto__") {
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    headers[name] = value;
  }
}

/** Whether a[aStart, aEnd) and b[bStart, bEnd) hold the same bytes. */
export function sameBytes(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = aStart, j = bStart; i < aEnd; i++, j++) if (a[i] !== b[j]) return false;
  return true;
}

/**
 * The last headers object a decoder built, and where its encoded bytes lie: a record whose headers are
 * the same bytes shares that object (frozen, as LogRecord.headers says) instead of getting its own.
 */
export class LastHeaders {
  #headers: RecordHeaders | undefined;
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** The kept headers when buf[start, end) holds the bytes they were decoded from; else undefined. */
  match(buf: Uint8Array, start: number, end: number): RecordHeaders | undefined {
    const headers = this.#headers;
    return headers !== undefined && sameBytes(buf, start, end, this.#buf, this.#start, this.#end)
      ? headers
      : undefined;
  }

  /** Freezes headers decoded from buf[start, end) and keeps them for the records after. */
  keep(headers: RecordHeaders, buf: Uint8Array, start: number, end: number): RecordHeaders {
    this.#headers = Object.freeze(headers);
    this.#buf = buf;
    this.#start = start;
    this.#end = end;
    return headers;
  }
}
