// The raw lake's record batch: a run of one partition's cleaned events, in offset order, in one BLOB.
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { RawEventRow, RawRun } from "./index.ts";
import { asBuffer } from "../bytes.ts";

/*
 * batch  := version:u8 count:u32le record{count}
 * record := offset:f64le eventTimeMs:f64le ingestedAtMs:f64le valueLength:u32le value:byte{valueLength}
 *
 * Version 2: value is the record's value as the log held it (RawEventRow.value, a Confluent frame).
 * Version 1, written before: value is the event's JSON text in UTF-8. The layout is the same, so both
 * read back as bytes, and decodeRawEvent tells the two apart by the first byte.
 *
 * Offsets strictly increase within a batch (gaps allowed: duplicates, dead letters and replays leave
 * holes). A float64 holds every offset (< 2^41) and millisecond time exactly. Fixed-width fields cost
 * 28 bytes a record against values of 100–300 bytes, and let a reader skip to an offset without
 * reading values.
 */
const VERSION = 2;
const JSON_VERSION = 1;
const HEADER_BYTES = 5;
const RECORD_HEADER_BYTES = 28;
/** A batch ends before it would pass this size (a larger single record gets a batch of its own). */
const MAX_BATCH_BYTES = 1 << 20;
/** Scratch kept between commits; a larger one, grown for a huge value, is dropped afterwards. */
const KEPT_SCRATCH_BYTES = 4 << 20;

export interface EncodedRawBatch {
  firstOffset: number;
  lastOffset: number;
  count: number;
  /** A view into the encoder's scratch space: valid until the next encode. */
  bytes: Buffer;
}

/** Encodes runs of rows into batches, reusing one scratch buffer (the bytes are copied when bound). */
export class RawBatchEncoder {
  #scratch: Buffer = Buffer.allocUnsafe(MAX_BATCH_BYTES);
  /** A view of #scratch for the fixed-width fields (writeRecord). */
  #view: DataView = new DataView(this.#scratch.buffer, this.#scratch.byteOffset, this.#scratch.length);

  /**
   * Encodes rows[start…] (one topic and partition, offsets strictly increasing) into one batch, as
   * many rows as fit; returns it with `count` consumed.
   */
  encode(rows: readonly RawEventRow[], start: number, end: number): EncodedRawBatch {
    let buf = this.#scratch;
    if (buf.length > KEPT_SCRATCH_BYTES) {
      buf = Buffer.allocUnsafe(MAX_BATCH_BYTES);
      this.#setScratch(buf);
    }
    let view = this.#view;
    let at = HEADER_BYTES;
    let i = start;
    for (; i < end; i++) {
      const row = rows[i]!;
      const value = row.value;
      const size = RECORD_HEADER_BYTES + value.length;
      if (at + size > MAX_BATCH_BYTES && i > start) break;
      if (at + size > buf.length) {
        const grown = Buffer.allocUnsafe(at + size);
        buf.copy(grown, 0, 0, at);
        buf = grown;
        this.#setScratch(buf);
        view = this.#view;
      }
      at = writeRecord(buf, view, at, row.offset, row.event_time, row.ingested_at, value);
    }
    buf[0] = VERSION;
    view.setUint32(1, i - start, true);
    return {
      firstOffset: rows[start]!.offset,
      lastOffset: rows[i - 1]!.offset,
      count: i - start,
      bytes: buf.subarray(0, at),
    };
  }

  /** Encodes rows[start, end) (one topic and partition, offsets increasing) as batches, handing each to `store`. */
  encodeAll(
    rows: readonly RawEventRow[],
    start: number,
    end: number,
    store: (firstOffset: number, lastOffset: number, bytes: Buffer) => void,
  ): void {
    while (start < end) {
      const batch = this.encode(rows, start, end);
      store(batch.firstOffset, batch.lastOffset, batch.bytes);
      start += batch.count;
    }
  }

  #setScratch(buf: Buffer): void {
    this.#scratch = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }
}

/**
 * Writes one record at `at` (the fixed-width fields through `view`, over the same memory as `buf`;
 * Buffer's writeDoubleLE costs several times more); returns where the next one goes.
 */
