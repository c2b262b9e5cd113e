// Exact string → dense integer id tables whose strings live in one byte arena, not as millions of JS strings.

import type { ByteReader, ByteWriter } from "./binary.ts";
import { StreamError, StreamErrorCode } from "../errors.ts";

/** How an entry's characters are stored in the arena (the top two bits of its meta word). */
const LATIN1 = 0; // one byte a UTF-16 code unit, when every unit is below 256
const UTF16 = 1; // two bytes a code unit, little-endian
const UUID = 2; // a canonical lowercase UUID as its 16 bytes
const LEN_MASK = 0x3fffffff;
const DASH = 45;

/** Hex digit values by char code, −1 for any other char. Only lowercase digits: the canonical form. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = 10 + c;

/**
 * A string examined once for hashing, probing and appending: its hash, and for a canonical lowercase
 * UUID its 16 bytes. Callers that probe several tables with one string (the deduplicator) fill one key
 * and reuse it, so the string is read once however many tables it meets.
 */
export class InternKey {
  text = "";
  /**
   * Set instead of `text` by setBytes for an ASCII string read from bytes (its characters are
   * src[srcStart … srcStart + length)); undefined for a key set from a JS string.
   */
  src: Uint8Array | undefined = undefined;
  srcStart = 0;
  /** The string's length in UTF-16 code units (its bytes, for an ASCII key from bytes). */
  length = 0;
  hash = 0;
  /** Whether text is a canonical UUID, packed into `bytes`. */
  uuid = false;
  readonly bytes = new Uint8Array(16);

  /**
   * The key of the string UTF-8 encoded in buf[start … end), without making the string when it is
   * ASCII: the same hash and the same entry as set() of the decoded string.
   */
  setBytes(buf: Uint8Array, start: number, end: number): this {
    const n = end - start;
    // A canonical UUID is hex digits and dashes (ASCII), hashed from its 16 bytes.
    this.uuid = n === 36 && packUuidBytes(buf, start, this.bytes);
    if (this.uuid) {
      this.hash = uuidHash(this.bytes);
    } else {
      let high = 0;
      let h = 0x811c9dc5;
      for (let i = start; i < end; i++) {
        const c = buf[i]!;
        high |= c;
        h = Math.imul(h ^ c, 0x01000193);
      }
      if (high > 127) return this.set(Buffer.from(buf.buffer, buf.byteOffset + start, n).toString("utf8"));
      this.hash = finalised(h);
    }
    this.text = "";
    this.src = buf;
    this.srcStart = start;
    this.length = n;
    return this;
  }

  set(s: string): this {
    this.text = s;
    this.src = undefined;
    this.length = s.length;
    this.uuid = packUuid(s, this.bytes);
    if (this.uuid) {
      this.hash = uuidHash(this.bytes);
    } else {
      let h = 0x811c9dc5;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      this.hash = finalised(h);
    }
    return this;
  }
}

/** The key find() and intern() fill: one at a time, never held across calls. */
const SCRATCH = new InternKey();

function uuidHash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) {
    h = Math.imul(h ^ ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!), 0x01000193);
  }
  return finalised(h);
}

/** murmur3's finaliser, so linear probing sees well-mixed low bits. */
function finalised(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Packs the exact lowercase 8-4-4-4-12 form into 16 bytes and returns true; any other spelling
 * returns false (it is kept verbatim). `out` may be partly written either way.
 */
function packUuid(s: string, out: Uint8Array): boolean {
  if (s.length !== 36) return false;
  if (s.charCodeAt(8) !== DASH || s.charCodeAt(13) !== DASH) return false;
  if (s.charCodeAt(18) !== DASH || s.charCodeAt(23) !== DASH) return false;
  let at = 0;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const hi = s.charCodeAt(i);
    const lo = s.charCodeAt(i + 1);
    const v = (hi < 128 ? HEX[hi]! : -1) | 0;
    const w = (lo < 128 ? HEX[lo]! : -1) | 0;
    if ((v | w) < 0) return false;
    out[at++] = (v << 4) | w;
  }
  return true;
}

