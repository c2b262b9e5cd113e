// The schema registry in a Kafka topic: every process folds the topic's operations into the same ids.

import { randomUUID } from "node:crypto";
import { asBuffer } from "../../bytes.ts";
import { LogError, LogErrorCode, RegistryError } from "../../errors.ts";
import type { Log, LogRecord, TopicInfo } from "../../log/index.ts";
import { KafkaLog } from "../../log/kafka/index.ts";
import { checkSubject, parseVersion } from "../arguments.ts";
import { parseAvroSchema, parseCompatibilityLevel } from "../compatibility.ts";
import { SchemaRegistry } from "../embedded/registry.ts";
import { RegistryErrorCode, registryError } from "../errors.ts";
import {
  type CompatibilityLevel,
  type CompatibilityResult,
  DEFAULT_REGISTRY_TOPIC,
  type ReadOptions,
  type RegisteredSchema,
  RegistryBase,
  type SchemaRegistryApi,
  type VersionSpec,
} from "../index.ts";
import { decodeOperation, encodeOperation, type Operation } from "./operations.ts";

export type KafkaSchemaRegistryOptions = (
  | {
      /** The log holding the topic; the caller keeps it and closes it after the registry. */
      log: Log;
      brokers?: undefined;
    }
  | {
      /** Bootstrap brokers (host:port): the registry opens a Kafka log of its own and closes it. */
      brokers: readonly string[];
      log?: undefined;
    }
) & {
  /** The registry topic; default "_schemas". */
  topic?: string;
  /** Client id of the registry's own Kafka connections; default "pulse-registry". */
  clientId?: string;
};

/** Records read by one fetch while folding. */
const foldPageRecords = 500;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Confluent Schema Registry semantics shared by every process that reads one Kafka topic.
 *
 * The topic (1 partition, cleanup.policy=compact, no retention) is an ordered log of registry
 * operations. Each process folds it, in offset order, into an in-memory SchemaRegistry by calling the
 * same methods with the same arguments. SchemaRegistry is deterministic (ids come from SQLite
 * AUTOINCREMENT inside a transaction a failed operation rolls back), so every process derives the same
 * ids, versions, deletes and levels; the log's order decides between concurrent writers.
 *
 * - A mutation appends its operation, folds up to and past its offset, and returns what the fold got at
 *   that offset: an id, or the error (409 incompatible, 40401, ...) every other process also got there.
 * - A read first folds up to the topic's end (a fetch that returns nothing), so it sees every write that
 *   completed before it started, from any process.
 * - Keys are random UUIDs, so compaction never drops an operation: the topic keeps every operation ever
 *   written (one record per schema change; registering a schema that is already there writes nothing), and
 *   a hard delete leaves the schema text in the topic. Replaying it is how a process starts.
 * - The fold fails closed: a record that is not a Pulse operation, or a history that does not start at
 *   offset 0 (records deleted), stops every call with an error rather than derive different ids.
 */
export class KafkaSchemaRegistry extends RegistryBase implements SchemaRegistryApi {
  readonly topic: string;
  readonly #log: Log;
  readonly #ownsLog: boolean;
  readonly #memory: SchemaRegistry;
  /** Outcomes awaited by this process's own mutations, by record key. */
  readonly #waiting = new Map<string, (outcome: Outcome) => void>();
  /** The offset the fold reads next: the in-memory registry reflects every record below it. */
  #next = 0;
  #started: Promise<void> | undefined;
  /** The fold run in progress (or the last one); runs never overlap. */
  #running: Promise<void> = Promise.resolve();
  /** A fold run that has not started yet: callers arriving now can share it. */
  #queued: Promise<void> | undefined;
  #closed = false;

  private constructor(log: Log, ownsLog: boolean, topic: string) {
    super();
    this.#log = log;
    this.#ownsLog = ownsLog;
    this.topic = topic;
    this.#memory = SchemaRegistry.open({ path: ":memory:" });
  }

  /**
   * Connects lazily, like KafkaLog: the first call (or ready()) creates the topic when missing and
   * replays it, so opening never fails and a broker that is down shows as an error of that call.
   */
  static open(options: KafkaSchemaRegistryOptions): KafkaSchemaRegistry {
    const topic = options.topic ?? DEFAULT_REGISTRY_TOPIC;
    if (options.log !== undefined) return new KafkaSchemaRegistry(options.log, false, topic);
    const log = KafkaLog.open({ brokers: options.brokers, clientId: options.clientId ?? "pulse-registry" });
    return new KafkaSchemaRegistry(log, true, topic);
  }

