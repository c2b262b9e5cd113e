// The one error catalog: every error Pulse throws carries a stable code and flags that code decides on.

export interface PulseErrorOptions {
  /** True when retrying the same operation later may succeed (a busy log, a dropped connection). */
  retriable?: boolean;
  cause?: unknown;
  /** Extra machine-readable detail, safe to print (never secrets or whole payloads). */
  details?: Record<string, unknown>;
}

export class PulseError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: PulseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

/** A configuration file or environment variable is wrong; the message names the key and the fix. */
export class ConfigError extends PulseError {
  constructor(message: string, options: PulseErrorOptions = {}) {
    super("PULSE_CONFIG_INVALID", message, options);
  }
}

/** Bytes could not be turned into a record (wrong magic byte, unknown schema id, truncated payload). */
export class SerdeError extends PulseError {}
export const SerdeErrorCode = {
  badMagicByte: "PULSE_SERDE_BAD_MAGIC_BYTE",
  unknownSchemaId: "PULSE_SERDE_UNKNOWN_SCHEMA_ID",
  truncated: "PULSE_SERDE_TRUNCATED",
  invalidPayload: "PULSE_SERDE_INVALID_PAYLOAD",
  encodeFailed: "PULSE_SERDE_ENCODE_FAILED",
} as const;

/** A record is well-formed Avro but breaks a semantic rule of its contract. */
export class ValidationError extends PulseError {}

/** Schema registry errors, each mapped to Confluent's error code and HTTP status. */
export class RegistryError extends PulseError {
  readonly httpStatus: number;
  readonly confluentCode: number;
  constructor(
    code: string,
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
export const LogErrorCode = {
  unknownTopic: "PULSE_LOG_UNKNOWN_TOPIC",
  topicExists: "PULSE_LOG_TOPIC_EXISTS",
  badPartition: "PULSE_LOG_BAD_PARTITION",
  closed: "PULSE_LOG_CLOSED",
  busy: "PULSE_LOG_BUSY",
  badArgument: "PULSE_LOG_BAD_ARGUMENT",
  /** The storage under the log failed (disk full, I/O error, corrupt file). */
  storage: "PULSE_LOG_STORAGE",
  /** A remote log (Kafka) cannot be reached; retriable. */
  unavailable: "PULSE_LOG_UNAVAILABLE",
} as const;

/** An event source failed: unreachable network, bad file, HTTP error from a feed. */
export class SourceError extends PulseError {}

/** A command-line usage error: unknown flag, missing argument. */
export class UsageError extends PulseError {
  constructor(message: string, options: PulseErrorOptions = {}) {
    super("PULSE_USAGE", message, options);
  }
}

/** Stable codes of RegistryError; src/registry/errors.ts maps each to Confluent's error_code and HTTP status. */
export const RegistryErrorCode = {
  subjectNotFound: "PULSE_REGISTRY_SUBJECT_NOT_FOUND",
  versionNotFound: "PULSE_REGISTRY_VERSION_NOT_FOUND",
  schemaNotFound: "PULSE_REGISTRY_SCHEMA_NOT_FOUND",
  subjectSoftDeleted: "PULSE_REGISTRY_SUBJECT_SOFT_DELETED",
  subjectNotSoftDeleted: "PULSE_REGISTRY_SUBJECT_NOT_SOFT_DELETED",
  versionSoftDeleted: "PULSE_REGISTRY_VERSION_SOFT_DELETED",
  versionNotSoftDeleted: "PULSE_REGISTRY_VERSION_NOT_SOFT_DELETED",
  subjectConfigNotFound: "PULSE_REGISTRY_SUBJECT_CONFIG_NOT_FOUND",
  incompatible: "PULSE_REGISTRY_INCOMPATIBLE",
  invalidSchema: "PULSE_REGISTRY_INVALID_SCHEMA",
  unsupportedSchemaType: "PULSE_REGISTRY_UNSUPPORTED_SCHEMA_TYPE",
  invalidVersion: "PULSE_REGISTRY_INVALID_VERSION",
  invalidCompatibilityLevel: "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
  invalidSubject: "PULSE_REGISTRY_INVALID_SUBJECT",
  badRequest: "PULSE_REGISTRY_BAD_REQUEST",
  bodyTooLarge: "PULSE_REGISTRY_BODY_TOO_LARGE",
  methodNotAllowed: "PULSE_REGISTRY_METHOD_NOT_ALLOWED",
  storeFailed: "PULSE_REGISTRY_STORE_FAILED",
  unreachable: "PULSE_REGISTRY_UNREACHABLE",
  unexpectedResponse: "PULSE_REGISTRY_UNEXPECTED_RESPONSE",
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** Speed-layer errors: a bad window or watermark option, a checkpoint snapshot that cannot be restored. */
export class StreamError extends PulseError {}
export const StreamErrorCode = {
  /** A window size or slide is not a positive whole number of ms, or the slide exceeds the size. */
  badWindowSpec: "PULSE_STREAM_BAD_WINDOW_SPEC",
  /** Another stream option (out-of-orderness, lateness, partition, offset) is out of range. */
  badOption: "PULSE_STREAM_BAD_OPTION",
  /** Snapshot bytes are truncated or not a Pulse stream snapshot. */
  snapshotCorrupt: "PULSE_STREAM_SNAPSHOT_CORRUPT",
  /** The snapshot was written by a job with another aggregate or other window options. */
  snapshotMismatch: "PULSE_STREAM_SNAPSHOT_MISMATCH",
} as const;
export type StreamErrorCode = (typeof StreamErrorCode)[keyof typeof StreamErrorCode];

/** Live-store errors: a bad row or query argument, the store is closed or busy, the storage under it failed. */
export class StoreError extends PulseError {}
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
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];
