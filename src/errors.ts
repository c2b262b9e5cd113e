// The one error catalog: the error classes Pulse throws and every stable code they carry, in a table per area.
//
// ERROR_CATALOG at the end gathers the tables; PulseErrorCode is the union of them all, so a code that is
// not in a table fails the type-check. Code decides on codes and flags (retriable), never on message text.
// docs/errors.md is generated from the tables and their comments (src/errors.test.ts keeps it in step).
// Codes are a contract: dead letters, HTTP answers and dashboards carry them, so one is never renamed or
// reused.

/** Where in a file a problem is (a key in pulse.config.yaml, a line of a model's SQL), counted from 1. */
export interface ErrorLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface PulseErrorOptions {
  /** True when retrying the same operation later may succeed (a busy log, a dropped connection). */
  retriable?: boolean;
  /** The error this one wraps; kept so the whole chain can be printed. */
  cause?: unknown;
  /** Extra machine-readable detail, safe to print (never secrets or whole payloads). */
  details?: Record<string, unknown>;
  /** The file (and line, column) the problem is in, for errors about a file the user wrote. */
  location?: ErrorLocation;
}

export class PulseError extends Error {
  readonly code: PulseErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;
  readonly location: ErrorLocation | undefined;

  constructor(code: PulseErrorCode, message: string, options: PulseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
    this.location = options.location;
  }
}

// --- Error classes: one per layer, each throwing the codes of its area ------------------------------

/** A configuration file or environment variable is wrong; the message names the key and the fix. */
export class ConfigError extends PulseError {
  constructor(message: string, options: PulseErrorOptions = {}) {
    super(ConfigErrorCode.invalid, message, options);
  }
}

/** A command-line usage error: unknown flag, missing argument. */
export class UsageError extends PulseError {
  constructor(message: string, options: PulseErrorOptions = {}) {
    super(UsageErrorCode.usage, message, options);
  }
}

/** Bytes could not be turned into a record (wrong magic byte, unknown schema id, truncated payload). */
export class SerdeError extends PulseError {}

/** A record is well-formed Avro but breaks a semantic rule of its contract. */
export class ValidationError extends PulseError {}

/** Schema registry errors, each mapped to Confluent's error code and HTTP status (src/registry/errors.ts). */
export class RegistryError extends PulseError {
  readonly httpStatus: number;
  readonly confluentCode: number;
  constructor(
    code: PulseErrorCode,
    message: string,
    httpStatus: number,
    confluentCode: number,
    options: PulseErrorOptions = {},
  ) {
    super(code, message, options);
    this.httpStatus = httpStatus;
    this.confluentCode = confluentCode;
  }
}

/** Log errors: unknown topic, bad partition, the log is closed or busy. */
export class LogError extends PulseError {}

/** An event source failed: unreachable network, bad file, HTTP error from a feed. */
export class SourceError extends PulseError {}

/** Speed-layer errors: a bad window or watermark option, a checkpoint snapshot that cannot be restored. */
export class StreamError extends PulseError {}

/** Live-store errors: a bad row or query argument, the store is closed or busy, its storage failed. */
export class StoreError extends PulseError {}

/** Warehouse errors: a statement the database refused, an unreachable server, a bad relation name. */
export class WarehouseError extends PulseError {}

/** Batch-load errors: a raw-lake row that cannot be decoded or typed, a bad --date. */
export class LoadError extends PulseError {}

/** Model-project errors: a bad project or model file (with its file:line), a missing ref, a cycle. */
export class ModelError extends PulseError {}

/** Orchestrator errors: a bad DAG definition or schedule, a run-history call the run store refuses. */
export class OrchestrateError extends PulseError {}

// --- Codes, one table per area ----------------------------------------------------------------------

/** Configuration: pulse.config.yaml, PULSE_* variables and the flags that override them. */
export const ConfigErrorCode = {
  /** A key, value or backend URL is wrong, or the server cannot bind its address; the message names the key. */
  invalid: "PULSE_CONFIG_INVALID",
} as const;

