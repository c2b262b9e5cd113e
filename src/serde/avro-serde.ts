// Avro values to and from Confluent wire-format bytes, with writer schemas fetched from the registry once per id.

import { RegistryError, SerdeError, SerdeErrorCode } from "../errors.ts";
import type { SchemaRegistryClient } from "../registry/index.ts";
import { type AvroType, parseSchema, SCHEMA_TEXTS } from "../contracts/schemas.ts";
import type { UserActivityV2 } from "../contracts/types.ts";
import { FALLBACK, writeActivityV2 } from "./activity-writer.ts";
import { asBuffer } from "../bytes.ts";
import { HEADER_BYTES, readSchemaId, writeHeader } from "./wire-format.ts";

/** Encodes one value into a fresh Buffer holding a whole frame; throws SerdeError when the value does not fit the schema. */
export type Encoder<T = unknown> = (value: T) => Buffer;

type Resolver = ReturnType<AvroType["createResolver"]>;

export interface AvroSerdeOptions {
  /** Size of the slabs an encoder writes its frames into (default 64 KiB); a larger frame gets a slab of its own. */
  slabBytes?: number;
}

// Confluent's "schema not found" error code.
const SCHEMA_NOT_FOUND = 40403;

// Stands for "reader and writer are the same schema": read with the type itself, no resolver needed.
const SAME_SCHEMA = null;

export class AvroSerde {
  readonly registry: SchemaRegistryClient;
  private readonly slabBytes: number;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly writers = new Map<number, AvroType>();
  private readonly fetching = new Map<number, Promise<AvroType>>();
  private readonly resolvers = new Map<number, Map<AvroType, Resolver | typeof SAME_SCHEMA>>();

  constructor(registry: SchemaRegistryClient, options: AvroSerdeOptions = {}) {
    this.registry = registry;
    this.slabBytes = options.slabBytes ?? 64 * 1024;
  }

  /** Registers the schema under the subject once per serde and returns its id. */
  schemaId(subject: string, schemaText: string): Promise<number> {
    const key = `${subject}\u0000${schemaText}`;
    let id = this.ids.get(key);
    if (!id) {
      id = this.registry.register(subject, schemaText);
      this.ids.set(key, id);
      // A failed registration must not poison the cache: the next call tries again.
      id.catch(() => this.ids.delete(key));
    }
    return id;
  }

