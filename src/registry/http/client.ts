// A SchemaRegistryClient for any registry that speaks the Confluent REST API (Confluent, Redpanda, Pulse itself).

import { RegistryError } from "../../errors.ts";
import { parseAvroSchema } from "../canonical.ts";
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
    const body = await this.request<{ id: number }>("POST", `/subjects/${enc(subject)}/versions`, {
      schema: canonical,
    });
    const id = expectNumber(body.id, "id");
    this.idsBySubjectSchema.set(key, id);
    return id;
  }

  async getSchemaById(id: number): Promise<string> {
    const cached = this.schemasById.get(id);
    if (cached !== undefined) return cached;
    const body = await this.request<{ schema: string; schemaType?: string }>("GET", `/schemas/ids/${id}`);
    if (body.schemaType !== undefined && body.schemaType.toUpperCase() !== "AVRO") {
      throw registryError(
        RegistryErrorCode.unsupportedSchemaType,
        `schema id ${id} is a ${body.schemaType} schema; Pulse reads AVRO only`,
      );
    }
    const schema = expectString(body.schema, "schema");
    this.schemasById.set(id, schema);
    return schema;
  }

  async getVersion(
    subject: string,
    version: VersionSpec,
    options: ReadOptions = {},
  ): Promise<RegisteredSchema> {
    const body = await this.request<RegisteredSchema>(
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
    return this.request("GET", `/schemas/ids/${id}/versions${deletedQuery(options)}`);
  }

  async lookup(subject: string, schema: string, options: ReadOptions = {}): Promise<RegisteredSchema> {
    const body = await this.request<RegisteredSchema>(
      "POST",
      `/subjects/${enc(subject)}${deletedQuery(options)}`,
      { schema },
    );
    return registered(body);
  }

  async listSubjects(options: ReadOptions = {}): Promise<string[]> {
    return this.request<string[]>("GET", `/subjects${deletedQuery(options)}`);
  }

  async listVersions(subject: string, options: ReadOptions = {}): Promise<number[]> {
    return this.request<number[]>("GET", `/subjects/${enc(subject)}/versions${deletedQuery(options)}`);
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
    const body = await this.request<{ is_compatible: boolean; messages?: string[] }>(
      "POST",
      `${path}?verbose=true`,
      { schema },
    );
    return { compatible: body.is_compatible === true, messages: body.messages ?? [] };
  }

  /** The level in force for the subject (its own, else the global one), or the global level. */
  async getConfig(subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}?defaultToGlobal=true`;
    const body = await this.request<{ compatibilityLevel: CompatibilityLevel }>("GET", path);
    return body.compatibilityLevel;
  }

  /** The level set on the subject itself, undefined when it follows the global level (40408). */
  async getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined> {
    try {
      const body = await this.request<{ compatibilityLevel: CompatibilityLevel }>(
        "GET",
        `/config/${enc(subject)}`,
      );
      return body.compatibilityLevel;
    } catch (error) {
      if (error instanceof RegistryError && error.code === RegistryErrorCode.subjectConfigNotFound) {
        return undefined;
      }
      throw error;
    }
  }

  async setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}`;
    const body = await this.request<{ compatibility: CompatibilityLevel }>("PUT", path, {
      compatibility: level,
    });
    return body.compatibility;
  }

  /** Removes the subject's own level, or resets the global one; returns the level removed. */
  async deleteConfig(subject?: string): Promise<CompatibilityLevel> {
    const path = subject === undefined ? "/config" : `/config/${enc(subject)}`;
    const body = await this.request<{ compatibilityLevel: CompatibilityLevel }>("DELETE", path);
    return body.compatibilityLevel;
  }

  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    this.forgetSubject(subject);
    return this.request<number[]>("DELETE", `/subjects/${enc(subject)}${permanent ? "?permanent=true" : ""}`);
  }

  async deleteVersion(subject: string, version: VersionSpec, permanent = false): Promise<number> {
    this.forgetSubject(subject);
    return this.request<number>(
      "DELETE",
      `/subjects/${enc(subject)}/versions/${version}${permanent ? "?permanent=true" : ""}`,
    );
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
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const startedAtMs = Date.now();
    let delayMs = 200;
    for (;;) {
      try {
        return await this.requestOnce<T>(method, path, body);
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

  private async requestOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: `${requestContentType}, application/json` };
    if (body !== undefined) headers["Content-Type"] = requestContentType;
    if (this.authorization !== undefined) headers.Authorization = this.authorization;
    const where = `${method} ${this.baseUrl}${path.replace(/\?.*$/, "")}`;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw registryError(
        RegistryErrorCode.unreachable,
        `schema registry unreachable (${where}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const text = await response.text().catch(() => "");
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
    return parsed as T;
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

function enc(subject: string): string {
  return encodeURIComponent(subject);
}

function deletedQuery(options: ReadOptions): string {
  return options.includeDeleted === true ? "?deleted=true" : "";
}

function registered(body: RegisteredSchema): RegisteredSchema {
  return {
    subject: expectString(body.subject, "subject"),
    version: expectNumber(body.version, "version"),
    id: expectNumber(body.id, "id"),
    schema: expectString(body.schema, "schema"),
  };
}

function expectNumber(value: unknown, field: string): number {
  if (typeof value !== "number") throw malformed(field);
  return value;
}

function expectString(value: unknown, field: string): string {
  if (typeof value !== "string") throw malformed(field);
  return value;
}

function malformed(field: string): RegistryError {
  return registryError(
    RegistryErrorCode.unexpectedResponse,
    `schema registry response lacks a valid "${field}" field`,
  );
}
