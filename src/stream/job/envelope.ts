// The checkpoint envelope: what the stream job writes in a checkpoint's state, around the aggregator's snapshot.

import { StreamError, StreamErrorCode } from "../../errors.ts";
import { ByteReader, ByteWriter } from "../binary.ts";

/*
 * Checkpoint.state written by the job, around the aggregator's own snapshot (binary.ts primitives):
 *   u32 magic "PJOB", u8 version, f64 dlqMark, f64 deadLettered, bytes aggregatorSnapshot, bytes alertState,
 *   f64 snapshotOffset (version 3)
 * snapshotOffset is the source offset the state covers: every offset below it is in the snapshot. The
 * checkpoint's nextOffset may be ahead of it (rows committed since, without state; see
 * checkpointIntervalMs); a restore reads from snapshotOffset and skips writing the lake and late rows
 * below nextOffset, which the store already holds. Versions 1 and 2 covered their nextOffset.
 * dlqMark is a position in the partition's dead-letter partition: every dead letter this job wrote for
 * source offsets at or after snapshotOffset lies at or after it (see recoverDeadLetters, recovery.ts).
 * alertState (version 2) is the topic's WindowAlerter state. The alerter is topic-wide, not per
 * partition, so it rides in the checkpoint of the topic's LOWEST partition only; every other checkpoint
 * holds 0 bytes there. Version 1 (no alertState) is still read: the alerter then starts empty.
 */
const ENVELOPE_MAGIC = 0x424f4a50; // "PJOB" little-endian
const ENVELOPE_VERSION = 3;

export interface Envelope {
  /** Undefined when read from a version-1/2 envelope: the checkpoint's nextOffset. */
  snapshotOffset?: number;
  dlqMark: number;
  deadLettered: number;
  snapshot: Uint8Array;
  /** Empty unless this checkpoint carries the topic's alert state. */
  alertState: Uint8Array;
}

export const NO_BYTES = new Uint8Array(0);

export function writeEnvelope(envelope: Envelope): Uint8Array {
  const w = new ByteWriter(envelope.snapshot.length + envelope.alertState.length + 48);
  w.u32(ENVELOPE_MAGIC);
  w.u8(ENVELOPE_VERSION);
  w.f64(envelope.dlqMark);
  w.f64(envelope.deadLettered);
  w.bytes(envelope.snapshot, envelope.snapshot.length);
  w.bytes(envelope.alertState, envelope.alertState.length);
  w.f64(envelope.snapshotOffset!);
  return w.finish();
}

export function readEnvelope(bytes: Uint8Array, where: string): Envelope {
  const r = new ByteReader(bytes);
  if (r.remaining < 5 || r.u32() !== ENVELOPE_MAGIC) {
    throw new StreamError(
      StreamErrorCode.snapshotCorrupt,
      `checkpoint of ${where} is not a Pulse stream-job checkpoint (bad magic)`,
    );
  }
  const version = r.u8();
  if (version !== 1 && version !== 2 && version !== ENVELOPE_VERSION) {
    throw new StreamError(
      StreamErrorCode.snapshotMismatch,
      `checkpoint of ${where} has job-envelope version ${version}; this Pulse reads versions 1 to ${ENVELOPE_VERSION}`,
    );
  }
  const dlqMark = r.f64();
  const deadLettered = r.f64();
  const snapshot = r.bytes();
  const alertState = version >= 2 ? r.bytes() : NO_BYTES;
  const snapshotOffset = version >= 3 ? r.f64() : undefined;
  if (r.remaining !== 0) {
    throw new StreamError(StreamErrorCode.snapshotCorrupt, `checkpoint of ${where} has trailing bytes`);
  }
  return { snapshotOffset, dlqMark, deadLettered, snapshot, alertState };
}
