// Argument checks every Log implementation shares, so each rejects bad input with the same code and message.

import { LogError, LogErrorCode } from "../errors.ts";
import type { TopicSpec } from "./index.ts";

/** Kafka's own limit on a topic's partitions is higher; this keeps rowids and fetch plans bounded. */
export const MAX_PARTITIONS = 1024;
/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function validateTopicSpec(spec: TopicSpec): void {
  if (typeof spec.name !== "string" || !TOPIC_NAME.test(spec.name)) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Topic name ${JSON.stringify(spec.name)} is invalid: use 1-249 of the characters a-z A-Z 0-9 . _ - (Kafka's rule).`,
    );
  }
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1 || spec.partitions > MAX_PARTITIONS) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Topic "${spec.name}" partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${spec.partitions}.`,
    );
  }
  const { maxAgeMs, maxSizeBytes } = spec.retention ?? {};
  for (const [field, value] of [
    ["maxAgeMs", maxAgeMs],
    ["maxSizeBytes", maxSizeBytes],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LogError(
        LogErrorCode.badArgument,
        `Topic "${spec.name}" retention.${field} must be a non-negative integer, got ${value}.`,
      );
    }
  }
}

export function checkPartition(topic: string, partitions: number, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new LogError(
      LogErrorCode.badPartition,
      `Topic "${topic}" has partitions 0-${partitions - 1}; partition ${partition} does not exist.`,
      { details: { topic, partition, partitions } },
    );
  }
}

export function checkRecordBytes(bytes: unknown, field: "key" | "value", topic: string): void {
  if (!(bytes instanceof Uint8Array)) {
    throw new LogError(
      LogErrorCode.badArgument,
      `Record ${field} must be a Buffer or null (topic "${topic}"), got ${typeof bytes}; serialize it first.`,
    );
  }
}

export function checkGroup(group: string): void {
  if (typeof group !== "string" || group.length === 0) {
    throw new LogError(LogErrorCode.badArgument, "Consumer group name must be a non-empty string.");
  }
}
