// Checks the subjects and versions callers name, with Confluent's codes (42208, 42202), for every registry.

import { RegistryErrorCode, registryError } from "./errors.ts";
import type { VersionSpec } from "./index.ts";

/** Confluent caps versions at a signed 32-bit int. */
export const maxVersion = 2 ** 31 - 1;

/** Validates a version from a user: a positive integer, "latest" or -1 (both mean latest); else 42202. */
export function parseVersion(value: unknown): VersionSpec {
  if (value === "latest" || value === -1 || value === "-1") return "latest";
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number === "number" && Number.isInteger(number) && number >= 1 && number <= maxVersion)
    return number;
  throw registryError(
    RegistryErrorCode.invalidVersion,
    `invalid version ${JSON.stringify(value) ?? "undefined"}: use a positive integer, "latest" or -1`,
  );
}

/** Rejects an empty subject or one with control characters (42208). */
export function checkSubject(subject: string): void {
  // Control characters would make subjects unprintable in logs and URLs.
  if (subject.length === 0 || /[\u0000-\u001f\u007f]/.test(subject)) {
    throw registryError(
      RegistryErrorCode.invalidSubject,
      `invalid subject name ${JSON.stringify(subject)}: use a non-empty name without control characters`,
    );
  }
}
