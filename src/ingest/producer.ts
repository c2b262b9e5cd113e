// The one way events enter the log: validate against the contract, encode to Avro, produce; rejects go to `<topic>.dlq`.

import { contractFor, SCHEMA_TEXTS, subjectFor } from "../contracts/schemas.ts";
import {
  type DeadLetter,
  deadLetterTopic,
  TOPICS,
  type UserActivityV2,
  type WikimediaRecentChange,
} from "../contracts/types.ts";
import {
  describeIssues,
  type ValidationIssue,
  type ValidationResult,
  validateActivity,
  validateRecentChange,
} from "../contracts/validate.ts";
import { ConfigError, SerdeError, ValidationErrorCode } from "../errors.ts";
import type {
  Log,
  ProduceRecord,
  RecordHeaders,
  RecordPosition,
  RetentionPolicy,
  TopicInfo,
} from "../log/index.ts";
import type { AvroSerde, Encoder } from "../serde/index.ts";
import { frameSchemaId } from "../serde/wire-format.ts";
import { mapRecentChange } from "./wikimedia/mapping.ts";
import { asBuffer, TextCache } from "../bytes.ts";

/** A reason a record was rejected: a validation issue, or an encode failure in the same shape. */
export type RejectReason = Pick<ValidationIssue, "field" | "message"> & { code: string };

export interface ContractProducerOptions<T> {
  log: Log;
  serde: AvroSerde;
  topic: string;
  /** Registry subject of the values; defaults to the topic's contract, else `<topic>-value`. */
  subject?: string;
  /** Writer schema; defaults to the topic's contract schema. */
  schemaText?: string;
  keyOf: (value: T) => string;
  /** Checks one raw event; `nowMs` is the send's processing time (read once a send). */
  validate: (raw: unknown, nowMs: number) => ValidationResult<T>;
  /** Processing-time clock, given to validate and stamped on dead letters as failed_at. */
  nowMs?: () => number;
  /** Most records in one produce call; larger sends are split, each part durable before the promise resolves. */
  maxBatch?: number;
  /** Value of the `pulse-source` header (e.g. "simulator", "collector"); no header when absent. */
  source?: string;
  /** Record timestamp (Kafka CreateTime) per value; when absent the log stamps append time. */
  timestampOf?: (value: T) => number;
  /**
   * True when an EncodedRecord's frame (its schema id checked already) holds a value `validate` would
   * accept at `nowMs`, judged from the bytes; without it every EncodedRecord takes the usual path.
   */
  checkEncoded?: (frame: Buffer, nowMs: number) => boolean;
}

export interface RejectedRecord {
  /** Position of the record in the array given to send(). */
  index: number;
  errors: RejectReason[];
}

export interface SendResult {
  accepted: number;
  rejected: RejectedRecord[];
  /** Positions of the accepted records on the topic, in input order. */
  positions: RecordPosition[];
  /** Positions of the dead letters on `<topic>.dlq`, in the order of `rejected`. */
  deadLetterPositions: RecordPosition[];
}

/** Running totals since the producer was made, for the status line. */
export interface ProducerCounters {
  accepted: number;
  rejected: number;
  /** Key, value and header bytes produced to the topic and its dead-letter topic. */
  bytes: number;
}

/**
 * A value a source encoded already, with the writer schema whose id the producer's valueSchemaId() gives,
 * keyed as keyOf would key it. The producer appends it when its checkEncoded option accepts the bytes,
 * and otherwise takes raw() the usual way (validated, encoded, or dead-lettered with its reasons).
 */
export abstract class EncodedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
  headers?: RecordHeaders;

  constructor(key: Buffer, value: Buffer) {
    this.key = key;
    this.value = value;
  }

  /** The event as the usual path takes it. */
  abstract raw(): unknown;
}

export const SOURCE_HEADER = "pulse-source";
const DEFAULT_MAX_BATCH = 5_000;

export class ContractProducer<T = unknown> {
  readonly topic: string;
  readonly deadLetterTopic: string;
  private readonly options: ContractProducerOptions<T>;
  private readonly subject: string;
  private readonly schemaText: string;
  private readonly maxBatch: number;
  private readonly headers: RecordHeaders | undefined;
  private readonly headersBytes: number;
  private encoders: Promise<Encoders<T>> | undefined;
  private readonly totals: ProducerCounters = { accepted: 0, rejected: 0, bytes: 0 };
  private readonly keys = new TextCache();

