// BigQuery's failures as WarehouseError: auth, network and server trouble `unavailable` (retriable), refusals `queryFailed`.

import { WarehouseError, WarehouseErrorCode } from "../../errors.ts";

/** One entry of BigQuery's error list (an ErrorProto): a reason code, where, and what. */
export interface BigQueryErrorProto {
  reason?: string;
  location?: string;
  message?: string;
}

/** HTTP statuses and error reasons that say "not now" rather than "no": retrying may succeed. */
const RETRIABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRIABLE_REASONS = new Set([
  "authError",
  "backendError",
  "internalError",
  "rateLimitExceeded",
  "quotaExceeded",
  "jobBackendError",
  "jobInternalError",
]);
/** Errors of the connection itself (Node's and node-fetch's codes). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
]);

/** The WarehouseError for a failure of the client or the API while doing `what` (a statement's head, "append to raw.t"). */
export function bigqueryError(error: unknown, what: string): WarehouseError {
  if (error instanceof WarehouseError) return error;
  const status = httpStatus(error);
  const protos = errorProtos(error);
  const reason = protos[0]?.reason;
  const message = error instanceof Error ? error.message : String(error);
  if (isNetworkError(error))
    return new WarehouseError(
      WarehouseErrorCode.unavailable,
      `${what}: BigQuery cannot be reached (${firstLine(message)}); check the network, or apiEndpoint.`,
      { retriable: true, cause: error },
    );
  if (/Could not load the default credentials|invalid_grant|Could not refresh access token/i.test(message))
    return new WarehouseError(
      WarehouseErrorCode.unavailable,
      `${what}: no usable Google credentials (${firstLine(message)}); set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run gcloud auth application-default login.`,
      { retriable: true, cause: error },
    );
  if (status === 401 || (status === 403 && (reason === "accessDenied" || reason === "forbidden")))
    return new WarehouseError(
      WarehouseErrorCode.unavailable,
      `${what}: BigQuery refused the credentials (${reason ?? `HTTP ${status}`}: ${firstLine(message)}); check them, and that the account has BigQuery Data Editor and Job User on the project.`,
      { retriable: true, cause: error, details: { status, reason } },
    );
  if ((status !== undefined && RETRIABLE_STATUS.has(status)) || (reason && RETRIABLE_REASONS.has(reason)))
    return new WarehouseError(
      WarehouseErrorCode.unavailable,
      `${what}: BigQuery is unavailable (${reason ?? `HTTP ${status}`}: ${firstLine(message)}); retry later.`,
      { retriable: true, cause: error, details: { status, reason } },
    );
  return jobError(what, protos.length > 0 ? protos : [{ message }], { cause: error, status });
}

/** queryFailed for a job BigQuery refused or that ended in errors: its message and reason, then the others. */
export function jobError(
  what: string,
  errors: readonly BigQueryErrorProto[],
  extra: { cause?: unknown; status?: number } = {},
): WarehouseError {
  const first = errors[0] ?? {};
  const reason = first.reason;
  if (reason !== undefined && RETRIABLE_REASONS.has(reason))
    return new WarehouseError(
      WarehouseErrorCode.unavailable,
      `${what}: BigQuery failed the job (${reason}: ${first.message ?? "no message"}); retry later.`,
      { retriable: true, cause: extra.cause, details: { reason } },
    );
  const others = errors
    .slice(1)
    .map((e) => e.message)
    .filter((m): m is string => m !== undefined && m !== first.message)
    .slice(0, 3);
  const text = [first.message ?? "BigQuery gave no message", ...others].join("; ");
  return new WarehouseError(
    WarehouseErrorCode.queryFailed,
    `${what}: ${text}${reason === undefined ? "" : ` (${reason})`}`,
    { cause: extra.cause, details: { reason, location: first.location, status: extra.status } },
  );
}

/** The HTTP status of a failed API call (ApiError.code), when it is one. */
export function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** True for a 404 (a dataset, table or job that does not exist). */
export function isNotFound(error: unknown): boolean {
  return httpStatus(error) === 404;
}

/** The first words of a statement, to name it in a message without printing all of it. */
export function statementHead(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

function errorProtos(error: unknown): BigQueryErrorProto[] {
  const errors = (error as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? (errors as BigQueryErrorProto[]) : [];
}

function isNetworkError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if ((e as { type?: unknown }).type === "system") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? text;
}