/** The command line. */
export const UsageErrorCode = {
  /** An unknown command or flag, a missing or malformed argument; the command exits with status 2. */
  usage: "PULSE_USAGE",
} as const;

/** Contract validation: why an event was rejected. Dead letters and dashboards group by these. */
export const ValidationErrorCode = {
  /** The event does not have the contract's shape: a missing field, a wrong type, a value out of its type. */
  schemaMismatch: "PULSE_VALIDATION_SCHEMA_MISMATCH",
  /** user_id is empty or only white space. */
  emptyUserId: "PULSE_VALIDATION_EMPTY_USER_ID",
  /** session_id is empty or only white space. */
  emptySessionId: "PULSE_VALIDATION_EMPTY_SESSION_ID",
  /** event_id is not a UUID. */
  badEventId: "PULSE_VALIDATION_BAD_EVENT_ID",
  /** The event time is further ahead of processing time than the allowed clock skew. */
  futureEventTime: "PULSE_VALIDATION_FUTURE_EVENT_TIME",
  /** The event time is before the earliest accepted one (2000-01-01 by default). */
  eventTimeTooOld: "PULSE_VALIDATION_EVENT_TIME_TOO_OLD",
  /** amount is not a finite number. */
  badAmount: "PULSE_VALIDATION_BAD_AMOUNT",
  /** amount is negative. */
  negativeAmount: "PULSE_VALIDATION_NEGATIVE_AMOUNT",
  /** A PURCHASE has no amount. */
  purchaseWithoutAmount: "PULSE_VALIDATION_PURCHASE_WITHOUT_AMOUNT",
  /** An event other than PURCHASE carries an amount, which would count as revenue. */
  amountOnNonPurchase: "PULSE_VALIDATION_AMOUNT_ON_NON_PURCHASE",
  /** amount is set without a currency. */
  missingCurrency: "PULSE_VALIDATION_MISSING_CURRENCY",
  /** currency is not an ISO 4217 code (3 uppercase letters). */
  badCurrency: "PULSE_VALIDATION_BAD_CURRENCY",
  /** country is not an ISO 3166-1 alpha-2 code (2 uppercase letters). */
  badCountry: "PULSE_VALIDATION_BAD_COUNTRY",
  /** A recent change has an empty wiki. */
  emptyWiki: "PULSE_VALIDATION_EMPTY_WIKI",
  /** A recent change has an empty server_name. */
  emptyServerName: "PULSE_VALIDATION_EMPTY_SERVER_NAME",
  /** A recent change has an empty type. */
  emptyChangeType: "PULSE_VALIDATION_EMPTY_CHANGE_TYPE",
  /** A recent change has an empty meta.id. */
  emptyMetaId: "PULSE_VALIDATION_EMPTY_META_ID",
} as const;

/** The Confluent wire format and Avro: bytes that cannot become a record, a record that cannot become bytes. */
export const SerdeErrorCode = {
  /** The first byte is not the magic byte 0: the bytes were not written by a registry-aware serializer. */
  badMagicByte: "PULSE_SERDE_BAD_MAGIC_BYTE",
  /** The frame's schema id is not in the registry (retriable while only the local cache lacks it). */
  unknownSchemaId: "PULSE_SERDE_UNKNOWN_SCHEMA_ID",
  /** The bytes end before the frame header or the Avro value does. */
  truncated: "PULSE_SERDE_TRUNCATED",
  /** No value, bytes that are not Avro of their schema, trailing bytes, or a writer schema the reader cannot read. */
  invalidPayload: "PULSE_SERDE_INVALID_PAYLOAD",
  /** A value does not fit the schema it is encoded with; the message names the fields. */
  encodeFailed: "PULSE_SERDE_ENCODE_FAILED",
} as const;

