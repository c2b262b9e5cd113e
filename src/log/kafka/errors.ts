// The Kafka client's errors as LogErrors: unreachable brokers, a broker not ready yet, an unknown topic.

import { GenericError, MultipleErrors, NetworkError, TimeoutError } from "@platformatic/kafka";
import { LogError, LogErrorCode } from "../../errors.ts";
import { errorMessage } from "../../sqlite/open-file.ts";

/**
 * A client failure as a LogError: unreachable brokers are retriable; the broker's own errors are named.
 * `onNotReady` runs when the failure says the metadata is stale (a broker restarting, a leader moving).
 */
export function kafkaFailure(
  action: string,
  error: unknown,
  brokers: readonly string[],
  onNotReady: () => void,
): LogError {
  if (error instanceof LogError) return error;
  const named = brokers.join(",");
  if (isUnreachable(error)) {
    return new LogError(
      LogErrorCode.unavailable,
      `Kafka at ${named} is unreachable (${action}): ${describe(error)}. Check that the broker runs and that the log URL names it.`,
      { cause: error, retriable: true },
    );
  }
  if (isTransient(error) || isUnparsable(error)) {
    // A broker restarting or a leader moving: the metadata is stale; ask again after a pause. The
    // client cannot parse some error answers a restarting Kafka 4 broker sends to Produce (its reader
    // runs out of bounds); they come and go with the restart, so they are treated the same way.
    onNotReady();
    return new LogError(
      LogErrorCode.unavailable,
      `Kafka at ${named} is not ready (${action}): ${describe(error)}; a broker is starting or a leader is moving.`,
      { cause: error, retriable: true },
    );
  }
  return new LogError(LogErrorCode.storage, `Kafka at ${named} failed to ${action}: ${describe(error)}.`, {
    cause: error,
    retriable: isRetriable(error),
  });
}

export function unknownTopic(topic: string, brokers: readonly string[]): LogError {
  return new LogError(
    LogErrorCode.unknownTopic,
    `Topic "${topic}" does not exist on Kafka at ${brokers.join(",")}; create it first with ensureTopic({ name: "${topic}", partitions: N }).`,
    { details: { topic } },
  );
}

/** Errors after which the producer id's sequence numbers no longer line up: start a new producer id. */
const SEQUENCE_RESET_ERRORS = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING",
  "PRODUCER_FENCED",
]);

/** Whether a failed produce leaves the producer id's sequence numbers out of line with the broker's. */
export function needsNewProducerId(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof GenericError && SEQUENCE_RESET_ERRORS.has(String(e.apiId)));
}

/** Every error the client reports, flattened out of its aggregates. */
function leaves(error: unknown): unknown[] {
  if (error instanceof MultipleErrors || error instanceof AggregateError) {
    return (error as AggregateError).errors.flatMap(leaves);
  }
  return [error];
}

export function hasApiError(error: unknown, apiId: string): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.apiId === apiId);
}

export function isUnknownTopic(error: unknown): boolean {
  return leaves(error).some(
    (e) =>
      (e instanceof GenericError &&
        (e.apiId === "UNKNOWN_TOPIC_OR_PARTITION" || e.apiId === "UNKNOWN_TOPIC_ID")) ||
      (e instanceof Error && /^Unknown topic /.test(e.message)),
  );
}

export function isStaleMetadata(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.hasStaleMetadata === true);
}

function isUnreachable(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof NetworkError || e instanceof TimeoutError);
}

/** Kafka's errors that a restart or a leader election causes and that go away by themselves. */
const TRANSIENT_API_ERRORS = new Set([
  "UNKNOWN_LEADER_EPOCH",
  "FENCED_LEADER_EPOCH",
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_OR_FOLLOWER",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "REQUEST_TIMED_OUT",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "KAFKA_STORAGE_ERROR",
  "NETWORK_EXCEPTION",
  "BROKER_NOT_AVAILABLE",
  "REPLICA_NOT_AVAILABLE",
  "OFFSET_NOT_AVAILABLE",
  "THROTTLING_QUOTA_EXCEEDED",
]);

function isTransient(error: unknown): boolean {
  return leaves(error).some(
    (e) =>
      e instanceof GenericError &&
      ((typeof e.apiId === "string" && TRANSIENT_API_ERRORS.has(e.apiId)) || e.hasStaleMetadata === true),
  );
}

function isUnparsable(error: unknown): boolean {
  return leaves(error).some((e) => (e as { code?: unknown }).code === "OUT_OF_BOUNDS");
}

function isRetriable(error: unknown): boolean {
  return leaves(error).some((e) => e instanceof GenericError && e.canRetry === true);
}

function describe(error: unknown): string {
  const parts = leaves(error).map((e) => {
    if (e instanceof GenericError && typeof e.apiId === "string")
      return `${e.apiId}${e.serverErrorMessage ? ` (${e.serverErrorMessage})` : ""}`;
    return errorMessage(e).replace(/\.$/, "");
  });
  return [...new Set(parts)].join("; ");
}
