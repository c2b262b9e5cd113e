// The schema-registry seam: what serde and producers need from a Confluent-compatible registry.

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
