// Maps a raw mediawiki/recentchange event (current or legacy 2018 shape) to the WikimediaRecentChange contract.

import type { WikimediaRecentChange } from "../../contracts/types.ts";
import { isoDateExists } from "../../contracts/validate.ts";
import { WikimediaErrorCode } from "../../errors.ts";

export type MapResult =
  | { ok: true; value: WikimediaRecentChange }
  | { ok: false; code: WikimediaErrorCode; message: string };

/** The legacy shape (meta.schema_uri, 2018) has no meta.stream; every such event came from this stream. */
const DEFAULT_STREAM = "mediawiki.recentchange";

/**
 * meta.dt is ISO 8601 with a zone: "2023-07-29T07:51:39Z" (current) or "2018-03-07T16:16:17+00:00"
 * (legacy), optionally with fractional seconds. Date.parse alone would also accept zone-less and
 * free-form dates, which would silently shift by the host's time zone.
 */
const ISO_DT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

type Obj = Record<string, unknown>;

/** Thrown only inside this module and turned into `{ ok: false }`; never escapes. */
class FieldProblem {
  constructor(
    readonly code: WikimediaErrorCode,
    readonly message: string,
  ) {}
}

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isCanary(raw: unknown): boolean {
  return isObject(raw) && isObject(raw.meta) && raw.meta.domain === "canary";
}

function requiredString(obj: Obj, key: string, path: string): string {
  const value = obj[key];
  if (value === undefined || value === null) {
    throw new FieldProblem(WikimediaErrorCode.missingField, `recentchange event has no ${path}`);
  }
  if (typeof value !== "string" || value.length === 0) {
    throw new FieldProblem(WikimediaErrorCode.badField, `${path} must be a non-empty string`);
  }
  return value;
}

interface Scalars {
  string: string;
  boolean: boolean;
}

/** obj[key] when it is of `type`, null when it is missing or null; `path` names it in the problem. */
function optional<K extends keyof Scalars>(obj: Obj, key: string, path: string, type: K): Scalars[K] | null {
  const value = obj[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== type) throw new FieldProblem(WikimediaErrorCode.badField, `${path} must be a ${type}`);
  return value as Scalars[K];
}

function optionalString(obj: Obj, key: string, path: string): string | null {
  return optional(obj, key, path, "string");
}

function optionalBoolean(obj: Obj, key: string, path: string): boolean | null {
  return optional(obj, key, path, "boolean");
}

function optionalInteger(obj: Obj, key: string, path: string, int32 = false): number | null {
  const value = obj[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new FieldProblem(WikimediaErrorCode.badField, `${path} must be an integer`);
  }
  if (int32 && (value < INT32_MIN || value > INT32_MAX)) {
    throw new FieldProblem(WikimediaErrorCode.badField, `${path} is out of the 32-bit range`);
  }
  return value;
}

/** length / revision: an object whose old or new side may be missing (a new page has no old revision). */
function optionalOldNew(obj: Obj, key: string): { old: number | null; new: number | null } | null {
  const value = obj[key];
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new FieldProblem(WikimediaErrorCode.badField, `${key} must be an object`);
  return {
    old: optionalInteger(value, "old", `${key}.old`),
    new: optionalInteger(value, "new", `${key}.new`),
  };
}

function parseDt(meta: Obj): number {
  const dt = requiredString(meta, "dt", "meta.dt");
  // Date.parse rolls an impossible day over (2023-02-30 would become March 2).
  const ms = ISO_DT.test(dt) && isoDateExists(dt) ? Date.parse(dt) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new FieldProblem(WikimediaErrorCode.badField, "meta.dt is not an ISO 8601 date-time with a zone");
  }
  return ms;
}

/** schema 1.0.1 allows `type` to be a number; the contract keeps it a string. */
function parseType(raw: Obj): string {
  const value = raw.type;
  if (value === undefined || value === null) {
    throw new FieldProblem(WikimediaErrorCode.missingField, "recentchange event has no type");
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" && value.length > 0) return value;
  throw new FieldProblem(WikimediaErrorCode.badField, "type must be a non-empty string or a number");
}

function mapOrThrow(raw: unknown): WikimediaRecentChange {
  if (!isObject(raw)) {
    throw new FieldProblem(WikimediaErrorCode.notObject, "recentchange event is not a JSON object");
  }
  const meta = raw.meta;
  if (meta === undefined || meta === null) {
    throw new FieldProblem(WikimediaErrorCode.missingField, "recentchange event has no meta");
  }
  if (!isObject(meta)) throw new FieldProblem(WikimediaErrorCode.badField, "meta must be an object");

  const schemaUri =
    typeof raw.$schema === "string" ? raw.$schema : optionalString(meta, "schema_uri", "meta.schema_uri");
  const bot = optionalBoolean(raw, "bot", "bot");
  return {
    schema_uri: schemaUri,
    meta: {
      id: requiredString(meta, "id", "meta.id"),
      dt: parseDt(meta),
      domain: requiredString(meta, "domain", "meta.domain"),
      stream: optionalString(meta, "stream", "meta.stream") ?? DEFAULT_STREAM,
      uri: optionalString(meta, "uri", "meta.uri"),
      request_id: optionalString(meta, "request_id", "meta.request_id"),
      topic: optionalString(meta, "topic", "meta.topic"),
      partition: optionalInteger(meta, "partition", "meta.partition", true),
      offset: optionalInteger(meta, "offset", "meta.offset"),
    },
    id: optionalInteger(raw, "id", "id"),
    type: parseType(raw),
    namespace: optionalInteger(raw, "namespace", "namespace", true),
    title: optionalString(raw, "title", "title"),
    comment: optionalString(raw, "comment", "comment"),
    timestamp: optionalInteger(raw, "timestamp", "timestamp"),
    user: optionalString(raw, "user", "user"),
    bot: bot ?? false,
    minor: optionalBoolean(raw, "minor", "minor"),
    patrolled: optionalBoolean(raw, "patrolled", "patrolled"),
    length: optionalOldNew(raw, "length"),
    revision: optionalOldNew(raw, "revision"),
    server_url: optionalString(raw, "server_url", "server_url"),
    server_name: requiredString(raw, "server_name", "server_name"),
    wiki: requiredString(raw, "wiki", "wiki"),
    log_type: optionalString(raw, "log_type", "log_type"),
    log_action: optionalString(raw, "log_action", "log_action"),
  };
}

/** Never throws: a broken event becomes `{ ok: false }` with a code and the field that broke. */
export function mapRecentChange(raw: unknown): MapResult {
  try {
    return { ok: true, value: mapOrThrow(raw) };
  } catch (problem) {
    if (problem instanceof FieldProblem) return { ok: false, code: problem.code, message: problem.message };
    throw problem;
  }
}
