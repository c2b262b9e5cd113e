// The registry topic's records: one operation each, as JSON, and how a fold reads them back (failing closed).

import { asBuffer } from "../../bytes.ts";
import type { LogRecord } from "../../log/index.ts";
import { RegistryErrorCode, registryError } from "../errors.ts";
import type { CompatibilityLevel, VersionSpec } from "../index.ts";

/**
 * Format version of the operation records; a record with a higher one stops the fold (this Pulse
 * cannot know what it does to ids), and says to upgrade.
 */
const formatVersion = 1;

/**
 * One operation record of the registry topic. Key: a random UUID. Value: JSON
 *   {"pulse_registry": 1, "op": "register",       "subject": s, "schema": canonical}
 *   {"pulse_registry": 1, "op": "delete_subject", "subject": s, "permanent": bool}
 *   {"pulse_registry": 1, "op": "delete_version", "subject": s, "version": n | "latest", "permanent": bool}
 *   {"pulse_registry": 1, "op": "set_config",     "level": L [, "subject": s]}
 *   {"pulse_registry": 1, "op": "delete_config"   [, "subject": s]}
 */
export type Operation =
  | { op: "register"; subject: string; schema: string }
  | { op: "delete_subject"; subject: string; permanent: boolean }
  | { op: "delete_version"; subject: string; version: VersionSpec; permanent: boolean }
  | { op: "set_config"; level: CompatibilityLevel; subject?: string }
  | { op: "delete_config"; subject?: string };

/** The record value of an operation. */
export function encodeOperation(operation: Operation): Buffer {
  return Buffer.from(JSON.stringify({ pulse_registry: formatVersion, ...operation }), "utf8");
}

/**
 * The operation a record of `topic` holds; a record that is not one this Pulse knows throws a
 * non-retriable storeFailed error naming the offset, so the fold stops there.
 */
export function decodeOperation(record: LogRecord, topic: string): Operation {
  const fail = (why: string): never => {
    throw registryError(
      RegistryErrorCode.storeFailed,
      `record at offset ${record.offset} of the registry topic "${topic}" ${why}`,
      { retriable: false, details: { topic, offset: record.offset } },
    );
  };
  let value: Record<string, unknown> | undefined;
  try {
    const parsed: unknown =
      record.value === null ? undefined : JSON.parse(asBuffer(record.value).toString("utf8"));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      value = parsed as Record<string, unknown>;
    }
  } catch {
    value = undefined;
  }
  if (value === undefined || typeof value.pulse_registry !== "number") {
    return fail(
      `is not a Pulse registry operation (a Confluent Schema Registry keeps its own records in "_schemas" by default): give Pulse a topic of its own, e.g. registry: kafka:_pulse_schemas`,
    );
  }
  if (value.pulse_registry > formatVersion) {
    return fail(
      `was written by a newer Pulse (operation format ${value.pulse_registry}, this one reads ${formatVersion}): upgrade this Pulse`,
    );
  }
  const subject = typeof value.subject === "string" ? value.subject : undefined;
  const permanent = value.permanent === true;
  switch (value.op) {
    case "register":
      if (subject !== undefined && typeof value.schema === "string") {
        return { op: "register", subject, schema: value.schema };
      }
      break;
    case "delete_subject":
      if (subject !== undefined) return { op: "delete_subject", subject, permanent };
      break;
    case "delete_version":
      if (subject !== undefined && (typeof value.version === "number" || value.version === "latest")) {
        return { op: "delete_version", subject, version: value.version, permanent };
      }
      break;
    case "set_config":
      if (typeof value.level === "string" && (value.subject === undefined || subject !== undefined)) {
        const level = value.level as CompatibilityLevel;
        return subject === undefined ? { op: "set_config", level } : { op: "set_config", level, subject };
      }
      break;
    case "delete_config":
      if (value.subject === undefined || subject !== undefined) {
        return subject === undefined ? { op: "delete_config" } : { op: "delete_config", subject };
      }
      break;
  }
  return fail(
    `is an operation this Pulse does not know (${JSON.stringify(value.op) ?? "no op"}) or is malformed: upgrade this Pulse`,
  );
}
