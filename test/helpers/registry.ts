// Test helpers for the schema registry: versions of one record schema, and catching RegistryErrors.

import { RegistryError } from "../../src/errors.ts";

/** A record schema in namespace "t" with the given fields, as JSON text. */
export function schemaOf(fields: unknown[], name = "Event"): string {
  return JSON.stringify({ type: "record", name, namespace: "t", fields });
}

/** The first version: one int field. */
export const v1 = schemaOf([{ name: "a", type: "int" }]);
/** Adds a string field with a default: compatible with v1 both ways. */
export const v2 = schemaOf([
  { name: "a", type: "int" },
  { name: "b", type: "string", default: "x" },
]);
/** Drops b's default: reads v2's data, but not v1's. */
export const v3 = schemaOf([
  { name: "a", type: "int" },
  { name: "b", type: "string" },
]);
/** Changes a's type: compatible with none of them. */
export const breaking = schemaOf([{ name: "a", type: "string" }]);

/** The RegistryError the promise rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(error)}`);
  return error;
}
