// The MongoDB live store's batch plan: a StoreBatch checked and laid out as raw-lake appends and the commit points (checkpoints or a journal) that carry its other rows.
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { MongoRawLake, PartitionAppend } from "../../lake/mongo/index.ts";
import type { Checkpoint, StoreBatch, WindowRowKey } from "../index.ts";
import { checkSeriesRows, SERIES } from "../series.ts";
import { checkCheckpoint, checkNumbers, checkText, compareText } from "../validate.ts";
import {
  alertDocument,
  checkpointId,
  dailyKind,
  lateEventDocument,
  REDO_KINDS,
  type RedoKind,
  type RedoRows,
  type RowDocument,
  topPagesDocument,
  windowDocument,
  windowsKind,
} from "./schema.ts";

/** The largest checkpoint state: the checkpoint document must stay under 16 MiB with its fields. */
export const MAX_STATE_BYTES = 15 * 1024 * 1024;

/** One commit point of a batch: a checkpoint document, or the journal document of a batch without one. */
export interface CommitPoint {
  checkpoint: Checkpoint | undefined;
  rows: RedoRows;
}

/** A batch checked and laid out: raw-lake rows by partition, and the commit points carrying every other row. */
export interface BatchPlan {
  raw: PartitionAppend[];
  commitPoints: CommitPoint[];
}

/** Validates a batch and lays it out: raw-lake documents, and the commit points carrying every other row. */
export function planBatch(batch: StoreBatch, lake: MongoRawLake): BatchPlan {
  const byKind = new Map<RedoKind, Map<string, RowDocument>>(REDO_KINDS.map((kind) => [kind, new Map()]));
  // Maps keyed by _id: a later row with the same key replaces an earlier one, as an upsert would.
  const put = (kind: RedoKind, doc: RowDocument) => {
    const docs = byKind.get(kind)!;
    docs.delete(doc._id);
    docs.set(doc._id, doc);
  };
  const { windows, daily } = batch;
  checkSeriesRows(windows, "windows");
  checkSeriesRows(daily, "daily");
  for (const series of SERIES) {
    for (const row of seriesRows(windows, series.name)) put(windowsKind(series), windowDocument(row, series));
    for (const row of seriesRows(daily, series.name)) put(dailyKind(series), windowDocument(row, series));
  }
  for (const row of batch.topPages ?? []) put("topPages", topPagesDocument(row));
  for (const row of batch.alerts ?? []) put("alerts", alertDocument(row));
  for (const row of batch.lateEvents ?? []) put("lateEvents", lateEventDocument(row));
  const raw = lake.plan(batch);
  const checkpoints = new Map<string, Checkpoint>();
  for (const checkpoint of batch.checkpoints) {
    checkCheckpoint(checkpoint);
    checkText(checkpoint.job, "checkpoints", "job");
    checkText(checkpoint.topic, "checkpoints", "topic");
    if (checkpoint.state !== undefined && checkpoint.state.byteLength > MAX_STATE_BYTES) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `Checkpoint state is ${checkpoint.state.byteLength} bytes, more than the ${MAX_STATE_BYTES} a MongoDB document can hold with its fields (job "${checkpoint.job}", topic "${checkpoint.topic}", partition ${checkpoint.partition}).`,
      );
    }
    checkNumbers(checkpoint, ["updatedAt"], "checkpoints");
    const id = checkpointId(checkpoint);
    checkpoints.delete(id);
    checkpoints.set(id, checkpoint);
  }

  const sorted = [...checkpoints.values()].sort(
    (a, b) => a.partition - b.partition || compareText(a.job, b.job) || compareText(a.topic, b.topic),
  );
  const points: CommitPoint[] = sorted.map((checkpoint) => ({ checkpoint, rows: {} }));
  const hasRows = REDO_KINDS.some((kind) => byKind.get(kind)!.size > 0);
  if (points.length === 0 && hasRows) points.push({ checkpoint: undefined, rows: {} });
  if (points.length > 0) {
    // Each row rides with the first commit point of its (topic and) partition, else with the first one.
    const byPartition = new Map<number, CommitPoint>();
    const byTopicPartition = new Map<string, CommitPoint>();
    for (const point of points) {
      const checkpoint = point.checkpoint;
      if (checkpoint === undefined) continue;
      if (!byPartition.has(checkpoint.partition)) byPartition.set(checkpoint.partition, point);
      const topicKey = JSON.stringify([checkpoint.topic, checkpoint.partition]);
      if (!byTopicPartition.has(topicKey)) byTopicPartition.set(topicKey, point);
    }
    for (const kind of REDO_KINDS) {
      for (const doc of byKind.get(kind)!.values()) {
        const partition = doc.partition as number | undefined;
        const point =
          (kind === "lateEvents"
            ? byTopicPartition.get(JSON.stringify([doc.topic, partition]))
            : undefined) ??
          (partition === undefined ? undefined : byPartition.get(partition)) ??
          points[0]!;
        addRows(point.rows, kind, [doc]);
      }
    }
  }
  return { raw, commitPoints: points };
}

/** StoreBatch.windows or .daily: the rows of one series. */
function seriesRows(rows: StoreBatch["windows"], name: string): readonly WindowRowKey[] {
  return (rows as Readonly<Record<string, readonly WindowRowKey[] | undefined>> | undefined)?.[name] ?? [];
}

/** The rows of several redo records or pages, kind by kind. */
export function allRows(parts: readonly RedoRows[]): RedoRows {
  const rows: RedoRows = {};
  for (const part of parts) {
    for (const kind of REDO_KINDS) {
      const docs = part[kind];
      if (docs !== undefined && docs.length > 0) addRows(rows, kind, docs);
    }
  }
  return rows;
}

export function addRows(rows: RedoRows, kind: RedoKind, docs: readonly RowDocument[]): void {
  const list = rows[kind];
  if (list === undefined) rows[kind] = [...docs];
  else list.push(...docs);
}