/** The schema registry; src/registry/errors.ts maps each to Confluent's error_code and HTTP status. */
export const RegistryErrorCode = {
  /** No such subject (Confluent 40401). */
  subjectNotFound: "PULSE_REGISTRY_SUBJECT_NOT_FOUND",
  /** No such version of the subject (40402). */
  versionNotFound: "PULSE_REGISTRY_VERSION_NOT_FOUND",
  /** No schema with that id (40403). */
  schemaNotFound: "PULSE_REGISTRY_SCHEMA_NOT_FOUND",
  /** The subject was soft-deleted; delete it permanently or register again (40404). */
  subjectSoftDeleted: "PULSE_REGISTRY_SUBJECT_SOFT_DELETED",
  /** A permanent delete of a subject that was not soft-deleted first (40405). */
  subjectNotSoftDeleted: "PULSE_REGISTRY_SUBJECT_NOT_SOFT_DELETED",
  /** The version was soft-deleted (40406). */
  versionSoftDeleted: "PULSE_REGISTRY_VERSION_SOFT_DELETED",
  /** A permanent delete of a version that was not soft-deleted first (40407). */
  versionNotSoftDeleted: "PULSE_REGISTRY_VERSION_NOT_SOFT_DELETED",
  /** The subject has no compatibility level of its own (40408). */
  subjectConfigNotFound: "PULSE_REGISTRY_SUBJECT_CONFIG_NOT_FOUND",
  /** The schema breaks the subject's compatibility level (409). */
  incompatible: "PULSE_REGISTRY_INCOMPATIBLE",
  /** The schema text is not a valid Avro schema (42201). */
  invalidSchema: "PULSE_REGISTRY_INVALID_SCHEMA",
  /** A schema type other than AVRO (42201). */
  unsupportedSchemaType: "PULSE_REGISTRY_UNSUPPORTED_SCHEMA_TYPE",
  /** A version that is not a positive integer, "latest" or -1 (42202). */
  invalidVersion: "PULSE_REGISTRY_INVALID_VERSION",
  /** A compatibility level Confluent does not define (42203). */
  invalidCompatibilityLevel: "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
  /** An empty subject name or one with control characters (42208). */
  invalidSubject: "PULSE_REGISTRY_INVALID_SUBJECT",
  /** A request the REST API cannot parse: bad JSON, a missing field, a bad query parameter. */
  badRequest: "PULSE_REGISTRY_BAD_REQUEST",
  /** A request body larger than the REST API accepts. */
  bodyTooLarge: "PULSE_REGISTRY_BODY_TOO_LARGE",
  /** An HTTP method the route does not serve. */
  methodNotAllowed: "PULSE_REGISTRY_METHOD_NOT_ALLOWED",
  /** The storage under the registry failed (its SQLite file or _schemas topic); retriable. */
  storeFailed: "PULSE_REGISTRY_STORE_FAILED",
  /** A remote registry cannot be reached; retriable. Each request is retried for up to 60 s first (a registry still starting). */
  unreachable: "PULSE_REGISTRY_UNREACHABLE",
  /** A remote registry answered with something that is not a Confluent REST API reply. */
  unexpectedResponse: "PULSE_REGISTRY_UNEXPECTED_RESPONSE",
  /** A write (POST, PUT, DELETE) to a server bound off loopback without the admin token, or with another (401). */
  unauthorized: "PULSE_REGISTRY_UNAUTHORIZED",
  /** A write to a server bound off loopback while no admin token is configured (403): set server.admin_token. */
  forbidden: "PULSE_REGISTRY_FORBIDDEN",
} as const;