  /** Creates the topic if needed and replays it; a failure is reported again by the next call, which retries. */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#started === undefined) {
      const started = this.#start();
      this.#started = started;
      started.catch(() => {
        if (this.#started === started) this.#started = undefined;
      });
    }
    return this.#guard(this.#started);
  }

  /** Waits for the fold in progress, then closes the in-memory registry and the log when it is the registry's own. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([this.#started, this.#running]);
    this.#memory.close();
    if (this.#ownsLog) await this.#log.close();
  }

  // Mutations -----------------------------------------------------------------------------------

  async register(subject: string, schema: string): Promise<number> {
    return (await this.registerVersion(subject, schema)).id;
  }

  async registerVersion(subject: string, schema: string): Promise<RegisteredSchema> {
    checkSubject(subject);
    const canonical = parseAvroSchema(schema).canonical;
    // Already live in the subject: registering again changes nothing, so nothing is written.
    await this.#catchUp();
    const existing = await this.#memory.lookup(subject, canonical).catch(() => undefined);
    if (existing !== undefined) return existing;
    return this.#mutate({ op: "register", subject, schema: canonical });
  }

  async setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel> {
    const parsed = parseCompatibilityLevel(level);
    if (subject !== undefined) checkSubject(subject);
    return this.#mutate(
      subject === undefined
        ? { op: "set_config", level: parsed }
        : { op: "set_config", level: parsed, subject },
    );
  }

  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    return this.#mutate(subject === undefined ? { op: "delete_config" } : { op: "delete_config", subject });
  }

  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.#mutate({ op: "delete_subject", subject, permanent });
  }

  async deleteVersion(subject: string, version: VersionSpec, permanent = false): Promise<number> {
    return this.#mutate({ op: "delete_version", subject, version: parseVersion(version), permanent });
  }

  // Reads: up to date with the topic's end, then answered by the in-memory registry --------------

  async getSchemaById(id: number): Promise<string> {
    await this.#catchUp();
    return this.#memory.getSchemaById(id);
  }

  async getSubjectVersionsForId(
    id: number,
    options: ReadOptions = {},
  ): Promise<{ subject: string; version: number }[]> {
    await this.#catchUp();
    return this.#memory.getSubjectVersionsForId(id, options);
  }

  async getVersion(
    subject: string,
    version: VersionSpec,
    options: ReadOptions = {},
  ): Promise<RegisteredSchema> {
    await this.#catchUp();
    return this.#memory.getVersion(subject, version, options);
  }

  async listSubjects(options: ReadOptions = {}): Promise<string[]> {
    await this.#catchUp();
    return this.#memory.listSubjects(options);
  }

  async listVersions(subject: string, options: ReadOptions = {}): Promise<number[]> {
    await this.#catchUp();
    return this.#memory.listVersions(subject, options);
  }

  async lookup(subject: string, schema: string, options: ReadOptions = {}): Promise<RegisteredSchema> {
    await this.#catchUp();
    return this.#memory.lookup(subject, schema, options);
  }

  async testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityResult> {
    await this.#catchUp();
    return this.#memory.testCompatibility(subject, version, schema);
  }

  async getConfig(subject?: string): Promise<CompatibilityLevel> {
    await this.#catchUp();
    return this.#memory.getConfig(subject);
  }

  async getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined> {
    await this.#catchUp();
    return this.#memory.getSubjectConfig(subject);
  }

  // The fold ------------------------------------------------------------------------------------

  async #start(): Promise<void> {
    let info: TopicInfo;
    try {
      const spec = { name: this.topic, partitions: 1 };
      info =
        this.#log instanceof KafkaLog
          ? await this.#log.ensureTopic(spec, { configs: { "cleanup.policy": "compact" } })
          : await this.#log.ensureTopic(spec);
    } catch (error) {
      if (error instanceof LogError && error.code === LogErrorCode.topicExists) {
        throw registryError(
          RegistryErrorCode.storeFailed,
          `the registry topic "${this.topic}" has ${String(error.details.partitions)} partitions; a registry needs exactly 1, so that every process reads its operations in one order: name another topic (registry: kafka:<topic>)`,
          { cause: error, retriable: false },
        );
      }
      throw error;
    }
    // Pulse's own retention (`enforceRetention`) deletes by these settings whatever the cleanup policy.
    const { maxAgeMs, maxSizeBytes } = info.retention;
    if (maxAgeMs !== undefined || maxSizeBytes !== undefined) {
      throw registryError(
        RegistryErrorCode.storeFailed,
        `the registry topic "${this.topic}" deletes old records (retention.ms=${maxAgeMs ?? -1}, retention.bytes=${maxSizeBytes ?? -1}), but the registry needs every operation ever written: set both to -1 (kafka-configs.sh --alter --entity-type topics --entity-name ${this.topic} --add-config retention.ms=-1,retention.bytes=-1) or name another topic (registry: kafka:<topic>)`,
        { retriable: false, details: { topic: this.topic } },
      );
    }
    await this.#fold();
  }

  /** Folds up to the topic's end as of now: shares a run that has not started yet, else queues one. */
  async #catchUp(): Promise<void> {
    await this.ready();
    if (this.#queued === undefined) {
      const run = this.#running
        .catch(() => undefined)
        .then(() => {
          this.#queued = undefined;
          if (this.#closed) throw closedError();
          return this.#fold();
        });
      this.#queued = run;
      this.#running = run;
    }
    return this.#guard(this.#queued);
  }

  /** Applies records from #next until a fetch returns none (the end of the topic when it was asked). */
  async #fold(): Promise<void> {
    for (;;) {
      const page = await this.#log.fetch(this.topic, 0, this.#next, { maxRecords: foldPageRecords });
      if (page.length === 0) return;
      for (const record of page) {
        if (this.#next === 0 && record.offset > 0) {
          throw registryError(
            RegistryErrorCode.storeFailed,
            `the registry topic "${this.topic}" starts at offset ${record.offset}: the operations before it were deleted, so the ids cannot be rebuilt; restore the topic, or name a new one (registry: kafka:<topic>) and register the schemas again`,
            { retriable: false, details: { topic: this.topic, offset: record.offset } },
          );
        }
        await this.#apply(record);
        this.#next = record.offset + 1;
      }
    }
  }

  async #apply(record: LogRecord): Promise<void> {
    const operation = decodeOperation(record, this.topic);
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await this.#perform(operation) };
    } catch (error) {
      // The in-memory database itself failed: stop here (its transaction rolled back) rather than skip.
      if (error instanceof RegistryError && error.code === RegistryErrorCode.storeFailed) throw error;
      outcome = { ok: false, error };
    }
    const key = record.key === null ? undefined : asBuffer(record.key).toString("utf8");
    const waiter = key === undefined ? undefined : this.#waiting.get(key);
    if (waiter !== undefined && key !== undefined) {
      this.#waiting.delete(key);
      waiter(outcome);
    }
  }

  #perform(operation: Operation): Promise<unknown> {
    const memory = this.#memory;
    switch (operation.op) {
      case "register":
        return memory.registerVersion(operation.subject, operation.schema);
      case "delete_subject":
        return memory.deleteSubject(operation.subject, operation.permanent);
      case "delete_version":
        return memory.deleteVersion(operation.subject, operation.version, operation.permanent);
      case "set_config":
        return memory.setConfig(operation.level, operation.subject);
      case "delete_config":
        return memory.deleteConfig(operation.subject);
    }
  }

  /** Appends the operation, folds past it, and settles as the fold did at its offset. */
  async #mutate<T>(operation: Operation): Promise<T> {
    await this.ready();
    const key = randomUUID();
    const outcome = new Promise<Outcome>((resolve) => this.#waiting.set(key, resolve));
    try {
      const [position] = await this.#guard(
        this.#log.produce(this.topic, [
          { key: Buffer.from(key, "utf8"), value: encodeOperation(operation), partition: 0 },
        ]),
      );
      await this.#catchUp();
      if (this.#waiting.has(key)) {
        throw registryError(
          RegistryErrorCode.storeFailed,
          `the registry topic "${this.topic}" acknowledged an operation at offset ${position.offset}, but reading the topic did not find it there`,
        );
      }
    } finally {
      this.#waiting.delete(key);
    }
    const settled = await outcome;
    if (!settled.ok) throw settled.error;
    return settled.value as T;
  }

  /** The log's failures as registry errors: an unreachable broker is 503 and retriable. */
  async #guard<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof RegistryError) throw error;
      if (error instanceof LogError) {
        const code =
          error.code === LogErrorCode.unavailable
            ? RegistryErrorCode.unreachable
            : RegistryErrorCode.storeFailed;
        throw registryError(code, `the registry topic "${this.topic}": ${error.message}`, {
          cause: error,
          retriable: error.retriable,
        });
      }
      throw error;
    }
  }
}

function closedError(): RegistryError {
  return registryError(RegistryErrorCode.storeFailed, "the registry is closed", { retriable: false });
}
