// A SchemaRegistryClient for any registry that speaks the Confluent REST API (Confluent, Redpanda, Pulse itself).

import { RegistryError } from "../../errors.ts";
import { maxVersion } from "../arguments.ts";
import { parseAvroSchema } from "../canonical.ts";
import { compatibilityLevels } from "../compatibility.ts";
import { codeForConfluent, RegistryErrorCode, registryError } from "../errors.ts";
import {
  type CompatibilityLevel,
  type CompatibilityVerdict,
  type ReadOptions,
  type RegisteredSchema,
  RegistryBase,
  type SchemaRegistryAdmin,
  type VersionSpec,
} from "../index.ts";

export interface HttpRegistryClientOptions {
  /** Base URL of the registry, e.g. "http://localhost:8081" or "http://pulse:8080/registry". */
  url: string;
  /** Per-request timeout in milliseconds. */
  timeoutMs?: number;
  /** Basic auth, e.g. for Confluent Cloud; never included in error messages. */
  auth?: { username: string; password: string };
  /** fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /**
   * How long a request is retried while the registry does not answer at all (not started yet, restarting),
   * backing off from 200 ms to 2 s; then PULSE_REGISTRY_UNREACHABLE surfaces. 0: no retry. Default 60 s,
   * as KafkaLog retries unreachable brokers.
   */
  unavailableRetryMs?: number;
  /** Told while requests wait for a registry that does not answer (at most every 5 s), e.g. to say so on stderr. */
  onUnavailable?: (message: string) => void;
}

const defaultTimeoutMs = 10_000;
const defaultUnavailableRetryMs = 60_000;
const unavailableNoticeEveryMs = 5_000;
const requestContentType = "application/vnd.schemaregistry.v1+json";

/**
 * Ids are immutable in every Confluent-API registry, so id → schema is cached for good; (subject, schema) → id
 * is cached too, since a registered schema keeps its id (a later delete only makes register add it back).
 */
export class HttpRegistryClient extends RegistryBase implements SchemaRegistryAdmin {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly authorization: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly unavailableRetryMs: number;
  private readonly onUnavailable: ((message: string) => void) | undefined;
  private lastNoticeAtMs = Number.NEGATIVE_INFINITY;
  private readonly schemasById = new Map<number, string>();
  private readonly idsBySubjectSchema = new Map<string, number>();

