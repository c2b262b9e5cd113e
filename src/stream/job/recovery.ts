// Recovery: loads the owned partitions' checkpoints, and finds the dead letters and alerts of an uncommitted batch.

import { SCHEMA_TEXTS, subjectFor } from "../../contracts/schemas.ts";
import { type DeadLetter, TOPICS } from "../../contracts/types.ts";
import type { GroupMember } from "../../log/index.ts";
import type { AlertRow } from "../../store/index.ts";
import { asBuffer } from "../../bytes.ts";
import { storedRows, unscoredFrom } from "./aggregate.ts";
import { PartitionCursor } from "./cursor.ts";
import { readEnvelope } from "./envelope.ts";
import { JOB_HEADER, type JobSettings } from "./options.ts";
import { type AnyPipeline, alertKey } from "./pipelines.ts";
import { ALERTS_PARTITION } from "./write.ts";

/** Source records a recovery scan fetches at a time. */
const DLQ_SCAN_BATCH = 5_000;

/**
 * Loads the owned partitions' checkpoints into fresh pipelines: restores each partition's state and the
 * topic's alerter, and recovers the dead letters and alerts produced beyond the checkpoints.
 */
export async function loadPartitions(
  settings: JobSettings,
  pipelines: readonly AnyPipeline[],
  member: GroupMember | undefined,
): Promise<void> {
  const { log, serde, store, job } = settings;
  const alertsInfo = pipelines.some((p) => p.alerter !== undefined)
    ? await log.ensureTopic({ name: TOPICS.alerts, partitions: 1 })
    : undefined;
  for (const pipeline of pipelines) {
    const info = await log.describeTopic(pipeline.topic);
    const dlqInfo = await log.ensureTopic({ name: pipeline.dlqTopic, partitions: info.partitions });
    pipeline.deadLetterEncoder = await serde.encoder<DeadLetter>(
      subjectFor(pipeline.dlqTopic),
      SCHEMA_TEXTS.deadLetter,
    );
    const checkpoints = new Map((await store.checkpoints(job, pipeline.topic)).map((c) => [c.partition, c]));
    const owned =
      member === undefined
        ? info.offsets
        : info.offsets.filter((o) => member!.assigned(pipeline.topic).includes(o.partition));
    // The alerter scores windows final over the whole topic. A job owning every partition feeds it its
    // own rows. In a scaled-out group the owner of partition 0, whose checkpoint carries the alert
    // state, feeds it every member's committed rows from the store; the others leave it alone
    // (docs/at-scale.md).
    const ownsAll = owned.length === info.offsets.length;
    if (!ownsAll && !owned.some((o) => o.partition === 0)) pipeline.alerter = undefined;
    pipeline.alertsFromStore = !ownsAll && pipeline.alerter !== undefined;
    pipeline.alertsPolledAtMs = Number.NEGATIVE_INFINITY;
    pipeline.aggregator.assign(owned.map((o) => o.partition));
    let alertStateFound = false;
    for (const offsets of [...owned].sort((a, b) => a.partition - b.partition)) {
      const p = offsets.partition;
      const cursor = new PartitionCursor(p, p % dlqInfo.partitions);
      const dlqOffsets = dlqInfo.offsets[cursor.dlqPartition]!;
      const checkpoint = checkpoints.get(p);
      let scanFrom = dlqOffsets.lowWatermark;
      if (checkpoint !== undefined) {
        const envelope = readEnvelope(checkpoint.state, `${pipeline.topic}[${p}] of job ${job}`);
        pipeline.aggregator.restore(p, envelope.snapshot);
        cursor.snapshotOffset = envelope.snapshotOffset ?? checkpoint.nextOffset;
        cursor.nextOffset = cursor.snapshotOffset;
        cursor.replayUntil = checkpoint.nextOffset;
        cursor.storedOffset = checkpoint.nextOffset;
        cursor.deadLettered = envelope.deadLettered;
        scanFrom = envelope.dlqMark;
        cursor.restoredAlertState = envelope.alertState;
        // The lowest partition's checkpoint carries it; if partitions were added, any one that has it.
        if (pipeline.alerter !== undefined && envelope.alertState.length > 0 && !alertStateFound) {
          pipeline.alerter.restore(envelope.alertState, `${pipeline.topic}[${p}] of job ${job}`);
          alertStateFound = true;
        }
      } else {
        cursor.nextOffset = offsets.lowWatermark;
      }
      cursor.highWatermark = offsets.highWatermark;
      await recoverDeadLetters(settings, pipeline, cursor, scanFrom, dlqOffsets.highWatermark);
      pipeline.cursors.push(cursor);
    }
    const alerter = pipeline.alerter;
    if (alerter !== undefined && !pipeline.alertsFromStore && Number.isFinite(alerter.observedThroughMs)) {
      // Owning every partition, the alerter reads this job's flushes. A partition that finished a window
      // while another member owned it, or before this job's restored state, will not flush it again:
      // its final rows come from the store (the flushes replace any a replay emits anew).
      const from = unscoredFrom(settings.window, alerter);
      const finals = await store.finalWindowStarts(pipeline.series, settings.window.sizeMs, from);
      const newest = Math.max(Number.NEGATIVE_INFINITY, ...finals.values());
      if (Number.isFinite(newest)) {
        const rows = await storedRows(settings, pipeline, from, newest);
        alerter.addRows(rows.filter((row) => row.final));
      }
    }
    if (pipeline.alerter !== undefined && alertsInfo !== undefined) {
      const alertsOffsets = alertsInfo.offsets[ALERTS_PARTITION]!;
      const scanFrom = alertStateFound ? pipeline.alerter.alertsMark : alertsOffsets.lowWatermark;
      await recoverAlerts(settings, pipeline, scanFrom, alertsOffsets.highWatermark);
    }
  }
}

