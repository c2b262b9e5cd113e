// Aggregate: flushes each pipeline's windows into the batch's rows and scores windows final over the topic for alerts.

import { type AlertRow, SERIES } from "../../store/index.ts";
import { MAX_EMPTY_WINDOWS, type WindowAlerter } from "../alerting.ts";
import type { WindowSpec } from "../windows.ts";
import type { BatchRows } from "./batch-state.ts";
import type { JobSettings } from "./options.ts";
import type { AnyPipeline, WindowRowFields } from "./pipelines.ts";

/** What the aggregate step adds to a batch besides its rows. */
export interface AggregatedBatch {
  /** Window, day and top-page rows the flushes added. */
  rowsWritten: number;
  /** Every alert raised, for the store commit. */
  alerts: AlertRow[];
  /** The alerts raised per pipeline, for the alerts topic. */
  alertsByPipeline: Map<AnyPipeline, AlertRow[]>;
}

/**
 * Flushes every pipeline into `rows` (its changed and final window rows), notes the windows made final
 * in `finalWindows`, and scores the windows final for the whole job. `final` (the end of a drain, a stop)
 * makes a scaled-out alert owner look in the store now.
 */
export async function aggregateBatch(
  settings: JobSettings,
  pipelines: readonly AnyPipeline[],
  rows: BatchRows,
  final: boolean,
  finalWindows: Set<string>,
): Promise<AggregatedBatch> {
  let rowsWritten = 0;
  const alerts: AlertRow[] = [];
  const alertsByPipeline = new Map<AnyPipeline, AlertRow[]>();
  for (const pipeline of pipelines) {
    const flush = pipeline.aggregator.flush();
    const before = rowCount(rows);
    pipeline.sink(flush, rows);
    rowsWritten += rowCount(rows) - before;
    for (const row of flush.windows as Array<{ window_start: number; final: boolean }>) {
      if (row.final) finalWindows.add(`${pipeline.topic}\u0000${row.window_start}`);
    }
    const alerter = pipeline.alerter;
    if (alerter !== undefined) {
      let raised: AlertRow[] = [];
      if (!pipeline.alertsFromStore) {
        alerter.addRows(flush.windows);
        raised = alerter.observeFinal(pipeline.aggregator.watermark());
      } else if (final || storedAlertsDue(pipeline, settings.storedAlertsPollMs)) {
        raised = await scoreStoredWindows(settings, pipeline);
      }
      if (raised.length > 0) {
        for (const alert of raised) alerts.push(alert);
        alertsByPipeline.set(pipeline, raised);
      }
    }
  }
  return { rowsWritten, alerts, alertsByPipeline };
}

function rowCount(rows: BatchRows): number {
  let count = rows.topPages.length;
  for (const { name } of SERIES) count += rows.windows[name].length + rows.daily[name].length;
  return count;
}

/** Whether the pipeline's alerter is fed from the store and due to look there, read or no read. */
export function storedAlertsDue(pipeline: AnyPipeline, storedAlertsPollMs: number): boolean {
  return pipeline.alertsFromStore && performance.now() - pipeline.alertsPolledAtMs >= storedAlertsPollMs;
}

/** The first window start the alerter has not scored; the smallest safe integer before it scored any. */
export function unscoredFrom(window: WindowSpec, alerter: WindowAlerter<WindowRowFields>): number {
  return Number.isFinite(alerter.observedThroughMs)
    ? alerter.observedThroughMs + window.slideMs
    : Number.MIN_SAFE_INTEGER;
}

/**
 * The committed rows, per partition, of windows starting from `from` through `through`: at most the
 * newest MAX_EMPTY_WINDOWS windows, as many as the alerter looks back over a gap.
 */
export function storedRows(
  settings: JobSettings,
  pipeline: AnyPipeline,
  from: number,
  through: number,
): Promise<Array<WindowRowFields & { final: boolean }>> {
  const { sizeMs, slideMs } = settings.window;
  const fromMs = Math.max(from, through - (MAX_EMPTY_WINDOWS - 1) * slideMs);
  return pipeline.storedWindows(settings.store, { windowMs: sizeMs, fromMs, toMs: through + 1 });
}

/**
 * A scaled-out alert owner's scoring, from every member's committed rows. Partition p has passed
 * window W when its newest final row starts at or after W (finality follows p's watermark), or when it
 * is caught up: its checkpoint has reached the log's high watermark (Flink's idleness, as the job
 * applies it to its own partitions), which a partition holding nothing always is. W is final over the
 * topic once every partition that is not caught up has passed it. When all are caught up, the windows
 * every partition holding records has passed are. Rows of this job's batch in flight are not in the
 * store yet; their windows are scored on a later look.
 */
async function scoreStoredWindows(settings: JobSettings, pipeline: AnyPipeline): Promise<AlertRow[]> {
  pipeline.alertsPolledAtMs = performance.now();
  const alerter = pipeline.alerter!;
  const { sizeMs } = settings.window;
  // High watermarks first: checkpoints read after them are at least as new.
  const { offsets } = await settings.log.describeTopic(pipeline.topic);
  const committed = await settings.store.checkpointOffsets(settings.job, pipeline.topic);
  const from = unscoredFrom(settings.window, alerter);
  const finals = await settings.store.finalWindowStarts(pipeline.series, sizeMs, from);
  let active = Number.POSITIVE_INFINITY;
  let all = Number.POSITIVE_INFINITY;
  for (const { partition, lowWatermark, highWatermark } of offsets) {
    const passed = finals.get(partition) ?? Number.NEGATIVE_INFINITY;
    const caughtUp = (committed.get(partition) ?? lowWatermark) >= highWatermark;
    if (!caughtUp) active = Math.min(active, passed);
    if (highWatermark > lowWatermark || committed.has(partition)) all = Math.min(all, passed);
  }
  const through = Number.isFinite(active) ? active : all;
  if (!Number.isFinite(through) || through < from) return [];
  // Rows per partition, the newest of each: a caught-up partition's rows of a window it has not
  // finished count as they are, as the job counts its own idle partitions' rows.
  alerter.addRows(await storedRows(settings, pipeline, from, through));
  return alerter.observeFinal(through + sizeMs + settings.aggregatorOptions.allowedLatenessMs);
}