/** The log, embedded or Kafka. */
export const LogErrorCode = {
  /** The topic does not exist; create it first (pulse topics create). */
  unknownTopic: "PULSE_LOG_UNKNOWN_TOPIC",
  /** A topic of that name exists already. */
  topicExists: "PULSE_LOG_TOPIC_EXISTS",
  /** The partition is not one of the topic's. */
  badPartition: "PULSE_LOG_BAD_PARTITION",
  /** The log was used after close(). */
  closed: "PULSE_LOG_CLOSED",
  /** Another process held the log's write lock for longer than the busy timeout; retriable. */
  busy: "PULSE_LOG_BUSY",
  /** An argument is out of range (an offset, a batch size, a topic spec, a record). */
  badArgument: "PULSE_LOG_BAD_ARGUMENT",
  /** The storage under the log failed (disk full, I/O error, corrupt file). */
  storage: "PULSE_LOG_STORAGE",
  /** A remote log (Kafka) cannot be reached; retriable. */
  unavailable: "PULSE_LOG_UNAVAILABLE",
} as const;

/** Event sources: the simulator, files and feeds they read. */
export const SourceErrorCode = {
  /** A source option is out of range (a rate, a share, a user count). */
  badOption: "PULSE_SOURCE_BAD_OPTION",
  /** A file to replay (CSV, Wikimedia recording) is missing or cannot be read; the message names it. */
  fileUnreadable: "PULSE_SOURCE_FILE_UNREADABLE",
  /** A feed cannot be reached at all (DNS, refused, no answer); retriable. */
  unreachable: "PULSE_SOURCE_UNREACHABLE",
  /** A feed answered with an HTTP status that retrying will not change (a 4xx other than 408 and 429). */
  httpError: "PULSE_SOURCE_HTTP_ERROR",
  /** A feed failed more times in a row than the client may retry; retriable later. */
  retriesExhausted: "PULSE_SOURCE_RETRIES_EXHAUSTED",
} as const;

/** REES46 clickstream CSV rows that cannot become activity events. */
export const CsvErrorCode = {
  /** The header lacks a column the mapping needs. */
  badHeader: "PULSE_CSV_BAD_HEADER",
  /** A row has another number of fields than the header. */
  badRow: "PULSE_CSV_BAD_ROW",
  /** event_time is not a "YYYY-MM-DD hh:mm:ss UTC" date and time that exists (no 2019-02-30, no 24:00). */
  badTime: "PULSE_CSV_BAD_EVENT_TIME",
  /** event_type is not view, cart, remove_from_cart or purchase. */
  unknownEventType: "PULSE_CSV_UNKNOWN_EVENT_TYPE",
  /** product_id, user_id or user_session is empty. */
  missingField: "PULSE_CSV_MISSING_FIELD",
  /** price is not a non-negative decimal, or a purchase has none. */
  badPrice: "PULSE_CSV_BAD_PRICE",
} as const;

/** Wikimedia recentchange events that cannot become the contract's shape. */
export const WikimediaErrorCode = {
  /** The event is not a JSON object. */
  notObject: "PULSE_WIKIMEDIA_NOT_OBJECT",
  /** A required field (meta, meta.id, meta.dt, type, wiki, …) is missing. */
  missingField: "PULSE_WIKIMEDIA_MISSING_FIELD",
  /** A field has the wrong type, or meta.dt is not an ISO 8601 date-time with a zone. */
  badField: "PULSE_WIKIMEDIA_BAD_FIELD",
  /** The live feed sent an event whose data is not a JSON object. */
  badJson: "PULSE_WIKIMEDIA_BAD_JSON",
} as const;

/** Lines of a recorded Wikimedia file that the replay skips. */
export const ReplayErrorCode = {
  /** A line (or SSE event) is not valid JSON. */
  badJson: "PULSE_REPLAY_BAD_JSON",
  /** A line is JSON but not an object. */
  notObject: "PULSE_REPLAY_NOT_OBJECT",
} as const;