  constructor(options: ContractProducerOptions<T>) {
    this.options = options;
    this.topic = options.topic;
    this.deadLetterTopic = deadLetterTopic(options.topic);
    const known = safeContract(options.topic);
    this.subject = options.subject ?? known?.subject ?? subjectFor(options.topic);
    const schemaText = options.schemaText ?? known?.schemaText;
    if (schemaText === undefined) {
      throw new ConfigError(
        `Topic "${options.topic}" has no contract; pass schemaText to the ContractProducer`,
      );
    }
    this.schemaText = schemaText;
    this.maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
    if (options.source !== undefined) {
      // One shared header object: the log copies what it stores, and each record would hold the same bytes.
      const value = Buffer.from(options.source, "utf8");
      this.headers = { [SOURCE_HEADER]: value };
      this.headersBytes = SOURCE_HEADER.length + value.length;
    } else {
      this.headersBytes = 0;
    }
  }

  /** Creates the topic and its dead-letter topic with the same partition count (idempotent). */
  async ensureTopics(partitions: number, retention?: RetentionPolicy): Promise<TopicInfo[]> {
    const main = await this.options.log.ensureTopic({ name: this.topic, partitions, retention });
    const dlq = await this.options.log.ensureTopic({ name: this.deadLetterTopic, partitions, retention });
    return [main, dlq];
  }

  /** Registers both schemas now instead of on the first send. */
  async ready(): Promise<void> {
    await this.getEncoders();
  }

  /** The registry id of the values' writer schema (registering it if need be), for EncodedRecord sources. */
  async valueSchemaId(): Promise<number> {
    return (await this.getEncoders()).id;
  }

  get counters(): ProducerCounters {
    return { ...this.totals };
  }

  /**
   * Validates and encodes each raw event; valid ones go to the topic keyed by keyOf, invalid ones to the
   * dead-letter topic with their reasons. Resolves once both batches are durable.
   */
  async send(raws: readonly unknown[]): Promise<SendResult> {
    const encoders = await this.getEncoders();
    const good: ProduceRecord[] = [];
    const bad: ProduceRecord[] = [];
    const rejected: RejectedRecord[] = [];
    let bytes = 0;
    const nowMs = (this.options.nowMs ?? Date.now)();

    const { checkEncoded } = this.options;
    for (let index = 0; index < raws.length; index++) {
      let raw = raws[index];
      if (raw instanceof EncodedRecord) {
        if (
          checkEncoded !== undefined &&
          this.options.timestampOf === undefined &&
          frameSchemaId(raw.value) === encoders.id &&
          checkEncoded(raw.value, nowMs)
        ) {
          if (this.headers !== undefined) raw.headers = this.headers;
          good.push(raw);
          bytes += raw.key.length + raw.value.length + this.headersBytes;
          continue;
        }
        raw = raw.raw();
      }
      const result = this.options.validate(raw, nowMs);
      let errors: RejectReason[];
      if (result.ok) {
        try {
          const value = encoders.value(result.value);
          const key = this.keys.bytes(this.options.keyOf(result.value));
          const record: ProduceRecord =
            this.headers === undefined ? { key, value } : { key, value, headers: this.headers };
          if (this.options.timestampOf) record.timestampMs = this.options.timestampOf(result.value);
          good.push(record);
          bytes += key.length + value.length + this.headersBytes;
          continue;
        } catch (err) {
          // Validation and schema disagree (e.g. a custom validate); the record is still not lost.
          if (!(err instanceof SerdeError)) throw err;
          errors = [{ code: err.code, field: "$", message: err.message }];
        }
      } else {
        errors = result.errors;
      }
      const letter: DeadLetter = {
        source_topic: this.topic,
        source_partition: null,
        source_offset: null,
        error_code: errors[0]?.code ?? ValidationErrorCode.schemaMismatch,
        error_message: describeIssues(errors),
        raw: rawBytes(raw),
        failed_at: nowMs,
      };
      const value = encoders.deadLetter(letter);
      const record: ProduceRecord = { key: null, value };
      if (this.headers) record.headers = this.headers;
      bad.push(record);
      bytes += value.length + this.headersBytes;
      rejected.push({ index, errors });
    }

    const [positions, deadLetterPositions] = await Promise.all([
      this.produceAll(this.topic, good),
      this.produceAll(this.deadLetterTopic, bad),
    ]);
    this.totals.accepted += good.length;
    this.totals.rejected += bad.length;
    this.totals.bytes += bytes;
    return { accepted: good.length, rejected, positions, deadLetterPositions };
  }

