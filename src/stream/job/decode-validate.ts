// Decode and validate, per record: each read from its frame or decoded, checked, then aggregated or dead-lettered.
//
// This is the per-record loop, the hottest code in Pulse. Aggregating each valid event (aggregator.process)
// and routing it to the late output and the raw lake stay in this file with the decoding and validation:
// in another module they would cost a call or a lookup per record. The job calls it once per partition run.

import type { DeadLetter } from "../../contracts/types.ts";
import { describeIssues } from "../../contracts/validate.ts";
import { SerdeError } from "../../errors.ts";
import type { LogRecord, ProduceRecord } from "../../log/index.ts";
import { type AvroSerde, frameSchemaId } from "../../serde/index.ts";
import type { StoreBatch } from "../../store/index.ts";
import { RawRunWriter } from "../../lake/batch.ts";
import { asBuffer } from "../../bytes.ts";
import { ActivityFrame } from "../activity-frame.ts";
import { ProcessOutcome } from "../operator.ts";
import type { BatchState } from "./batch-state.ts";
import type { PartitionCursor } from "./cursor.ts";
import { JOB_HEADER } from "./options.ts";
import type { AnyPipeline } from "./pipelines.ts";

/** Applies a batch's fetched records to their pipelines; one a job, its raw-lake runs reused batch after batch. */
export class RecordApplier {
  readonly #serde: AvroSerde;
  readonly #rawLake: boolean;
  /** The raw lake's rows of the batch being built, as encoded runs (reset at each batch). */
  readonly #rawRuns = new RawRunWriter();
  readonly #jobHeader: Buffer;

  constructor(serde: AvroSerde, rawLake: boolean, jobHeader: Buffer) {
    this.#serde = serde;
    this.#rawLake = rawLake;
    this.#jobHeader = jobHeader;
  }

  /**
   * Starts a batch. The raw lake's rows go straight into encoded runs (no object per row); the last
   * batch's runs are committed by now, so their bytes can be written over.
   */
  startBatch(): void {
    this.#rawRuns.reset();
  }

  /** The raw lake's rows of the batch, for its store commit. */
  rawRuns(): NonNullable<StoreBatch["rawRuns"]> {
    return this.#rawRuns.runs();
  }

  /**
   * Applies records[from…] to the pipeline, synchronously; returns the index of the first record whose
   * writer schema is not cached (the caller asks the registry for it: applyFetching), or records.length.
   */
  applyRecords(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    records: readonly LogRecord[],
    from: number,
    state: BatchState,
  ): number {
    const validateOptions = state.validateOptions;
    const serde = this.#serde;
    for (let i = from; i < records.length; i++) {
      const record = records[i]!;
      // Future skew is judged against the record's log timestamp, not the wall clock, so a replay
      // after a crash makes the same decision as the first attempt.
      validateOptions.nowMs = record.timestampMs;
      const frame = pipeline.frameOf(record.value, serde);
      if (frame?.rulesPass(validateOptions)) {
        this.#applyEvent(pipeline, cursor, record, frame, state);
        continue;
      }
      const decoded = this.#decodeCached(pipeline, record);
      if (decoded === undefined) return i;
      this.#applyDecoded(pipeline, cursor, record, decoded, state);
    }
    return records.length;
  }

  /**
   * Applies records[at…], starting with a record whose writer schema is not cached: each such record
   * waits for the registry, and the records after it go synchronously again.
   */
  async applyFetching(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    records: readonly LogRecord[],
    at: number,
    state: BatchState,
  ): Promise<void> {
    while (at < records.length) {
      const record = records[at]!;
      this.#applyDecoded(pipeline, cursor, record, await this.#decodeFetching(pipeline, record), state);
      at = this.applyRecords(pipeline, cursor, records, at + 1, state);
    }
  }