/** The speed layer. */
export const StreamErrorCode = {
  /** A window size or slide is not a positive whole number of ms, or the slide exceeds the size. */
  badWindowSpec: "PULSE_STREAM_BAD_WINDOW_SPEC",
  /** Another stream option (out-of-orderness, lateness, partition, offset) is out of range. */
  badOption: "PULSE_STREAM_BAD_OPTION",
  /** Snapshot bytes are truncated or not a Pulse stream snapshot. */
  snapshotCorrupt: "PULSE_STREAM_SNAPSHOT_CORRUPT",
  /** The snapshot was written by a job with another aggregate or other window options. */
  snapshotMismatch: "PULSE_STREAM_SNAPSHOT_MISMATCH",
  /** Stream progress was asked of a process that runs no stream job (HTTP 503). */
  notRunning: "PULSE_STREAM_NOT_RUNNING",
} as const;

/** The live store, embedded or MongoDB. */
export const StoreErrorCode = {
  /** A row or query argument is out of range (a window that ends before it starts, a negative limit). */
  badArgument: "PULSE_STORE_BAD_ARGUMENT",
  /** The store was used after close(). */
  closed: "PULSE_STORE_CLOSED",
  /** Another process held the write lock for longer than the busy timeout; retriable. */
  busy: "PULSE_STORE_BUSY",
  /** The file was written by a newer Pulse with a schema this one does not know. */
  schemaTooNew: "PULSE_STORE_SCHEMA_TOO_NEW",
  /** The storage under the store failed (disk full, I/O error, corrupt file, a server error). */
  storage: "PULSE_STORE_STORAGE",
  /** The store's server cannot be reached (refused, timed out, no server selected in time); retriable. */
  unavailable: "PULSE_STORE_UNAVAILABLE",
  /** A fenced checkpoint (Checkpoint.expectedNextOffset) moved meanwhile: another writer owns the partition. */
  conflict: "PULSE_STORE_CONFLICT",
} as const;

/** The warehouse (DuckDB, PostgreSQL, BigQuery). */
export const WarehouseErrorCode = {
  /** A relation, column or parameter is not acceptable (an empty name, a value of no SQL type). */
  badArgument: "PULSE_WAREHOUSE_BAD_ARGUMENT",
  /** The warehouse was used after close(). */
  closed: "PULSE_WAREHOUSE_CLOSED",
  /** The database refused a statement (a syntax error, an unknown table, a constraint); the message has its words. */
  queryFailed: "PULSE_WAREHOUSE_QUERY_FAILED",
  /** The warehouse's server cannot be reached or refused the credentials; retriable. */
  unavailable: "PULSE_WAREHOUSE_UNAVAILABLE",
  /** Another process holds the warehouse file (DuckDB allows one writing process); retriable. */
  locked: "PULSE_WAREHOUSE_LOCKED",
} as const;

/** The batch loader (pulse load): raw lake → warehouse. */
export const LoadErrorCode = {
  /** An argument is wrong (a --date that is not YYYY-MM-DD, an unknown topic). */
  badArgument: "PULSE_LOAD_BAD_ARGUMENT",
  /** A raw-lake row could not be decoded through the registry; the message names its topic, partition and offset. */
  undecodable: "PULSE_LOAD_UNDECODABLE",
  /** The raw table in the warehouse has columns the loader does not write; the message names them and the fix. */
  tableMismatch: "PULSE_LOAD_TABLE_MISMATCH",
  /** The raw lake's retention deleted rows while a day was being reloaded; nothing changed, and a retry runs it again (retriable). */
  lakeMoved: "PULSE_LOAD_LAKE_MOVED",
} as const;

/** The model runner (pulse models): a dbt-compatible project. */
export const ModelErrorCode = {
  /** dbt_project.yml, a properties .yml or a selector is wrong; the message names the file, line and key. */
  projectInvalid: "PULSE_MODEL_PROJECT_INVALID",
  /** A model's Jinja or SQL cannot be rendered (a syntax error, an undefined macro); at file:line. */
  renderFailed: "PULSE_MODEL_RENDER_FAILED",
  /** A Jinja construct the runner does not support; at file:line, with the construct's name. */
  unsupported: "PULSE_MODEL_UNSUPPORTED",
  /** ref() or source() names a node that does not exist; the message names both nodes. */
  missingRef: "PULSE_MODEL_MISSING_REF",
  /** The refs form a cycle; the message lists the nodes on it. */
  cycle: "PULSE_MODEL_CYCLE",
  /** A model's SQL failed in the warehouse; the message has the database's words and the model's file. */
  runFailed: "PULSE_MODEL_RUN_FAILED",
} as const;

