// Builds RegistryErrors from the catalog codes, so every one carries the Confluent error_code and HTTP status.

import { RegistryError, RegistryErrorCode, type PulseErrorOptions } from "../errors.ts";

interface WireCodes {
  httpStatus: number;
  confluentCode: number;
  retriable?: boolean;
}

/**
 * Confluent's error_code values are the HTTP status followed by a two-digit detail (40401 = 404, subject).
 * Where Confluent has no code of its own, the bare HTTP status stands in (400, 405, 413), or for failures
 * on the client side the nearest Confluent 5xx (50003 forwarding error) or a made-up 50201 (bad upstream reply).
 */
const wire: Record<RegistryErrorCode, WireCodes> = {
  [RegistryErrorCode.subjectNotFound]: { httpStatus: 404, confluentCode: 40401 },
  [RegistryErrorCode.versionNotFound]: { httpStatus: 404, confluentCode: 40402 },
  [RegistryErrorCode.schemaNotFound]: { httpStatus: 404, confluentCode: 40403 },
  [RegistryErrorCode.subjectSoftDeleted]: { httpStatus: 404, confluentCode: 40404 },
  [RegistryErrorCode.subjectNotSoftDeleted]: { httpStatus: 404, confluentCode: 40405 },
  [RegistryErrorCode.versionSoftDeleted]: { httpStatus: 404, confluentCode: 40406 },
  [RegistryErrorCode.versionNotSoftDeleted]: { httpStatus: 404, confluentCode: 40407 },
  [RegistryErrorCode.subjectConfigNotFound]: { httpStatus: 404, confluentCode: 40408 },
  [RegistryErrorCode.incompatible]: { httpStatus: 409, confluentCode: 409 },
  [RegistryErrorCode.invalidSchema]: { httpStatus: 422, confluentCode: 42201 },
  [RegistryErrorCode.unsupportedSchemaType]: { httpStatus: 422, confluentCode: 42201 },
  [RegistryErrorCode.invalidVersion]: { httpStatus: 422, confluentCode: 42202 },
  [RegistryErrorCode.invalidCompatibilityLevel]: { httpStatus: 422, confluentCode: 42203 },
  [RegistryErrorCode.invalidSubject]: { httpStatus: 422, confluentCode: 42208 },
  [RegistryErrorCode.badRequest]: { httpStatus: 400, confluentCode: 400 },
  [RegistryErrorCode.bodyTooLarge]: { httpStatus: 413, confluentCode: 413 },
  [RegistryErrorCode.methodNotAllowed]: { httpStatus: 405, confluentCode: 405 },
  [RegistryErrorCode.unauthorized]: { httpStatus: 401, confluentCode: 40101 },
  [RegistryErrorCode.forbidden]: { httpStatus: 403, confluentCode: 40301 },
  [RegistryErrorCode.storeFailed]: { httpStatus: 500, confluentCode: 50001, retriable: true },
  [RegistryErrorCode.unreachable]: { httpStatus: 503, confluentCode: 50003, retriable: true },
  [RegistryErrorCode.unexpectedResponse]: { httpStatus: 502, confluentCode: 50201 },
};

export function registryError(
  code: RegistryErrorCode,
  message: string,
  options: PulseErrorOptions = {},
): RegistryError {
  const codes = wire[code];
  return new RegistryError(code, message, codes.httpStatus, codes.confluentCode, {
    retriable: codes.retriable ?? false,
    ...options,
  });
}

/** The catalog code for a Confluent error_code, for clients that receive errors over HTTP. */
export function codeForConfluent(confluentCode: number, httpStatus: number): RegistryErrorCode {
  for (const [code, codes] of Object.entries(wire) as [RegistryErrorCode, WireCodes][]) {
    // unsupportedSchemaType shares 42201 with invalidSchema; a remote error is reported as the general one.
    if (code === RegistryErrorCode.unsupportedSchemaType) continue;
    if (codes.confluentCode === confluentCode) return code;
  }
  if (httpStatus === 409) return RegistryErrorCode.incompatible;
  if (httpStatus === 413) return RegistryErrorCode.bodyTooLarge;
  if (httpStatus >= 500) return RegistryErrorCode.storeFailed;
  return RegistryErrorCode.unexpectedResponse;
}

export { RegistryErrorCode };