  /** Validates a decoded record and applies it, or dead-letters it with the reason. */
  #applyDecoded(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    decoded: Decoded,
    state: BatchState,
  ): void {
    let failure: { code: string; message: string };
    if (decoded.ok) {
      state.validateOptions.nowMs = record.timestampMs;
      const result = pipeline.spec.validate(decoded.value, state.validateOptions);
      if (result.ok) {
        this.#applyEvent(pipeline, cursor, record, result.value, state);
        return;
      }
      failure = { code: result.errors[0]!.code, message: describeIssues(result.errors) };
    } else {
      failure = decoded;
    }
    cursor.deadLettered++;
    state.counts.deadLettered++;
    if (cursor.recovered.has(record.offset)) return;
    let entry = state.dlqByPipeline.get(pipeline);
    if (entry === undefined) {
      entry = { records: [], cursors: [] };
      state.dlqByPipeline.set(pipeline, entry);
    }
    entry.records.push(this.#deadLetter(pipeline, cursor, record, failure, state.nowMs));
    entry.cursors.push(cursor);
  }

  /** Runs a valid event through the aggregator and routes it: counted, late output, raw lake. */
  #applyEvent(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    event: unknown,
    state: BatchState,
  ): void {
    const { aggregator, spec } = pipeline;
    const p = cursor.partition;
    const eventTimeMs = spec.eventTimeMs(event);
    if (eventTimeMs < state.minEventTimeMs) state.minEventTimeMs = eventTimeMs;
    if (eventTimeMs > state.maxEventTimeMs) state.maxEventTimeMs = eventTimeMs;
    const outcome = aggregator.process(event, p, record.offset);
    if (outcome === ProcessOutcome.duplicate) {
      state.counts.duplicates++;
      return;
    }
    if (outcome === ProcessOutcome.replayed) return;
    const stored = record.offset < cursor.replayUntil;
    if (outcome === ProcessOutcome.late) {
      state.counts.late++;
      if (stored) return;
      state.rows.lateEvents.push({
        topic: pipeline.topic,
        partition: p,
        offset: record.offset,
        event_time: eventTimeMs,
        watermark: aggregator.partitionWatermark(p),
        payload: JSON.stringify(
          event instanceof ActivityFrame ? this.#serde.decodeSync(record.value, spec.readerType) : event,
        ),
      });
    } else {
      state.counts.accepted++;
    }
    // Late events are valid events too: the batch layer needs them for exact daily totals. The lake
    // keeps the record's value as it is: validation never rewrites an event, so it is the cleaned
    // one, and copying bytes costs far less than writing the event out again.
    if (this.#rawLake && !stored) {
      this.#rawRuns.append(pipeline.topic, p, record.offset, eventTimeMs, state.nowMs, record.value!);
    }
  }

  /**
   * The hot path: decodes a frame whose writer schema is cached, without a promise per record.
   * Returns undefined when the schema id is not cached yet (#decodeFetching asks the registry).
   */
  #decodeCached(pipeline: AnyPipeline, record: LogRecord): Decoded | undefined {
    // Not a frame at all (−1): decodeSync says why.
    const id = frameSchemaId(record.value);
    if (id >= 0 && !this.#serde.hasSchema(id)) return undefined;
    try {
      return { ok: true, value: this.#serde.decodeSync(record.value, pipeline.spec.readerType) };
    } catch (error) {
      return decodeFailure(error);
    }
  }

  async #decodeFetching(pipeline: AnyPipeline, record: LogRecord): Promise<Decoded> {
    try {
      return { ok: true, value: await this.#serde.decode(record.value, pipeline.spec.readerType) };
    } catch (error) {
      return decodeFailure(error);
    }
  }

  #deadLetter(
    pipeline: AnyPipeline,
    cursor: PartitionCursor,
    record: LogRecord,
    failure: { code: string; message: string },
    nowMs: number,
  ): ProduceRecord {
    const letter: DeadLetter = {
      source_topic: pipeline.topic,
      source_partition: cursor.partition,
      source_offset: record.offset,
      error_code: failure.code,
      error_message: failure.message,
      raw: record.value === null ? Buffer.alloc(0) : asBuffer(record.value),
      failed_at: nowMs,
    };
    return {
      key: record.key === null ? null : asBuffer(record.key),
      value: pipeline.deadLetterEncoder!(letter),
      headers: { [JOB_HEADER]: this.#jobHeader },
      partition: cursor.dlqPartition,
    };
  }
}

type Decoded = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** Bytes that are not a valid frame are dead-lettered; a retriable failure (registry unreachable) stops the job. */
function decodeFailure(error: unknown): Decoded {
  if (error instanceof SerdeError && !error.retriable)
    return { ok: false, code: error.code, message: error.message };
  throw error;
}