  constructor(options: HttpRegistryClientOptions) {
    super();
    this.baseUrl = options.url.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.authorization =
      options.auth === undefined
        ? undefined
        : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString("base64")}`;
    this.fetchImpl = options.fetch ?? fetch;
    this.unavailableRetryMs = options.unavailableRetryMs ?? defaultUnavailableRetryMs;
    this.onUnavailable = options.onUnavailable;
  }

  async register(subject: string, schema: string): Promise<number> {
    // Parsing locally rejects invalid schemas without a round trip and gives a cache key that ignores layout.
    const canonical = parseAvroSchema(schema).canonical;
    const key = `${subject}\u0000${canonical}`;
    const cached = this.idsBySubjectSchema.get(key);
    if (cached !== undefined) return cached;
    const body = await this.request("POST", `/subjects/${enc(subject)}/versions`, { schema: canonical });
    const id = expectId(field(body, "id"), "id");
    this.idsBySubjectSchema.set(key, id);
    return id;
  }

  async getSchemaById(id: number): Promise<string> {
    const cached = this.schemasById.get(id);
    if (cached !== undefined) return cached;
    const body = await this.request("GET", `/schemas/ids/${id}`);
    // Confluent leaves schemaType out for AVRO.
    const schemaType = field(body, "schemaType") ?? "AVRO";
    if (expectString(schemaType, "schemaType").toUpperCase() !== "AVRO") {
      throw registryError(
        RegistryErrorCode.unsupportedSchemaType,
        `schema id ${id} is a ${schemaType} schema; Pulse reads AVRO only`,
      );
    }
    const schema = expectString(field(body, "schema"), "schema");
    this.schemasById.set(id, schema);
    return schema;
  }

  async getVersion(
    subject: string,
    version: VersionSpec,
    options: ReadOptions = {},
  ): Promise<RegisteredSchema> {
    const body = await this.request(
      "GET",
      `/subjects/${enc(subject)}/versions/${version}${deletedQuery(options)}`,
    );
    return registered(body);
  }

  /** Subject/version pairs that use a schema id. */
  async getSubjectVersionsForId(
    id: number,
    options: ReadOptions = {},
  ): Promise<{ subject: string; version: number }[]> {
    const body = await this.request("GET", `/schemas/ids/${id}/versions${deletedQuery(options)}`);
    return expectList(body, "subject-version list", (item) => ({
      subject: expectString(field(item, "subject"), "subject"),
      version: expectVersion(field(item, "version"), "version"),
    }));
  }

  async lookup(subject: string, schema: string, options: ReadOptions = {}): Promise<RegisteredSchema> {
    const body = await this.request("POST", `/subjects/${enc(subject)}${deletedQuery(options)}`, { schema });
    return registered(body);
  }

  async listSubjects(options: ReadOptions = {}): Promise<string[]> {
    const body = await this.request("GET", `/subjects${deletedQuery(options)}`);
    return expectList(body, "subject list", (item) => expectString(item, "subject"));
  }

  async listVersions(subject: string, options: ReadOptions = {}): Promise<number[]> {
    const body = await this.request("GET", `/subjects/${enc(subject)}/versions${deletedQuery(options)}`);
    return expectList(body, "version list", (item) => expectVersion(item, "version"));
  }

  async testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityVerdict> {
    const path =
      version === undefined
        ? `/compatibility/subjects/${enc(subject)}/versions`
        : `/compatibility/subjects/${enc(subject)}/versions/${version}`;
    const body = await this.request("POST", `${path}?verbose=true`, { schema });
    const compatible = field(body, "is_compatible");
    if (typeof compatible !== "boolean") throw malformed('"is_compatible" field');
    const messages = field(body, "messages") ?? [];
    return {
      compatible,
      messages: expectList(messages, '"messages" field', (item) => expectString(item, "message")),
    };
  }

  /** The level in force for the subject (its own, else the global one), or the global level. */
  async getConfig(subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}?defaultToGlobal=true`;
    const body = await this.request("GET", path);
    return expectLevel(field(body, "compatibilityLevel"), "compatibilityLevel");
  }

  /** The level set on the subject itself, undefined when it follows the global level (40408). */
  async getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined> {
    try {
      const body = await this.request("GET", `/config/${enc(subject)}`);
      return expectLevel(field(body, "compatibilityLevel"), "compatibilityLevel");
    } catch (error) {
      if (error instanceof RegistryError && error.code === RegistryErrorCode.subjectConfigNotFound) {
        return undefined;
      }
      throw error;
    }
  }

  async setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}`;
    const body = await this.request("PUT", path, { compatibility: level });
    return expectLevel(field(body, "compatibility"), "compatibility");
  }

  /** Removes the subject's own level, or resets the global one; returns the level removed. */
  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}`;
    const body = await this.request("DELETE", path);
    return expectLevel(field(body, "compatibilityLevel"), "compatibilityLevel");
  }

  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    this.forgetSubject(subject);
    const body = await this.request(
      "DELETE",
      `/subjects/${enc(subject)}${permanent ? "?permanent=true" : ""}`,
    );
    return expectList(body, "version list", (item) => expectVersion(item, "version"));
  }

  async deleteVersion(subject: string, version: VersionSpec, permanent = false): Promise<number> {
    this.forgetSubject(subject);
    const body = await this.request(
      "DELETE",
      `/subjects/${enc(subject)}/versions/${version}${permanent ? "?permanent=true" : ""}`,
    );
    return expectVersion(body, "version");
  }

  private forgetSubject(subject: string): void {
    for (const key of this.idsBySubjectSchema.keys()) {
      if (key.startsWith(`${subject}\u0000`)) this.idsBySubjectSchema.delete(key);
    }
  }

  /**
   * One REST call, sent again while the registry does not answer at all. Every call Pulse makes is safe to
   * repeat: registering a schema that is registered already answers its id.
   */
  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const startedAtMs = Date.now();
    let delayMs = 200;
    for (;;) {
      try {
        return await this.requestOnce(method, path, body);
      } catch (error) {
        const unreachable = error instanceof RegistryError && error.code === RegistryErrorCode.unreachable;
        const waitedMs = Date.now() - startedAtMs;
        if (!unreachable || waitedMs + delayMs > this.unavailableRetryMs) {
          if (unreachable && this.unavailableRetryMs > 0) {
            throw registryError(
              RegistryErrorCode.unreachable,
              `${error.message}; gave up after ${Math.round(waitedMs / 1000)} s of retries. Is the registry running at ${this.baseUrl}?`,
              { cause: error },
            );
          }
          throw error;
        }
        this.notice(waitedMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 2_000);
      }
    }
  }

  private notice(waitedMs: number): void {
    const nowMs = Date.now();
    if (this.onUnavailable === undefined || nowMs - this.lastNoticeAtMs < unavailableNoticeEveryMs) return;
    this.lastNoticeAtMs = nowMs;
    this.onUnavailable(
      `schema registry ${this.baseUrl} does not answer yet; retrying for up to ${Math.round(this.unavailableRetryMs / 1000)} s` +
        `${waitedMs >= 1000 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ""}`,
    );
  }

  /** The parsed JSON of a 2xx reply, unchecked: each call checks the shape it reads. */
  private async requestOnce(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { Accept: `${requestContentType}, application/json` };
    if (body !== undefined) headers["Content-Type"] = requestContentType;
    if (this.authorization !== undefined) headers.Authorization = this.authorization;
    const where = `${method} ${this.baseUrl}${path.replace(/\?.*$/, "")}`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw registryError(
        RegistryErrorCode.unreachable,
        `schema registry unreachable (${where}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    // Node's fetch can leave a body unread for good when its signal fires (a 421 whose connection
    // closes mid-body), so the read stops at the timeout too; an unread body counts as an empty one.
    const text = await Promise.race([response.text(), aborted(signal)]).catch(() => "");
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) throw errorFromResponse(response.status, parsed, where);
    if (parsed === undefined) {
      throw registryError(
        RegistryErrorCode.unexpectedResponse,
        `schema registry sent a response that is not JSON (${where}, HTTP ${response.status})`,
      );
    }
    return parsed;
  }
}

function errorFromResponse(status: number, body: unknown, where: string): RegistryError {
  const object = body !== null && typeof body === "object" ? (body as Record<string, unknown>) : {};
  const confluentCode = typeof object.error_code === "number" ? object.error_code : status;
  const message = typeof object.message === "string" ? object.message : `HTTP ${status}`;
  const code = codeForConfluent(confluentCode, status);
  // The remote codes win over the catalog's defaults: they are what the server said.
  return new RegistryError(code, `${message} (${where})`, status, confluentCode, {
    retriable: status >= 500 || status === 429,
  });
}

/** Rejects when the signal fires. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function enc(subject: string): string {
  return encodeURIComponent(subject);
}

function deletedQuery(options: ReadOptions): string {
  return options.includeDeleted === true ? "?deleted=true" : "";
}

/*
 * A reply is checked before it is used: ids must fit the frame's unsigned 32-bit schema-id field
 * (src/serde/wire-format.ts), versions are Confluent's positive int32, and levels are the seven.
 */
function registered(body: unknown): RegisteredSchema {
  return {
    subject: expectString(field(body, "subject"), "subject"),
    version: expectVersion(field(body, "version"), "version"),
    id: expectId(field(body, "id"), "id"),
    schema: expectString(field(body, "schema"), "schema"),
  };
}

/** A field of a JSON object reply; undefined when the reply is not an object or lacks it. */
function field(body: unknown, name: string): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body) || !Object.hasOwn(body, name)) {
    return undefined;
  }
  return (body as Record<string, unknown>)[name];
}

/** A schema id: it must fit a frame's unsigned 32-bit schema-id field. */
function expectId(value: unknown, name: string): number {
  return expectWhole(value, name, 0, 0xffff_ffff);
}

function expectVersion(value: unknown, name: string): number {
  return expectWhole(value, name, 1, maxVersion);
}

function expectWhole(value: unknown, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw malformed(`"${name}" field`);
  }
  return value as number;
}

function expectString(value: unknown, name: string): string {
  if (typeof value !== "string") throw malformed(`"${name}" field`);
  return value;
}

function expectLevel(value: unknown, name: string): CompatibilityLevel {
  const level = compatibilityLevels.find((candidate) => candidate === value);
  if (level === undefined) throw malformed(`"${name}" field`);
  return level;
}

function expectList<T>(value: unknown, what: string, item: (value: unknown) => T): T[] {
  if (!Array.isArray(value)) throw malformed(what);
  return value.map(item);
}

function malformed(what: string): RegistryError {
  return registryError(
    RegistryErrorCode.unexpectedResponse,
    `schema registry response lacks a valid ${what}`,
  );
}
