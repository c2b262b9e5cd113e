// The schema-registry seam: what serde and producers need from a Confluent-compatible registry.

import type { VersionIncompatibility } from "./compatibility.ts";

/** The topic `registry: auto` uses on a Kafka log (Confluent Schema Registry's default name too). */
export const DEFAULT_REGISTRY_TOPIC = "_schemas";

export type CompatibilityLevel =
  | "NONE"
  | "BACKWARD"
  | "BACKWARD_TRANSITIVE"
  | "FORWARD"
  | "FORWARD_TRANSITIVE"
  | "FULL"
  | "FULL_TRANSITIVE";

/** The level a registry starts with, as in Confluent. */
export const defaultCompatibilityLevel: CompatibilityLevel = "BACKWARD";

/** A version number, or "latest" for the newest live version (Confluent also accepts -1 for it). */
export type VersionSpec = number | "latest";

export interface ReadOptions {
  /** Include soft-deleted subjects and versions (Confluent's `?deleted=true`). */
  includeDeleted?: boolean;
}

/** What a compatibility test says over the Confluent REST API. */
export interface CompatibilityVerdict {
  compatible: boolean;
  /** One readable line per incompatibility; empty when compatible. */
  messages: string[];
}

/** What an in-process registry says: the verdict, with each incompatibility as data. */
export interface CompatibilityResult extends CompatibilityVerdict {
  incompatibilities: VersionIncompatibility[];
}

export interface RegisteredSchema {
  subject: string;
  version: number;
  id: number;
  /** The Avro schema as canonical JSON text. */
  schema: string;
}

/**
 * The smallest surface serde and producers use. The in-process registry implements it directly;
 * an HTTP client implements it against any Confluent-API registry.
 */
export interface SchemaRegistryClient {
  /** Registers (or finds) the schema under the subject and returns its global id. */
  register(subject: string, schema: string): Promise<number>;
  /** The schema text for a global id; rejects with a RegistryError (code 40403) when unknown. */
  getSchemaById(id: number): Promise<string>;
  getLatest(subject: string): Promise<RegisteredSchema>;
}

/**
 * The Confluent REST API's calls beyond serde's three (reads, lookup, compatibility tests, config, deletes),
 * which every registry answers, in process or over HTTP (served by src/serve/routes/registry.ts). Each
 * implementation runs the registry conformance suite (test/conformance/registry.ts) on this surface.
 */
export interface SchemaRegistryAdmin extends SchemaRegistryClient {
  getSubjectVersionsForId(id: number, options?: ReadOptions): Promise<{ subject: string; version: number }[]>;
  getVersion(subject: string, version: VersionSpec, options?: ReadOptions): Promise<RegisteredSchema>;
  listSubjects(options?: ReadOptions): Promise<string[]>;
  listVersions(subject: string, options?: ReadOptions): Promise<number[]>;
  lookup(subject: string, schema: string, options?: ReadOptions): Promise<RegisteredSchema>;
  /** Against one version, or with version undefined against every version the subject's level covers. */
  testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityVerdict>;
  /** The level in force: the subject's own, else the global one; the global one without a subject. */
  getConfig(subject?: string): Promise<CompatibilityLevel>;
  /** The level set on the subject itself, undefined when it follows the global level. */
  getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined>;
  setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel>;
  deleteConfig(subject?: string): Promise<CompatibilityLevel>;
  deleteSubject(subject: string, permanent?: boolean): Promise<number[]>;
  deleteVersion(subject: string, version: VersionSpec, permanent?: boolean): Promise<number>;
}

/**
 * Everything the Confluent REST API serves (src/registry/http-api.ts), from an in-process registry:
 * SchemaRegistry (embedded/) over SQLite, KafkaSchemaRegistry (kafka/) over a Kafka topic shared by
 * several processes.
 */
export interface SchemaRegistryApi extends SchemaRegistryAdmin {
  registerVersion(subject: string, schema: string): Promise<RegisteredSchema>;
  testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityResult>;
}

/** What every registry derives from its own calls the same way. */
export abstract class RegistryBase {
  abstract getVersion(
    subject: string,
    version: VersionSpec,
    options?: ReadOptions,
  ): Promise<RegisteredSchema>;

  /** The newest live version of the subject. */
  async getLatest(subject: string): Promise<RegisteredSchema> {
    return this.getVersion(subject, "latest");
  }
}