  /**
   * Registers the schema (once) and returns a synchronous encoder for it. Each frame it returns is a
   * Buffer of its own bytes (a view of a slab no other frame shares bytes with), valid for good.
   */
  async encoder<T = unknown>(subject: string, schemaText: string): Promise<Encoder<T>> {
    const id = await this.schemaId(subject, schemaText);
    const type = parseSchema(schemaText);
    // The writer schema of our own frames is known already; decoding them needs no fetch.
    if (!this.writers.has(id)) this.writers.set(id, type);
    // Frames are written straight into a slab and handed out as views of it, as Buffer.allocUnsafe
    // carves small Buffers out of its pool, without a scratch buffer to copy out of. A frame that does
    // not fit in what is left of the slab starts a new one; a slab is never written over.
    const slabBytes = Math.max(this.slabBytes, HEADER_BYTES + 16);
    let slab = Buffer.allocUnsafeSlow(slabBytes);
    let used = 0;
    const renew = (atLeast: number): void => {
      slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, atLeast));
      used = 0;
    };
    // UserActivity v2, the producer's hot path, has a writer of its own that writes avsc's bytes.
    const write =
      schemaText === SCHEMA_TEXTS.userActivityV2
        ? (value: T, buf: Buffer, pos: number): number => writeActivityV2(value as UserActivityV2, buf, pos)
        : (_value: T, _buf: Buffer, _pos: number): number => FALLBACK;
    return (value: T): Buffer => {
      let end: number;
      try {
        if (slab.length - used < HEADER_BYTES + 16) renew(0);
        end = write(value, slab, used + HEADER_BYTES);
        if (end < FALLBACK) {
          // The writer returns minus the bytes it needs from where it starts when the slab is too small.
          renew(HEADER_BYTES - end);
          end = write(value, slab, HEADER_BYTES);
        }
        if (end === FALLBACK) end = type.encode(value, slab, used + HEADER_BYTES);
        while (end < 0) {
          // encode() returns minus the number of missing bytes when the slab is too small.
          renew(slab.length - used - end);
          end = type.encode(value, slab, HEADER_BYTES);
        }
      } catch {
        throw encodeError(subject, type, value);
      }
      writeHeader(slab, id, used);
      const frame = slab.subarray(used, end);
      used = end;
      return frame;
    };
  }

  /** The writer schema of this id when it is cached (see writerType), else undefined. */
  cachedWriterType(id: number): AvroType | undefined {
    return this.writers.get(id);
  }

  /** True when the writer schema of this id is cached, so decodeSync can read its frames. */
  hasSchema(id: number): boolean {
    return this.writers.has(id);
  }

  /** The writer schema of an id, fetched from the registry once; concurrent callers share the fetch. */
  writerType(id: number): Promise<AvroType> {
    const cached = this.writers.get(id);
    if (cached) return Promise.resolve(cached);
    let pending = this.fetching.get(id);
    if (!pending) {
      pending = this.fetchWriter(id);
      this.fetching.set(id, pending);
      const clear = () => this.fetching.delete(id);
      pending.then(clear, clear);
    }
    return pending;
  }

  /** Decodes a frame, resolving the writer schema into `readerType` when given (else reads as written). */
  async decode<T = unknown>(buf: Uint8Array | null, readerType?: AvroType): Promise<T> {
    const id = readSchemaId(buf);
    const writer = this.writers.get(id) ?? (await this.writerType(id));
    return this.decodeWith<T>(asBuffer(buf!), id, writer, readerType);
  }

  /**
   * The hot-path decode, for frames whose writer schema is cached (see hasSchema / writerType). An
   * uncached id throws PULSE_SERDE_UNKNOWN_SCHEMA_ID flagged retriable: `await decode()` will fetch it.
   */
  decodeSync<T = unknown>(buf: Uint8Array | null, readerType?: AvroType): T {
    const id = readSchemaId(buf);
    const writer = this.writers.get(id);
    if (!writer) {
      throw new SerdeError(
        SerdeErrorCode.unknownSchemaId,
        `Writer schema ${id} is not cached yet; decode() fetches it from the registry`,
        { retriable: true, details: { schemaId: id } },
      );
    }
    return this.decodeWith<T>(asBuffer(buf!), id, writer, readerType);
  }

  private async fetchWriter(id: number): Promise<AvroType> {
    let text: string;
    try {
      text = await this.registry.getSchemaById(id);
    } catch (cause) {
      if (cause instanceof RegistryError && cause.confluentCode === SCHEMA_NOT_FOUND) {
        throw new SerdeError(
          SerdeErrorCode.unknownSchemaId,
          `Schema id ${id} is not in the schema registry; the record was written against another registry or the id is corrupt`,
          { cause, details: { schemaId: id } },
        );
      }
      throw cause;
    }
    let type: AvroType;
    try {
      type = parseSchema(text);
    } catch (cause) {
      throw new SerdeError(
        SerdeErrorCode.invalidPayload,
        `Schema id ${id} in the registry is not a valid Avro schema`,
        {
          cause,
          details: { schemaId: id },
        },
      );
    }
    this.writers.set(id, type);
    return type;
  }

  private resolverFor(id: number, writer: AvroType, reader: AvroType): Resolver | typeof SAME_SCHEMA {
    let byReader = this.resolvers.get(id);
    if (!byReader) {
      byReader = new Map();
      this.resolvers.set(id, byReader);
    }
    let resolver = byReader.get(reader);
    if (resolver === undefined) {
      try {
        resolver = reader.equals(writer) ? SAME_SCHEMA : reader.createResolver(writer);
      } catch (cause) {
        throw new SerdeError(
          SerdeErrorCode.invalidPayload,
          `Writer schema ${id} (${writer.name ?? writer.typeName}) cannot be read as ${reader.name ?? reader.typeName}: the schemas are incompatible`,
          { cause, details: { schemaId: id } },
        );
      }
      byReader.set(reader, resolver);
    }
    return resolver;
  }

  private decodeWith<T>(buf: Buffer, id: number, writer: AvroType, readerType: AvroType | undefined): T {
    let type = writer;
    let resolver: Resolver | undefined;
    if (readerType && readerType !== writer) {
      const r = this.resolverFor(id, writer, readerType);
      type = readerType;
      if (r !== SAME_SCHEMA) resolver = r;
    }
    let result: { value: unknown; offset: number };
    try {
      result = type.decode(buf, HEADER_BYTES, resolver);
    } catch (cause) {
      // avsc throws on an out-of-range union branch or enum index: bytes that no writer produced.
      throw new SerdeError(
        SerdeErrorCode.invalidPayload,
        `Record with schema id ${id} is not valid Avro for that schema`,
        { cause, details: { schemaId: id, sizeBytes: buf.length } },
      );
    }
    if (result.offset < 0) {
      throw new SerdeError(
        SerdeErrorCode.truncated,
        `Record with schema id ${id} ends before its Avro value does (${buf.length} bytes); it was cut short or is corrupt`,
        { details: { schemaId: id, sizeBytes: buf.length } },
      );
    }
    if (result.offset !== buf.length) {
      throw new SerdeError(
        SerdeErrorCode.invalidPayload,
        `Record with schema id ${id} has ${buf.length - result.offset} bytes after its Avro value`,
        { details: { schemaId: id, sizeBytes: buf.length, trailingBytes: buf.length - result.offset } },
      );
    }
    return result.value as T;
  }
}

// Names the fields that do not fit, never their values; avsc's own error is not kept as the cause
// because its message embeds the value.
function encodeError(subject: string, type: AvroType, value: unknown): SerdeError {
  const fields: string[] = [];
  type.isValid(value, {
    errorHook(path: string[]) {
      fields.push(path.length === 0 ? "$" : path.join("."));
    },
  });
  const where = fields.length > 0 ? `fields ${fields.join(", ")} do not match the schema` : "it does not fit";
  return new SerdeError(
    SerdeErrorCode.encodeFailed,
    `Cannot encode a value for subject ${subject}: ${where}`,
    {
      details: { subject, fields },
    },
  );
}