/** Hex digit values by byte, −1 for any other byte. Only lowercase digits: the canonical form. */
const HEX_BYTE = new Int16Array(256).fill(-1);
HEX_BYTE.set(HEX);

/** Where each of a UUID's 16 bytes starts in its 36 characters (the dashes skipped). */
const UUID_PAIRS = new Uint8Array([0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]);

/**
 * packUuid over the 36 bytes at buf[s], without a branch per digit: a non-digit's −1 makes the OR of all
 * pairs negative, checked once at the end.
 */
function packUuidBytes(buf: Uint8Array, s: number, out: Uint8Array): boolean {
  if (buf[s + 8] !== DASH || buf[s + 13] !== DASH || buf[s + 18] !== DASH || buf[s + 23] !== DASH)
    return false;
  let all = 0;
  for (let k = 0; k < 16; k++) {
    const i = s + UUID_PAIRS[k]!;
    const v = (HEX_BYTE[buf[i]!]! << 4) | HEX_BYTE[buf[i + 1]!]!;
    all |= v;
    out[k] = v;
  }
  return all >= 0;
}

/**
 * The next capacity of the arena and the id arrays: 1.5× rather than 2×, which with a million ids a
 * partition leaves a third less unused capacity and a smaller peak while the old copy is still alive.
 */
function grown(length: number): number {
  return Math.max(16, Math.ceil(length * 1.5));
}

function storedBytes(meta: number): number {
  const kind = meta >>> 30;
  const len = meta & LEN_MASK;
  return kind === UUID ? 16 : kind === UTF16 ? len * 2 : len;
}

function corrupt(message: string): never {
  throw new StreamError(StreamErrorCode.snapshotCorrupt, `stream snapshot is corrupt: ${message}`);
}

/**
 * An exact string → id table (ids 0, 1, 2, … in first-seen order) built for millions of ids: strings
 * are copied into one growing byte arena (1 byte a char for Latin-1, 16 bytes for a canonical UUID),
 * and an open-addressing table of ids with linear probing finds them. About 14 bytes an entry plus its
 * characters, against ~100 for a Map<string, number>, and nothing for the garbage collector to trace.
 *
 * Invariants: slots[i] is 0 (empty) or id + 1; every id is reachable from slot hashes[id] & mask by
 * probing forward without crossing an empty slot (there are no deletions, so this always holds); the
 * load factor stays at or below 3/4; two ids never hold equal strings.
 */
export class Interner {
  #arena: Uint8Array;
  #arenaLength = 0;
  #starts: Uint32Array;
  #metas: Uint32Array;
  #hashes: Uint32Array;
  #size = 0;
  #slots: Int32Array;
  #mask: number;

  /**
   * `expectedIds`: room to make up front, when the caller can tell how many ids are coming (the
   * deduplicator's next slice is about as large as the last), so the table does not grow step by step.
   * The arena's room assumes 16 bytes an id (a UUID); it grows as usual beyond that.
   */
  constructor(expectedIds = 0) {
    const ids = Math.max(16, Math.ceil(expectedIds));
    this.#arena = new Uint8Array(Math.max(256, ids * 16));
    this.#starts = new Uint32Array(ids);
    this.#metas = new Uint32Array(ids);
    this.#hashes = new Uint32Array(ids);
    // A power of two with the load factor at or below 3/4 once `ids` are in.
    const slots = Math.max(32, 2 ** Math.ceil(Math.log2((ids * 4) / 3 + 1)));
    this.#slots = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The id of s, or −1. */
  find(s: string): number {
    return this.findKey(SCRATCH.set(s));
  }

  /** The id of s, adding it if new. */
  intern(s: string): number {
    return this.internKey(SCRATCH.set(s));
  }

  /** The id of the key's string, or −1. */
  findKey(key: InternKey): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const hash = key.hash;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = slots[i]!;
      if (v === 0) return -1;
      if (this.#hashes[v - 1] === hash && this.#equals(v - 1, key)) return v - 1;
    }
  }

