// Validation of events against their contract: schema shape for untrusted input, then semantic rules with stable codes.

import type { UserActivityV2, WikimediaRecentChange } from "./types.ts";
import { type AvroType, SCHEMA_TEXTS, userActivityV2Type, wikimediaRecentChangeType } from "./schemas.ts";
import { isPlainActivityV2 } from "./activity-shape.ts";
import { ValidationErrorCode } from "../errors.ts";

/** Stable codes of rejected events: the catalog's validation area (src/errors.ts). */
export const ValidationCode = ValidationErrorCode;
export type ValidationCodeValue = ValidationErrorCode;

export interface ValidationIssue {
  code: ValidationCodeValue;
  /** Dotted path of the field, e.g. `amount` or `meta.dt`; `$` is the record itself. */
  field: string;
  /** Which rule the field broke; never contains the whole payload. */
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: ValidationIssue[] };

export interface ValidateOptions {
  /** Processing time the event time is compared with; defaults to Date.now(). */
  nowMs?: number;
  /** How far ahead of processing time an event time may be (producer clock skew). Default 5 minutes. */
  maxFutureSkewMs?: number;
  /** Event times before this are rejected; null turns the rule off. Default 2000-01-01T00:00:00Z. */
  minEventTimeMs?: number | null;
}

export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;
export const DEFAULT_MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1);

/** Hex digits by char code or byte, either case (the 8-4-4-4-12 form, as /^[0-9a-f]{8}-…-[0-9a-f]{12}$/i). */
const HEX_DIGIT = new Uint8Array(256);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** Whether char code c may stand at position i of a UUID: a dash at 8, 13, 18 and 23, a hex digit elsewhere. */
function uuidCharAt(i: number, c: number): boolean {
  return i === 8 || i === 13 || i === 18 || i === 23 ? c === 45 : c < 256 && HEX_DIGIT[c] === 1;
}

/** The UUID check, by hand: a regular expression costs a few hundred ns an event on the stream's hot path. */
function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) if (!uuidCharAt(i, s.charCodeAt(i))) return false;
  return true;
}

/** isUuid of the string buf[start … end) holds (the stream job checks ids in the record's bytes). */
export function isUuidBytes(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 36) return false;
  for (let i = 0; i < 36; i++) if (!uuidCharAt(i, buf[start + i]!)) return false;
  return true;
}
/** Whether s is exactly `length` letters A–Z (ISO 4217 currency and ISO 3166-1 alpha-2 country codes). */
function isUpperCode(s: string, length: number): boolean {
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}
// ISO-8601 date or date-time; a missing zone means UTC, as the contracts state.
const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether year, month and day (from 1) name a day that exists. Date.parse and Date.UTC roll an
 * impossible one over (2023-02-30 becomes March 2), so a parser of dates checks this first.
 */
export function calendarDateExists(year: number, month: number, day: number): boolean {
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  return day >= 1 && day <= days;
}

/** calendarDateExists for the "YYYY-MM-DD" at the start of `text`. */
export function isoDateExists(text: string): boolean {
  return calendarDateExists(+text.slice(0, 4), +text.slice(5, 7), +text.slice(8, 10));
}