/** The orchestrator: DAG definitions, schedules and the run store (run history, task leases). */
export const OrchestrateErrorCode = {
  /** A DAG definition is wrong: a duplicate or empty id, an unknown upstream task, a bad option; the message names the DAG and task. */
  badDag: "PULSE_ORCHESTRATE_BAD_DAG",
  /** A DAG's tasks depend on each other in a cycle; the message lists the tasks on it. */
  cycle: "PULSE_ORCHESTRATE_CYCLE",
  /** A schedule is not a 5-field cron expression, a preset (@daily, @hourly, …) or "manual", or its time zone is unknown. */
  badSchedule: "PULSE_ORCHESTRATE_BAD_SCHEDULE",
  /** A bad argument: a try number below 1, a span of too many intervals, an invalid Date, an unknown state, an empty lease owner, a lease of 0 ms. */
  badArgument: "PULSE_ORCHESTRATE_BAD_ARGUMENT",
  /** The run store was used after close(). */
  closed: "PULSE_ORCHESTRATE_CLOSED",
  /** The run store's file is locked by another process past the busy timeout; retriable. */
  busy: "PULSE_ORCHESTRATE_BUSY",
  /** The run store's storage failed (I/O error, a corrupt file, a database error), or its file has a newer schema. */
  storage: "PULSE_ORCHESTRATE_STORAGE",
  /** No such DAG, run, task or try log; the message names what exists. */
  notFound: "PULSE_ORCHESTRATE_NOT_FOUND",
  /** A task's try ran longer than its timeoutMs: it failed and its signal was aborted. */
  timeout: "PULSE_ORCHESTRATE_TIMEOUT",
  /** Reconciliation found events the batch and speed layers disagree on (batch − speed − late ≠ 0). */
  unreconciled: "PULSE_ORCHESTRATE_UNRECONCILED",
  /** The webhook notifier's URL did not take an event (twice): unreachable, or an answer other than 2xx. */
  webhook: "PULSE_ORCHESTRATE_WEBHOOK",
  /** A task's process exited with an error (or was killed); the message has its last words on stderr. */
  taskFailed: "PULSE_ORCHESTRATE_TASK_FAILED",
  /** The run store's PostgreSQL server cannot be reached or refuses the session (credentials, no such database); retriable. */
  unavailable: "PULSE_ORCHESTRATE_UNAVAILABLE",
} as const;

/** The HTTP server, answered as `{"error": {"code", "message"}}`. */
export const HttpErrorCode = {
  /** The request URL cannot be parsed (400). */
  badUrl: "PULSE_HTTP_BAD_URL",
  /** No route serves the path (404). */
  notFound: "PULSE_HTTP_NOT_FOUND",
  /** The route does not serve the request's method (405). */
  method: "PULSE_HTTP_METHOD",
  /** A query parameter is missing or out of range (400). */
  badParam: "PULSE_HTTP_BAD_PARAM",
  /** The request body is not valid JSON (400). */
  badJson: "PULSE_HTTP_BAD_JSON",
  /** The request body is larger than the route accepts (413). */
  bodyTooLarge: "PULSE_HTTP_BODY_TOO_LARGE",
  /** An unexpected fault in a handler (500); the details go to the server's log, not the client. */
  internal: "PULSE_HTTP_INTERNAL",
  /** The dashboard's web app could not be built or found (503); the message says why. */
  pagesUnavailable: "PULSE_HTTP_PAGES_UNAVAILABLE",
  /** The analytics marts are not in the warehouse yet (404); run `pulse batch`. */
  warehouseNotBuilt: "PULSE_HTTP_WAREHOUSE_NOT_BUILT",
  /** The warehouse cannot be read now (503): locked by a running `pulse batch`, or unreachable; retriable. */
  warehouseUnavailable: "PULSE_HTTP_WAREHOUSE_UNAVAILABLE",
  /** A write to the API without the admin token, or with another (401). */
  unauthorized: "PULSE_HTTP_UNAUTHORIZED",
  /** A write to the API while no admin token is configured (403): set server.admin_token. */
  forbidden: "PULSE_HTTP_FORBIDDEN",
} as const;