function writeRecord(
  buf: Buffer,
  view: DataView,
  at: number,
  offset: number,
  eventTimeMs: number,
  ingestedAtMs: number,
  value: Uint8Array,
): number {
  view.setFloat64(at, offset, true);
  view.setFloat64(at + 8, eventTimeMs, true);
  view.setFloat64(at + 16, ingestedAtMs, true);
  view.setUint32(at + 24, value.length, true);
  buf.set(value, at + RECORD_HEADER_BYTES);
  return at + RECORD_HEADER_BYTES + value.length;
}

/**
 * Writes raw-lake rows straight into runs (RawRun: one topic and partition, offsets increasing, one
 * batch of this format each) as they come, with no object per row: the stream job appends each cleaned
 * record while it reads a batch. A run ends where the topic or partition changes, where the offset
 * does not increase, or before it would pass MAX_BATCH_BYTES. The runs are views into this writer's
 * buffer: valid until reset(), which the job calls only once the store has committed them.
 */
export class RawRunWriter {
  #buf: Buffer = Buffer.allocUnsafe(2 * MAX_BATCH_BYTES);
  #view: DataView = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
  #at = 0;
  /** The open run: where it starts in #buf, its rows so far, its topic, partition and last offset. */
  #start = -1;
  #count = 0;
  #topic = "";
  #partition = -1;
  #lastOffset = -1;
  #runs: RawRun[] = [];
  /** Rows in the sealed runs. */
  #sealedRows = 0;

  /** Rows appended since the last reset. */
  get rows(): number {
    return this.#sealedRows + (this.#start < 0 ? 0 : this.#count);
  }

  append(
    topic: string,
    partition: number,
    offset: number,
    eventTimeMs: number,
    ingestedAtMs: number,
    value: Uint8Array,
  ): void {
    const size = RECORD_HEADER_BYTES + value.length;
    if (
      this.#start < 0 ||
      partition !== this.#partition ||
      topic !== this.#topic ||
      offset <= this.#lastOffset ||
      this.#at + size - this.#start > MAX_BATCH_BYTES
    ) {
      this.#seal();
      this.#open(topic, partition, size);
    } else if (this.#at + size > this.#buf.length) {
      this.#grow(size);
    }
    this.#at = writeRecord(this.#buf, this.#view, this.#at, offset, eventTimeMs, ingestedAtMs, value);
    this.#count++;
    this.#lastOffset = offset;
  }

  /** The runs written since the last reset (the open one sealed). */
  runs(): RawRun[] {
    this.#seal();
    return this.#runs;
  }

  /** Forgets the runs: their bytes are overwritten by the next appends. */
  reset(): void {
    this.#seal();
    this.#runs = [];
    this.#at = 0;
    this.#sealedRows = 0;
    if (this.#buf.length > KEPT_SCRATCH_BYTES) this.#setBuffer(Buffer.allocUnsafe(2 * MAX_BATCH_BYTES));
  }

  #open(topic: string, partition: number, size: number): void {
    if (this.#at + HEADER_BYTES + size > this.#buf.length) {
      // Sealed runs keep the old buffer; new runs go to a new one.
      this.#setBuffer(Buffer.allocUnsafe(Math.max(this.#buf.length, 2 * (HEADER_BYTES + size))));
      this.#at = 0;
    }
    this.#start = this.#at;
    this.#buf[this.#at] = VERSION;
    this.#at += HEADER_BYTES;
    this.#count = 0;
    this.#topic = topic;
    this.#partition = partition;
    this.#lastOffset = -1;
  }

  /** Moves the open run to a buffer with room for `size` more bytes. */
  #grow(size: number): void {
    const old = this.#buf;
    const length = this.#at - this.#start;
    const grown = Buffer.allocUnsafe(Math.max(old.length, 2 * (length + size)));
    old.copy(grown, 0, this.#start, this.#at);
    this.#setBuffer(grown);
    this.#start = 0;
    this.#at = length;
  }

  #seal(): void {
    if (this.#start < 0) return;
    this.#view.setUint32(this.#start + 1, this.#count, true);
    this.#sealedRows += this.#count;
    this.#runs.push({
      topic: this.#topic,
      partition: this.#partition,
      bytes: this.#buf.subarray(this.#start, this.#at),
    });
    this.#start = -1;
  }

  #setBuffer(buf: Buffer): void {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }
}

