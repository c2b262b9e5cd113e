// Commit: the batch's checkpoints, its one store commit, then the group offsets and dead-letter marks (lag, recovery).

import { setTimeout as sleep } from "node:timers/promises";
import { PulseError } from "../../errors.ts";
import type { GroupMember, Log, RecordPosition } from "../../log/index.ts";
import type { AlertRow, StoreBatch } from "../../store/index.ts";
import type { BatchRows } from "./batch-state.ts";
import type { PartitionCursor } from "./cursor.ts";
import { NO_BYTES, writeEnvelope } from "./envelope.ts";
import type { JobSettings } from "./options.ts";
import type { AnyPipeline } from "./pipelines.ts";

/**
 * How often a running job commits its group offsets to the log and reads the high watermarks, both only
 * for lag display. Per batch they cost a write to the log (contending with producers for the embedded
 * log's write lock) and, on Kafka, three requests.
 */
export const LAG_REFRESH_MS = 1_000;
/** How often an idle job moves its dead-letter scan marks up to the DLQ's end (bounds the scan after a crash). */
const DLQ_MARK_REFRESH_MS = 10_000;

/**
 * Adds a checkpoint to `rows` for every partition the batch read or changed. In a state round (`final`,
 * the checkpoint interval passed, or a partition's first checkpoint) every partition of a pipeline gets
 * one, with its state in the envelope, and the pipeline's alerter state rides in the lowest partition's.
 */
export function addCheckpoints(
  settings: JobSettings,
  pipelines: readonly AnyPipeline[],
  member: GroupMember | undefined,
  rows: BatchRows,
  batch: { final: boolean; startedAtMs: number; nowMs: number },
): void {
  const { final, startedAtMs, nowMs } = batch;
  for (const pipeline of pipelines) {
    const alerter = pipeline.alerter;
    // A pipeline writes the state of all its partitions and its alerter in one batch, so a restore
    // starts every partition and the alerter (whose windows span partitions) from one moment.
    const snapshot =
      final ||
      startedAtMs - pipeline.snapshotAtMs >= settings.checkpointIntervalMs ||
      pipeline.cursors.some((c) => c.dirty && c.storedOffset === null);
    if (snapshot) pipeline.snapshotAtMs = startedAtMs;
    // The alert state rides in the lowest partition's checkpoint (cursors are sorted by partition).
    const carrier = snapshot && alerter?.changed ? pipeline.cursors[0] : undefined;
    if (carrier !== undefined) carrier.dirty = true;
    for (const cursor of pipeline.cursors) {
      const stale = snapshot && cursor.snapshotOffset !== cursor.nextOffset;
      if (!cursor.dirty && !stale) continue;
      cursor.dirty = true;
      const carries = alerter !== undefined && cursor === pipeline.cursors[0];
      rows.checkpoints.push({
        job: settings.job,
        topic: pipeline.topic,
        partition: cursor.partition,
        nextOffset: cursor.committedOffset,
        state: snapshot
          ? writeEnvelope({
              snapshotOffset: cursor.nextOffset,
              dlqMark: cursor.persistedMark(),
              deadLettered: cursor.deadLettered,
              snapshot: pipeline.aggregator.snapshot(cursor.partition),
              alertState: carries
                ? alerterState(pipeline)
                : alerter === undefined && member !== undefined
                  ? cursor.restoredAlertState
                  : NO_BYTES,
            })
          : undefined,
        updatedAt: nowMs,
        expectedNextOffset: cursor.storedOffset,
      });
      if (snapshot) cursor.snapshotOffset = cursor.nextOffset;
    }
    if (snapshot && alerter !== undefined) alerter.changed = false;
  }
}

/** The alerter's state with the alerts mark that is safe to persist now. */
function alerterState(pipeline: AnyPipeline): Uint8Array {
  const alerter = pipeline.alerter!;
  const current = alerter.alertsMark;
  alerter.alertsMark = pipeline.persistedAlertsMark();
  try {
    return alerter.snapshot();
  } finally {
    alerter.alertsMark = current;
  }
}

