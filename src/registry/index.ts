// The schema-registry seam: what serde and producers need from a Confluent-compatible registry.

import type { CompatibilityResult, ReadOptions, VersionSpec } from "./registry.ts";

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
 * Everything the Confluent REST API serves (src/serve/routes/registry.ts). SchemaRegistry implements it over
 * SQLite, KafkaSchemaRegistry over a Kafka topic shared by several processes.
 */
export interface SchemaRegistryApi extends SchemaRegistryClient {
  registerVersion(subject: string, schema: string): Promise<RegisteredSchema>;
  getSubjectVersionsForId(id: number, options?: ReadOptions): Promise<{ subject: string; version: number }[]>;
  getVersion(subject: string, version: VersionSpec, options?: ReadOptions): Promise<RegisteredSchema>;
  listSubjects(options?: ReadOptions): Promise<string[]>;
  listVersions(subject: string, options?: ReadOptions): Promise<number[]>;
  lookup(subject: string, schema: string, options?: ReadOptions): Promise<RegisteredSchema>;
  testCompatibility(
    subject: string,
    version: VersionSpec | undefined,
    schema: string,
  ): Promise<CompatibilityResult>;
  getConfig(subject?: string): Promise<CompatibilityLevel>;
  getSubjectConfig(subject: string): Promise<CompatibilityLevel | undefined>;
  setConfig(level: CompatibilityLevel | string, subject?: string): Promise<CompatibilityLevel>;
  deleteConfig(subject?: string): Promise<CompatibilityLevel>;
  deleteSubject(subject: string, permanent?: boolean): Promise<number[]>;
  deleteVersion(subject: string, version: VersionSpec, permanent?: boolean): Promise<number>;
}
