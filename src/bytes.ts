// Byte views: Buffer's methods over a plain Uint8Array without copying it.

/** The same bytes as a Buffer (no copy): a Buffer as it is, any other view wrapped over its memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes `text` at `at` as ASCII bytes, one a character, and returns where it ends; −1 as soon as a
 * character is not ASCII (what was written by then is garbage). The caller makes room for text.length
 * bytes. A loop beats a native write call for the short strings of an event.
 */
export function writeAscii(buf: Uint8Array, at: number, text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return -1;
    buf[at + i] = c;
  }
  return at + length;
}

/** Longest text TextSlab writes itself; longer text goes through Buffer.from. */
const SLAB_TEXT_MAX = 128;

/**
 * Short text as UTF-8 Buffers carved out of a shared slab, the way Buffer.allocUnsafe carves small
 * Buffers out of its pool, with ASCII written by hand: Buffer.from(text) is a native call and a new
 * Buffer each time, which the producer paid once a record for its key. Every Buffer handed out has
 * bytes of its own: a full slab is replaced, never written over.
 */
export class TextSlab {
  readonly #slabBytes: number;
  #slab: Buffer;
  #used = 0;

  constructor(slabBytes = 16 * 1024) {
    this.#slabBytes = Math.max(slabBytes, SLAB_TEXT_MAX);
    this.#slab = Buffer.allocUnsafeSlow(this.#slabBytes);
  }

  /** The UTF-8 bytes of `text`. */
  bytes(text: string): Buffer {
    const length = text.length;
    if (length > SLAB_TEXT_MAX) return Buffer.from(text, "utf8");
    if (this.#slab.length - this.#used < length) {
      this.#slab = Buffer.allocUnsafeSlow(this.#slabBytes);
      this.#used = 0;
    }
    const at = this.#used;
    const end = writeAscii(this.#slab, at, text);
    if (end < 0) return Buffer.from(text, "utf8");
    this.#used = end;
    return this.#slab.subarray(at, end);
  }
}

/** Most texts a TextCache holds before it starts over. */
const TEXT_CACHE_ENTRIES = 16_384;

/**
 * The UTF-8 bytes of text that recurs, such as record keys (user ids, wiki names): one Buffer per
 * distinct text, shared by every record that has it, since a Map lookup costs about a seventh of
 * writing the bytes again. Nobody may write into the Buffers handed out (the logs copy them). Holds at
 * most `maxEntries` texts and empties when full, so unbounded key spaces cost no more than a TextSlab.
 */
export class TextCache {
  readonly #slab = new TextSlab();
  readonly #bytes = new Map<string, Buffer>();
  readonly #maxEntries: number;

  constructor(maxEntries = TEXT_CACHE_ENTRIES) {
    this.#maxEntries = Math.max(1, maxEntries);
  }

  /** The UTF-8 bytes of `text`. */
  bytes(text: string): Buffer {
    let bytes = this.#bytes.get(text);
    if (bytes === undefined) {
      if (this.#bytes.size >= this.#maxEntries) this.#bytes.clear();
      bytes = this.#slab.bytes(text);
      this.#bytes.set(text, bytes);
    }
    return bytes;
  }
}

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
/** Where formatUuid builds its text. */
const UUID_TEXT = Buffer.alloc(36);
/** Where each of a UUID's 16 bytes goes in its 36 characters (the dashes skipped). */
const UUID_BYTE_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * The canonical text of the UUID in bytes[0 … 16): lowercase 8-4-4-4-12. The text is written as bytes
 * and read back as one flat string: a string joined from parts is a rope, and every later scan of its
 * characters (validation, Avro encoding) walks a rope more slowly; for the simulator's UUIDs that was
 * about 0.7 µs an event.
 */
export function formatUuid(bytes: Uint8Array): string {
  writeUuidText(bytes, UUID_TEXT, 0);
  return UUID_TEXT.toString("latin1", 0, 36);
}

/** Writes the canonical text of the UUID in bytes[0 … 16) into out[at … at + 36), as formatUuid returns it. */
export function writeUuidText(bytes: Uint8Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const byte = bytes[i]!;
    const to = at + UUID_BYTE_AT[i]!;
    out[to] = HEX_DIGITS[byte >>> 4]!;
    out[to + 1] = HEX_DIGITS[byte & 15]!;
  }
  out[at + 8] = 45;
  out[at + 13] = 45;
  out[at + 18] = 45;
  out[at + 23] = 45;
}