  /** The id of the key's string, adding it if new. */
  internKey(key: InternKey): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const hash = key.hash;
    let i = hash & mask;
    for (; ; i = (i + 1) & mask) {
      const v = slots[i]!;
      if (v === 0) break;
      if (this.#hashes[v - 1] === hash && this.#equals(v - 1, key)) return v - 1;
    }
    const id = this.#append(key);
    slots[i] = id + 1;
    if (this.#size * 4 > slots.length * 3) this.#rehash(slots.length * 2);
    return id;
  }

  name(id: number): string | undefined {
    if (!(id >= 0 && id < this.#size)) return undefined;
    const meta = this.#metas[id]!;
    const kind = meta >>> 30;
    const len = meta & LEN_MASK;
    const start = this.#starts[id]!;
    const a = this.#arena;
    if (kind === LATIN1) return Buffer.from(a.buffer, a.byteOffset + start, len).toString("latin1");
    if (kind === UTF16) return Buffer.from(a.buffer, a.byteOffset + start, len * 2).toString("utf16le");
    const hex = Buffer.from(a.buffer, a.byteOffset + start, 16).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  byteSize(): number {
    return this.#arena.byteLength + this.#starts.byteLength * 3 + this.#slots.byteLength;
  }

  #equals(id: number, key: InternKey): boolean {
    const meta = this.#metas[id]!;
    const kind = meta >>> 30;
    const a = this.#arena;
    const start = this.#starts[id]!;
    if (kind === UUID) {
      if (!key.uuid) return false;
      const b = key.bytes;
      for (let i = 0; i < 16; i++) if (a[start + i] !== b[i]) return false;
      return true;
    }
    const n = key.length;
    if ((meta & LEN_MASK) !== n || key.uuid) return false;
    const src = key.src;
    if (src !== undefined) {
      // An ASCII key: only a Latin-1 entry can hold the same string.
      if (kind !== LATIN1) return false;
      const from = key.srcStart;
      for (let i = 0; i < n; i++) if (a[start + i] !== src[from + i]) return false;
      return true;
    }
    const s = key.text;
    if (kind === LATIN1) {
      for (let i = 0; i < s.length; i++) if (a[start + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    for (let i = 0; i < s.length; i++) {
      if ((a[start + 2 * i]! | (a[start + 2 * i + 1]! << 8)) !== s.charCodeAt(i)) return false;
    }
    return true;
  }

  #append(key: InternKey): number {
    const s = key.text;
    const src = key.src;
    const n = key.length;
    let kind = LATIN1;
    if (key.uuid) {
      kind = UUID;
    } else if (src === undefined) {
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 255) {
          kind = UTF16;
          break;
        }
      }
    }
    if (n > LEN_MASK) {
      throw new StreamError(StreamErrorCode.badOption, `an id of ${n} characters is too long to intern`);
    }
    const meta = ((kind << 30) | n) >>> 0;
    const bytes = storedBytes(meta);
    this.#reserveArena(bytes);
    const a = this.#arena;
    const start = this.#arenaLength;
    if (kind === UUID) {
      a.set(key.bytes, start);
    } else if (src !== undefined) {
      const from = key.srcStart;
      for (let i = 0; i < n; i++) a[start + i] = src[from + i]!;
    } else if (kind === LATIN1) {
      for (let i = 0; i < n; i++) a[start + i] = s.charCodeAt(i);
    } else {
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        a[start + 2 * i] = c & 0xff;
        a[start + 2 * i + 1] = c >>> 8;
      }
    }
    this.#arenaLength += bytes;
    return this.#push(start, meta, key.hash);
  }

  #reserveArena(bytes: number): void {
    if (this.#arenaLength + bytes <= this.#arena.length) return;
    let size = grown(this.#arena.length);
    while (size < this.#arenaLength + bytes) size = grown(size);
    const next = new Uint8Array(size);
    next.set(this.#arena.subarray(0, this.#arenaLength));
    this.#arena = next;
  }

  #push(start: number, meta: number, hash: number): number {
    const id = this.#size;
    if (id === this.#starts.length) {
      const grow = (old: Uint32Array): Uint32Array => {
        const next = new Uint32Array(grown(old.length));
        next.set(old);
        return next;
      };
      this.#starts = grow(this.#starts);
      this.#metas = grow(this.#metas);
      this.#hashes = grow(this.#hashes);
    }
    this.#starts[id] = start;
    this.#metas[id] = meta;
    this.#hashes[id] = hash;
    this.#size = id + 1;
    return id;
  }

  #rehash(capacity: number): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let id = 0; id < this.#size; id++) {
      let i = this.#hashes[id]! & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = id + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }

  /**
   * Keeps only the ids marked live (live[id] === 1), renumbered densely in their old order, and returns
   * the old → new map (−1 for dropped ids); every IdSet over this interner must be remapped with it.
   */
  compact(live: Uint8Array): Int32Array {
    const map = new Int32Array(this.#size).fill(-1);
    const old = {
      arena: this.#arena,
      starts: this.#starts,
      metas: this.#metas,
      hashes: this.#hashes,
      size: this.#size,
    };
    let kept = 0;
    let bytes = 0;
    for (let id = 0; id < old.size; id++) {
      if (live[id] !== 1) continue;
      kept++;
      bytes += storedBytes(old.metas[id]!);
    }
    this.#arena = new Uint8Array(Math.max(256, bytes));
    this.#arenaLength = 0;
    const capacity = Math.max(16, 2 ** Math.ceil(Math.log2(kept + 1)));
    this.#starts = new Uint32Array(capacity);
    this.#metas = new Uint32Array(capacity);
    this.#hashes = new Uint32Array(capacity);
    this.#size = 0;
    for (let id = 0; id < old.size; id++) {
      if (live[id] !== 1) continue;
      const n = storedBytes(old.metas[id]!);
      const start = this.#arenaLength;
      this.#arena.set(old.arena.subarray(old.starts[id]!, old.starts[id]! + n), start);
      this.#arenaLength += n;
      map[id] = this.#push(start, old.metas[id]!, old.hashes[id]!);
    }
    this.#rehash(Math.max(32, capacity * 2));
    return map;
  }

  /** Grammar: u32 count, count × u32 meta (kind << 30 | length), u32 arena length, arena bytes. */
  write(w: ByteWriter): void {
    w.u32s(this.#metas, this.#size);
    w.bytes(this.#arena, this.#arenaLength);
  }

  /** Rebuilds the table; hashes are recomputed from the strings, so a damaged snapshot cannot hide entries. */
  static read(r: ByteReader): Interner {
    const metas = r.u32s();
    const arena = r.bytes();
    const t = new Interner();
    let offset = 0;
    const strings: string[] = [];
    const scratch = new Interner();
    for (let id = 0; id < metas.length; id++) {
      const meta = metas[id]!;
      if (meta >>> 30 > UUID) corrupt(`interner entry ${id} has an unknown kind`);
      const n = storedBytes(meta);
      if (offset + n > arena.length) corrupt("interner arena is shorter than its entries");
      scratch.#arena = arena;
      scratch.#starts[0] = offset;
      scratch.#metas[0] = meta;
      scratch.#size = 1;
      strings.push(scratch.name(0)!);
      offset += n;
    }
    if (offset !== arena.length) corrupt("interner arena is longer than its entries");
    for (let id = 0; id < strings.length; id++) {
      if (t.intern(strings[id]!) !== id) corrupt("an interner lists the same string twice");
    }
    return t;
  }
}