  private async produceAll(topic: string, records: ProduceRecord[]): Promise<RecordPosition[]> {
    if (records.length === 0) return [];
    if (records.length <= this.maxBatch) return this.options.log.produce(topic, records);
    const positions: RecordPosition[] = [];
    for (let start = 0; start < records.length; start += this.maxBatch) {
      // Sequential on purpose: parts land in input order, so positions stay in input order per key.
      const part = await this.options.log.produce(topic, records.slice(start, start + this.maxBatch));
      for (const p of part) positions.push(p);
    }
    return positions;
  }

  private getEncoders(): Promise<Encoders<T>> {
    if (!this.encoders) {
      const { serde } = this.options;
      const made = Promise.all([
        serde.encoder<T>(this.subject, this.schemaText),
        serde.encoder<DeadLetter>(subjectFor(this.deadLetterTopic), SCHEMA_TEXTS.deadLetter),
        serde.schemaId(this.subject, this.schemaText),
      ]).then(([value, deadLetter, id]) => ({ value, deadLetter, id }));
      this.encoders = made;
      // A registry that was down must not stay cached as a failure.
      made.catch(() => {
        if (this.encoders === made) this.encoders = undefined;
      });
    }
    return this.encoders;
  }
}

interface Encoders<T> {
  value: Encoder<T>;
  deadLetter: Encoder<DeadLetter>;
  /** The registry id of the value's writer schema. */
  id: number;
}

/** What the two ready-made producers need; validation uses the same processing-time clock. */
export interface SourceProducerOptions {
  log: Log;
  serde: AvroSerde;
  source?: string;
  nowMs?: () => number;
  maxFutureSkewMs?: number;
  maxBatch?: number;
}

/** The activity producer's options: checkEncoded, when given, judges EncodedRecords with the same rules. */
export interface ActivityProducerOptions extends SourceProducerOptions {
  checkEncoded?: (frame: Buffer, nowMs: number, maxFutureSkewMs: number | undefined) => boolean;
}

/** The `user-activity` producer: v2 schema, keyed by user_id. */
export function activityProducer(options: ActivityProducerOptions): ContractProducer<UserActivityV2> {
  const { maxFutureSkewMs, checkEncoded } = options;
  return new ContractProducer<UserActivityV2>({
    ...options,
    topic: TOPICS.activity,
    keyOf: (e) => e.user_id,
    validate: (raw, nowMs) => validateActivity(raw, { nowMs, maxFutureSkewMs }),
    checkEncoded:
      checkEncoded === undefined ? undefined : (frame, nowMs) => checkEncoded(frame, nowMs, maxFutureSkewMs),
  });
}

/**
 * The `wikimedia.recentchange` producer, keyed by wiki. It takes raw EventStreams JSON (either shape) and
 * maps it to the contract first; a mapping failure is dead-lettered like a validation failure.
 */
export function recentChangeProducer(
  options: SourceProducerOptions,
): ContractProducer<WikimediaRecentChange> {
  const { maxFutureSkewMs } = options;
  return new ContractProducer<WikimediaRecentChange>({
    ...options,
    topic: TOPICS.wikimedia,
    keyOf: (c) => c.wiki,
    validate: (raw, nowMs): ValidationResult<WikimediaRecentChange> => {
      const mapped = mapRecentChange(raw);
      if (!mapped.ok) {
        return {
          ok: false,
          errors: [{ code: mapped.code as ValidationIssue["code"], field: "$", message: mapped.message }],
        };
      }
      return validateRecentChange(mapped.value, { nowMs, maxFutureSkewMs });
    },
  });
}

function safeContract(topic: string) {
  try {
    return contractFor(topic);
  } catch {
    return undefined;
  }
}

/** The bytes a dead letter keeps: raw bytes as given, text as UTF-8, anything else as its JSON text. */
function rawBytes(raw: unknown): Buffer {
  if (raw instanceof Uint8Array) return asBuffer(raw);
  if (typeof raw === "string") return Buffer.from(raw, "utf8");
  try {
    return Buffer.from(JSON.stringify(raw) ?? "", "utf8");
  } catch {
    // Circular or BigInt-holding objects have no JSON text; keep what can be said about them.
    return Buffer.from(String(raw), "utf8");
  }
}