/** The HTTP collector (POST /api/v1/events). */
export const CollectorErrorCode = {
  /** No API key, or not a configured one (401). */
  unauthorized: "PULSE_COLLECTOR_UNAUTHORIZED",
  /** The body is not a JSON array of events (400). */
  notAnArray: "PULSE_COLLECTOR_NOT_AN_ARRAY",
  /** Too many batches are pending or the log is busy (429); retry after a second. */
  busy: "PULSE_COLLECTOR_BUSY",
  /** The log did not accept the batch and nothing was stored (503). */
  logUnavailable: "PULSE_COLLECTOR_LOG_UNAVAILABLE",
} as const;

/** Server-Sent Events (the live push stream). */
export const SseErrorCode = {
  /** An event name or id holds a line break (or NUL), which would break the framing. */
  badField: "PULSE_SSE_BAD_FIELD",
  /** The hub was closed (the server is shutting down). */
  closed: "PULSE_SSE_CLOSED",
  /** maxClients streams are already open. */
  tooManyClients: "PULSE_SSE_TOO_MANY_CLIENTS",
  /** No event stream is configured in this process (503). */
  off: "PULSE_SSE_OFF",
} as const;

/** Every code table by area: the whole catalog, as docs/errors.md lists it. */
export const ERROR_CATALOG = {
  config: ConfigErrorCode,
  usage: UsageErrorCode,
  validation: ValidationErrorCode,
  serde: SerdeErrorCode,
  registry: RegistryErrorCode,
  log: LogErrorCode,
  source: SourceErrorCode,
  csv: CsvErrorCode,
  wikimedia: WikimediaErrorCode,
  replay: ReplayErrorCode,
  stream: StreamErrorCode,
  store: StoreErrorCode,
  warehouse: WarehouseErrorCode,
  load: LoadErrorCode,
  model: ModelErrorCode,
  orchestrate: OrchestrateErrorCode,
  http: HttpErrorCode,
  collector: CollectorErrorCode,
  sse: SseErrorCode,
} as const;

export type ErrorArea = keyof typeof ERROR_CATALOG;

/** The codes of one area, e.g. `AreaErrorCode<"validation">`. */
export type AreaErrorCode<A extends ErrorArea> = CodesOf<(typeof ERROR_CATALOG)[A]>;

/** Every code Pulse uses: the type of PulseError's `code`. */
export type PulseErrorCode = AreaErrorCode<ErrorArea>;

/** The values of a code table (distributes over a union of tables). */
type CodesOf<T> = T extends Readonly<Record<string, string>> ? T[keyof T] : never;

// The codes of the areas that code narrows on (a rejection's code, the registry's wire mapping).
export type ValidationErrorCode = AreaErrorCode<"validation">;
export type RegistryErrorCode = AreaErrorCode<"registry">;
export type CsvErrorCode = AreaErrorCode<"csv">;
export type WikimediaErrorCode = AreaErrorCode<"wikimedia">;
export type ReplayErrorCode = AreaErrorCode<"replay">;
export type StreamErrorCode = AreaErrorCode<"stream">;
export type StoreErrorCode = AreaErrorCode<"store">;
export type WarehouseErrorCode = AreaErrorCode<"warehouse">;
export type LoadErrorCode = AreaErrorCode<"load">;
export type ModelErrorCode = AreaErrorCode<"model">;
export type OrchestrateErrorCode = AreaErrorCode<"orchestrate">;