/**
 * The one store commit of the batch, when it has anything to commit (retried while the store is down),
 * then each checkpointed partition's offset as the store now holds it.
 */
export async function commitBatch(
  settings: JobSettings,
  pipelines: readonly AnyPipeline[],
  content: { rows: BatchRows; rawRuns: StoreBatch["rawRuns"]; alerts: AlertRow[]; rowsWritten: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { rows, alerts, rowsWritten } = content;
  const batch: StoreBatch = {
    windows: rows.windows,
    daily: rows.daily,
    topPages: rows.topPages,
    lateEvents: rows.lateEvents,
    rawRuns: content.rawRuns,
    alerts,
    checkpoints: rows.checkpoints,
  };
  if (rows.checkpoints.length > 0 || rowsWritten > 0 || alerts.length > 0) {
    await retrying(() => settings.store.commit(batch), settings, signal);
    settings.options.onCommitted?.(batch);
  }
  for (const pipeline of pipelines) {
    for (const cursor of pipeline.cursors) {
      if (!cursor.dirty) continue;
      cursor.dirty = false;
      cursor.storedOffset = cursor.committedOffset;
    }
  }
}

/**
 * Runs `operation` again while it fails with a retriable error (the store's server is down), backing
 * off from 250 ms to 5 s, until the job is stopped. For a commit this is exact: the batch is complete in
 * memory and commit is idempotent; nothing else is read meanwhile. An abort during the wait gives up
 * with the error: the checkpoint did not move, so the next run replays the batch.
 */
export async function retrying<T>(
  operation: () => Promise<T>,
  settings: JobSettings,
  signal: AbortSignal | undefined,
): Promise<T> {
  let delayMs = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const retriable = error instanceof PulseError && error.retriable;
      if (!retriable || signal?.aborted === true) throw error;
      settings.options.onRetry?.(error, attempt, delayMs);
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        throw error;
      }
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
}

/**
 * Only for lag display: recovery reads the store's checkpoints, never these. A group member commits as
 * itself; a commit refused mid-rebalance is retried by the next refresh.
 */
export async function commitGroupOffsets(
  settings: JobSettings,
  pipelines: readonly AnyPipeline[],
  member: GroupMember | undefined,
): Promise<void> {
  for (const pipeline of pipelines) {
    const offsets: RecordPosition[] = [];
    const cursors: PartitionCursor[] = [];
    for (const cursor of pipeline.cursors) {
      if (cursor.storedOffset === null || cursor.storedOffset === cursor.groupOffset) continue;
      offsets.push({ partition: cursor.partition, offset: cursor.storedOffset });
      cursors.push(cursor);
    }
    if (offsets.length === 0) continue;
    if (member === undefined) {
      await settings.log.commit(settings.job, pipeline.topic, offsets);
    } else {
      try {
        await member.commit(pipeline.topic, offsets);
      } catch {
        continue;
      }
    }
    for (let i = 0; i < cursors.length; i++) cursors[i]!.groupOffset = offsets[i]!.offset;
  }
}

/**
 * Moves each partition's dead-letter mark up to the end of its DLQ partition, so the scan after a
 * crash stays short. Safe between batches: nothing of this job is in flight, and later dead letters
 * land above the current end.
 */
export async function refreshDeadLetterMarks(log: Log, pipelines: readonly AnyPipeline[]): Promise<void> {
  const nowMs = performance.now();
  for (const pipeline of pipelines) {
    if (nowMs - pipeline.dlqCheckedAtMs < DLQ_MARK_REFRESH_MS) continue;
    pipeline.dlqCheckedAtMs = nowMs;
    const info = await log.describeTopic(pipeline.dlqTopic);
    for (const cursor of pipeline.cursors) {
      const high = info.offsets[cursor.dlqPartition]?.highWatermark ?? 0;
      if (high > cursor.dlqMark) cursor.dlqMark = high;
    }
  }
}