/**
 * Finds the alerts this job produced for the pipeline's series at or after `scanFrom` for windows the
 * restored alerter has not scored yet: their batch did not commit, so the replay scores those windows
 * again and must not produce them twice.
 */
async function recoverAlerts(
  settings: JobSettings,
  pipeline: AnyPipeline,
  scanFrom: number,
  highWatermark: number,
): Promise<void> {
  const alerter = pipeline.alerter!;
  pipeline.alertsRecoveryMark = scanFrom;
  alerter.alertsMark = highWatermark;
  const prefix = `${alerter.spec.prefix}.`;
  let next = scanFrom;
  while (next < highWatermark) {
    const records = await settings.log.fetch(TOPICS.alerts, ALERTS_PARTITION, next, {
      maxRecords: Math.min(DLQ_SCAN_BATCH, highWatermark - next),
    });
    if (records.length === 0) break;
    for (const record of records) {
      const tag = record.headers[JOB_HEADER];
      if (tag === undefined || !tag.equals(settings.jobHeader) || record.value === null) continue;
      const alert = JSON.parse(asBuffer(record.value).toString("utf8")) as AlertRow;
      if (!alert.series.startsWith(prefix) || alert.window_start <= alerter.observedThroughMs) continue;
      pipeline.alertsRecovered.add(alertKey(alert));
      if (alert.window_start > pipeline.alertsRecoveredMaxStart) {
        pipeline.alertsRecoveredMaxStart = alert.window_start;
      }
    }
    next = records[records.length - 1]!.offset + 1;
  }
}

/**
 * Finds the dead letters this job wrote for the cursor's partition at or after `scanFrom`: they belong
 * to a batch whose store commit did not happen, so their source offsets are re-read; the replay must
 * not produce them again.
 */
async function recoverDeadLetters(
  settings: JobSettings,
  pipeline: AnyPipeline,
  cursor: PartitionCursor,
  scanFrom: number,
  dlqHighWatermark: number,
): Promise<void> {
  cursor.recoveryMark = scanFrom;
  cursor.dlqMark = dlqHighWatermark;
  let next = scanFrom;
  while (next < dlqHighWatermark) {
    const records = await settings.log.fetch(pipeline.dlqTopic, cursor.dlqPartition, next, {
      maxRecords: Math.min(DLQ_SCAN_BATCH, dlqHighWatermark - next),
    });
    if (records.length === 0) break;
    for (const record of records) {
      const tag = record.headers[JOB_HEADER];
      if (tag === undefined || !tag.equals(settings.jobHeader)) continue;
      const letter = await settings.serde.decode<DeadLetter>(record.value);
      if (
        letter.source_topic !== pipeline.topic ||
        letter.source_partition !== cursor.partition ||
        letter.source_offset === null ||
        letter.source_offset < cursor.nextOffset
      ) {
        continue;
      }
      cursor.recovered.add(letter.source_offset);
      if (letter.source_offset > cursor.recoveredMax) cursor.recoveredMax = letter.source_offset;
    }
    next = records[records.length - 1]!.offset + 1;
  }
}