/**
 * Checks that `run` holds one batch of this format whose offsets strictly increase within
 * [0, maxOffset]; returns its first and last offsets and its rows. A malformed run is the caller's
 * mistake: PULSE_STORE_BAD_ARGUMENT, naming what is wrong.
 */
export function checkRawRun(
  run: RawRun,
  maxOffset: number,
): { firstOffset: number; lastOffset: number; count: number; bytes: Buffer } {
  const where = `raw run of topic "${run.topic}" partition ${run.partition}`;
  if (typeof run.topic !== "string" || !(run.bytes instanceof Uint8Array)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `A raw run needs a topic (a string) and its rows as bytes (a Uint8Array written by RawRunWriter), got a ${where}.`,
    );
  }
  const bytes = asBuffer(run.bytes);
  let firstOffset = -1;
  let lastOffset = -1;
  let count = 0;
  try {
    scanRawBatch(bytes, (offset) => {
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > maxOffset || offset <= lastOffset) {
        throw new StoreError(
          StoreErrorCode.badArgument,
          `The ${where} holds offset ${offset} after ${lastOffset}: offsets must be whole numbers in [0, ${maxOffset}], strictly increasing.`,
        );
      }
      if (count === 0) firstOffset = offset;
      lastOffset = offset;
      count++;
      return true;
    });
  } catch (error) {
    if (error instanceof StoreError && error.code === StoreErrorCode.badArgument) throw error;
    throw new StoreError(
      StoreErrorCode.badArgument,
      `The ${where} is not a raw-lake batch (${error instanceof Error ? error.message : String(error)}); write runs with RawRunWriter.`,
      { cause: error },
    );
  }
  if (count === 0) {
    throw new StoreError(StoreErrorCode.badArgument, `The ${where} holds no rows; leave an empty run out.`);
  }
  return { firstOffset, lastOffset, count, bytes };
}

/**
 * Calls visit(offset, at) for each record of a batch, in offset order; `at` is the record's position
 * for readRawRecord. Stops early when visit returns false.
 */
export function scanRawBatch(bytes: Buffer, visit: (offset: number, at: number) => boolean): void {
  if (bytes.length < HEADER_BYTES || (bytes[0] !== VERSION && bytes[0] !== JSON_VERSION)) {
    throw corrupt("header");
  }
  // A DataView: Buffer's readUInt32LE and readDoubleLE check their arguments on every call.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = view.getUint32(1, true);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_HEADER_BYTES > bytes.length) throw corrupt("record header");
    const next = at + RECORD_HEADER_BYTES + view.getUint32(at + 24, true);
    if (next > bytes.length) throw corrupt("value");
    if (!visit(view.getFloat64(at, true), at)) return;
    at = next;
  }
  if (at !== bytes.length) throw corrupt("trailing bytes");
}

/**
 * The row of the record at `at` (a position scanRawBatch reported). Its value is a copy when `copy`,
 * else a view into `bytes`.
 */
export function readRawRecord(
  bytes: Buffer,
  at: number,
  topic: string,
  partition: number,
  copy = true,
): RawEventRow {
  const length = bytes.readUInt32LE(at + 24);
  const view = bytes.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length);
  return {
    topic,
    partition,
    offset: bytes.readDoubleLE(at),
    event_time: bytes.readDoubleLE(at + 8),
    ingested_at: bytes.readDoubleLE(at + 16),
    value: copy ? Buffer.from(view) : view,
  };
}

/** The event time of the record at `at` (a position scanRawBatch reported), read from its header alone. */
export function readRawEventTime(bytes: Buffer, at: number): number {
  return bytes.readDoubleLE(at + 8);
}

/** Every record of a batch as rows, their values views into `bytes`. */
export function decodeRawBatch(bytes: Buffer, topic: string, partition: number): RawEventRow[] {
  const rows: RawEventRow[] = [];
  scanRawBatch(bytes, (_offset, at) => {
    rows.push(readRawRecord(bytes, at, topic, partition, false));
    return true;
  });
  return rows;
}

function corrupt(part: string): StoreError {
  return new StoreError(
    StoreErrorCode.storage,
    `A raw-lake batch in the live store is corrupt (${part}); restore the store file from a backup or rebuild it by replaying the log.`,
  );
}