/** Parses an ISO-8601 string to ms since the epoch, or undefined when it is not one (or not a real date). */
export function parseIsoTimeMs(text: string): number | undefined {
  const m = ISO_8601.exec(text.trim());
  if (!m) return undefined;
  const [, date, time, zone] = m;
  if (!isoDateExists(date!)) return undefined;
  let iso = time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${zone ?? "Z"}`;
  // Date.parse wants "+hh:mm"; accept the basic "+hhmm" form too.
  iso = iso.replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

// --- Normalisation of untrusted input -------------------------------------------------------------

type JsonSchema = string | JsonSchema[] | { type: JsonSchema; [k: string]: unknown };
interface RecordSchema {
  type: "record";
  name: string;
  fields: Array<{ name: string; type: JsonSchema; default?: unknown }>;
}

function isRecord(s: JsonSchema): s is JsonSchema & RecordSchema {
  return typeof s === "object" && !Array.isArray(s) && s.type === "record";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function ownKeyCount(value: object): number {
  let keys = 0;
  for (const _key in value) keys++;
  return keys;
}

type Normaliser = (value: unknown) => unknown;
const asIs: Normaliser = (value) => value;

/** Whether a field's value is set and already in the form the normaliser would give it. */
function isNormal(field: { normalise: Normaliser }, value: unknown): boolean {
  return value !== undefined && (field.normalise === asIs || field.normalise(value) === value);
}

/**
 * Compiles, once per schema, what rewrites the forms JSON clients send into the values the Avro type
 * expects: a missing field with a default takes it (null for the nullable ones), a timestamp-millis
 * given as an ISO-8601 string becomes ms, and undeclared fields are dropped (so junk never travels on).
 * Anything else is left as is for the shape check to report. Compiled, a field whose form needs nothing
 * is known by its normaliser (asIs), which lets a value already in form pass without a copy (below).
 */
function compileNormaliser(schema: JsonSchema): Normaliser {
  if (Array.isArray(schema)) {
    const recordBranch = schema.find(isRecord);
    if (recordBranch === undefined) return asIs;
    const record = compileNormaliser(recordBranch);
    return (value) => (value === null || value === undefined || !isObject(value) ? value : record(value));
  }
  if (typeof schema === "string") return asIs;
  if (isRecord(schema)) {
    const fields = schema.fields.map((field) => ({
      name: field.name,
      hasDefault: "default" in field,
      fallback: field.default,
      normalise: compileNormaliser(field.type),
    }));
    return (value) => {
      if (!isObject(value)) return value;
      // Most events already have the contract's form (every field set, nothing to convert, no extra
      // field): those pass as they are, and only the others are copied. The copy was most of the cost.
      if (ownKeyCount(value) === fields.length && fields.every((field) => isNormal(field, value[field.name])))
        return value;
      const out: Record<string, unknown> = {};
      for (const field of fields) {
        let v = value[field.name];
        if (v === undefined && field.hasDefault) v = field.fallback;
        out[field.name] = field.normalise(v);
      }
      return out;
    };
  }
  if (schema["logicalType"] === "timestamp-millis") {
    return (value) => (typeof value === "string" ? (parseIsoTimeMs(value) ?? value) : value);
  }
  return asIs;
}

// --- Shape check ----------------------------------------------------------------------------------

function describeValue(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number" && !Number.isInteger(v)) return "a non-integer number";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function expected(type: AvroType): string {
  const t = type as AvroType & { symbols?: string[]; types?: AvroType[] };
  if (t.typeName === "enum" && t.symbols) return `one of ${t.symbols.join(", ")}`;
  if (t.typeName.startsWith("union") && t.types) return t.types.map((b) => b.typeName).join(" or ");
  if (t.typeName === "long" || t.typeName === "int") return `an integer (${t.typeName})`;
  return `a ${t.typeName}`;
}

function shapeIssues(type: AvroType, value: unknown): ValidationIssue[] {
  // The plain check is compiled by avsc and fast; the error hook walk runs only to explain a failure.
  try {
    if (type.isValid(value)) return [];
  } catch {
    return unconvertibleIssues(type, value);
  }
  const issues: ValidationIssue[] = [];
  type.isValid(value, {
    errorHook(path: string[], v: unknown, t: AvroType) {
      const field = path.length === 0 ? "$" : path.join(".");
      let got = describeValue(v);
      if (t.typeName === "enum" && typeof v === "string") got = `"${v.slice(0, 32)}"`;
      issues.push({
        code: ValidationCode.schemaMismatch,
        field,
        message: `${field}: expected ${expected(t)}, got ${got}`,
      });
    },
  });
  return issues;
}

/**
 * avsc looks an enum symbol up as an object key, which throws a TypeError for a JSON object whose own
 * "toString" or "valueOf" is not a function (`{"event_type": {"toString": null}}`): such a value is
 * no symbol, so each field is checked alone and the ones that fail or throw are reported.
 */
function unconvertibleIssues(type: AvroType, value: unknown): ValidationIssue[] {
  const fields = (type as AvroType & { fields?: Array<{ name: string; type: AvroType }> }).fields ?? [];
  const record = value as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  for (const field of fields) {
    const v = record[field.name];
    let valid: boolean;
    try {
      valid = field.type.isValid(v);
    } catch {
      valid = false;
    }
    if (!valid) {
      const message = `${field.name}: expected ${expected(field.type)}, got ${describeValue(v)}`;
      issues.push({ code: ValidationCode.schemaMismatch, field: field.name, message });
    }
  }
  if (issues.length > 0) return issues;
  return [{ code: ValidationCode.schemaMismatch, field: "$", message: "$: does not match the contract" }];
}

/**
 * Normalises `raw` and checks its shape with avsc; `plain`, when given, recognises values that are in
 * form and pass for certain (every field set, of its type, and no other), which skip both.
 */
function checkShape<T>(
  type: AvroType,
  normalise: Normaliser,
  raw: unknown,
  plain?: (value: T) => boolean,
): ValidationResult<T> {
  // avsc takes an array for a record with every field missing; one issue says it better.
  if (!isObject(raw)) {
    const message = `$: expected a ${type.name ?? "record"} object, got ${describeValue(raw)}`;
    return { ok: false, errors: [{ code: ValidationCode.schemaMismatch, field: "$", message }] };
  }
  // A plain value is in form already (the normaliser would return it as is): no copy, no avsc check.
  if (plain?.(raw as T)) return { ok: true, value: raw as T };
  const value = normalise(raw);
  if (value !== raw && plain?.(value as T)) return { ok: true, value: value as T };
  const issues = shapeIssues(type, value);
  return issues.length > 0 ? { ok: false, errors: issues } : { ok: true, value: value as T };
}

// --- Semantic rules -------------------------------------------------------------------------------

function issue(code: ValidationCodeValue, field: string, rule: string): ValidationIssue {
  return { code, field, message: `${field}: ${rule}` };
}

/** The earliest event time the options accept; null for no bound. */
function earliestEventTimeMs(o: ValidateOptions): number | null {
  return o.minEventTimeMs === undefined ? DEFAULT_MIN_EVENT_TIME_MS : o.minEventTimeMs;
}

/** True when checkEventTime finds nothing wrong with the event time. */
export function eventTimeAccepted(eventTimeMs: number, o: ValidateOptions): boolean {
  const minMs = earliestEventTimeMs(o);
  const latestMs = (o.nowMs ?? Date.now()) + (o.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  return eventTimeMs <= latestMs && (minMs === null || eventTimeMs >= minMs);
}

function checkEventTime(issues: ValidationIssue[], field: string, eventTimeMs: number, o: ValidateOptions) {
  const nowMs = o.nowMs ?? Date.now();
  const skewMs = o.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  const minMs = earliestEventTimeMs(o);
  if (eventTimeMs > nowMs + skewMs) {
    issues.push(
      issue(
        ValidationCode.futureEventTime,
        field,
        `event time is ${eventTimeMs - nowMs} ms ahead of processing time (at most ${skewMs} ms allowed)`,
      ),
    );
  }
  if (minMs !== null && eventTimeMs < minMs) {
    issues.push(
      issue(
        ValidationCode.eventTimeTooOld,
        field,
        `event time ${eventTimeMs} is before ${new Date(minMs).toISOString()}`,
      ),
    );
  }
}

function blank(s: string): boolean {
  // A printable ASCII first character settles it without trim() (what the producer sees almost always).
  const first = s.charCodeAt(0);
  if (first > 32 && first < 127) return false;
  return s.trim().length === 0;
}

const activityV2Schema = JSON.parse(SCHEMA_TEXTS.userActivityV2) as JsonSchema & RecordSchema;
const normaliseActivity = compileNormaliser(activityV2Schema);
const ACTIVITY_V2_FIELDS = activityV2Schema.fields.length;
/** A plain v2 event (isPlainActivityV2) without undeclared fields. */
const plainActivity = (e: UserActivityV2): boolean =>
  isPlainActivityV2(e) && ownKeyCount(e) === ACTIVITY_V2_FIELDS;
const normaliseRecentChange = compileNormaliser(JSON.parse(SCHEMA_TEXTS.wikimediaRecentChange) as JsonSchema);

/**
 * Checks an activity event from any source. The shape is checked against the current schema (v2), so a
 * v1-shaped event passes with `app_version: null`. Semantic rules run only on well-shaped events.
 */
export function validateActivity(
  raw: unknown,
  options: ValidateOptions = {},
): ValidationResult<UserActivityV2> {
  // Direct calls: the producer runs this for every event.
  const shaped = checkShape<UserActivityV2>(userActivityV2Type, normaliseActivity, raw, plainActivity);
  return shaped.ok ? validateActivityRules(shaped.value, options) : shaped;
}

/**
 * The semantic rules alone, for a record that already has the contract's shape: one decoded from Avro
 * with the v2 reader schema (the stream job), where the shape check would only repeat the decoder's.
 */
export function validateActivityRules(
  e: UserActivityV2,
  options: ValidateOptions = {},
): ValidationResult<UserActivityV2> {
  // Almost every event passes: check first without building an issue list, then again to describe.
  if (applyActivityRules(e, options, null)) return { ok: true, value: e };
  const issues: ValidationIssue[] = [];
  applyActivityRules(e, options, issues);
  return { ok: false, errors: issues };
}

/** True when validateActivityRules finds nothing wrong with `e` (no issue list is built). */
export function activityRulesPass(e: UserActivityV2, options: ValidateOptions): boolean {
  return applyActivityRules(e, options, null);
}

/**
 * The activity rules, in one place for both uses: with `issues` null it returns false at the first broken
 * rule; with a list it records every broken rule there. Returns whether every rule held.
 */
function applyActivityRules(
  e: UserActivityV2,
  options: ValidateOptions,
  issues: ValidationIssue[] | null,
): boolean {
  // Each broken rule: stop when only asked whether all hold, else record it. No closure: this runs
  // once an event on the producer's hot path.
  if (blank(e.user_id)) {
    if (issues === null) return false;
    issues.push(issue(ValidationCode.emptyUserId, "user_id", "must not be empty"));
  }
  if (blank(e.session_id)) {
    if (issues === null) return false;
    issues.push(issue(ValidationCode.emptySessionId, "session_id", "must not be empty"));
  }
  if (!isUuid(e.event_id)) {
    if (issues === null) return false;
    issues.push(issue(ValidationCode.badEventId, "event_id", "must be a UUID"));
  }
  if (!eventTimeAccepted(e.event_time, options)) {
    if (issues === null) return false;
    checkEventTime(issues, "event_time", e.event_time, options);
  }

  const purchase = e.event_type === "PURCHASE";
  if (e.amount !== null) {
    if (!Number.isFinite(e.amount)) {
      if (issues === null) return false;
      issues.push(issue(ValidationCode.badAmount, "amount", "must be a finite number"));
    } else if (e.amount < 0) {
      if (issues === null) return false;
      issues.push(issue(ValidationCode.negativeAmount, "amount", "must not be negative"));
    }
    // Revenue is the sum of amounts over all events, so a price carried on a view or cart event
    // would be counted as revenue; the REES46 mapping keeps price on purchases only for this reason.
    if (!purchase) {
      if (issues === null) return false;
      issues.push(
        issue(
          ValidationCode.amountOnNonPurchase,
          "amount",
          `must be null on ${e.event_type} (only PURCHASE)`,
        ),
      );
    }
    if (e.currency === null) {
      if (issues === null) return false;
      issues.push(issue(ValidationCode.missingCurrency, "currency", "is required when amount is set"));
    }
  } else if (purchase) {
    if (issues === null) return false;
    issues.push(issue(ValidationCode.purchaseWithoutAmount, "amount", "is required on PURCHASE"));
  }
  if (e.currency !== null && !isUpperCode(e.currency, 3)) {
    if (issues === null) return false;
    issues.push(
      issue(ValidationCode.badCurrency, "currency", "must be an ISO 4217 code (3 uppercase letters)"),
    );
  }
  if (e.country !== null && !isUpperCode(e.country, 2)) {
    if (issues === null) return false;
    issues.push(
      issue(ValidationCode.badCountry, "country", "must be an ISO 3166-1 alpha-2 code (2 uppercase letters)"),
    );
  }
  return issues === null || issues.length === 0;
}

/** Checks a Wikimedia recent change already mapped to the contract shape (meta.dt may be ISO-8601). */
export function validateRecentChange(
  raw: unknown,
  options: ValidateOptions = {},
): ValidationResult<WikimediaRecentChange> {
  const shaped = checkShape<WikimediaRecentChange>(wikimediaRecentChangeType, normaliseRecentChange, raw);
  return shaped.ok ? validateRecentChangeRules(shaped.value, options) : shaped;
}

/** The semantic rules alone, for a recent change decoded from Avro with the contract's reader schema. */
export function validateRecentChangeRules(
  e: WikimediaRecentChange,
  options: ValidateOptions = {},
): ValidationResult<WikimediaRecentChange> {
  const issues: ValidationIssue[] = [];
  if (blank(e.wiki)) issues.push(issue(ValidationCode.emptyWiki, "wiki", "must not be empty"));
  if (blank(e.server_name))
    issues.push(issue(ValidationCode.emptyServerName, "server_name", "must not be empty"));
  if (blank(e.type)) issues.push(issue(ValidationCode.emptyChangeType, "type", "must not be empty"));
  if (blank(e.meta.id)) issues.push(issue(ValidationCode.emptyMetaId, "meta.id", "must not be empty"));
  checkEventTime(issues, "meta.dt", e.meta.dt, options);
  return issues.length > 0 ? { ok: false, errors: issues } : { ok: true, value: e };
}

/** One line listing every issue, for dead letters and logs. */
export function describeIssues(errors: readonly { code: string; message: string }[]): string {
  return errors.map((e) => `${e.code} (${e.message})`).join("; ");
}
