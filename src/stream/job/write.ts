// Write: the batch's output to the log, durable before the store commit that moves past it: dead letters and alerts.

import { TOPICS } from "../../contracts/types.ts";
import type { Log } from "../../log/index.ts";
import type { AlertRow } from "../../store/index.ts";
import type { BatchState } from "./batch-state.ts";
import { JOB_HEADER, type JobSettings } from "./options.ts";
import { type AnyPipeline, alertKey } from "./pipelines.ts";

/** Every alert goes to this partition of the `alerts` topic: alerts are few, and one partition keeps them in order. */
export const ALERTS_PARTITION = 0;

/** Dead letters are durable on the log before the store commit that moves past their offsets. */
export async function produceDeadLetters(log: Log, state: BatchState): Promise<void> {
  for (const [pipeline, { records, cursors }] of state.dlqByPipeline) {
    const positions = await log.produce(pipeline.dlqTopic, records);
    for (let i = 0; i < positions.length; i++) {
      const cursor = cursors[i]!;
      cursor.dlqMark = Math.max(cursor.dlqMark, positions[i]!.offset + 1);
    }
  }
}

/**
 * Like dead letters: durable on the log before the store commit that covers their windows. An alert
 * recovered from a batch that produced it and then crashed is not produced again.
 */
export async function produceAlerts(
  settings: JobSettings,
  alertsByPipeline: ReadonlyMap<AnyPipeline, AlertRow[]>,
): Promise<void> {
  for (const [pipeline, raised] of alertsByPipeline) {
    const fresh = raised.filter((a) => !pipeline.alertsRecovered.has(alertKey(a)));
    if (fresh.length === 0) continue;
    const positions = await settings.log.produce(
      TOPICS.alerts,
      fresh.map((alert) => ({
        key: Buffer.from(alert.series, "utf8"),
        value: encodeAlert(alert),
        headers: { [JOB_HEADER]: settings.jobHeader },
        partition: ALERTS_PARTITION,
      })),
    );
    const alerter = pipeline.alerter!;
    alerter.alertsMark = Math.max(alerter.alertsMark, positions[positions.length - 1]!.offset + 1);
  }
}

/** Alerts are JSON (UTF-8) on the log, keyed by series; the store row is the same object. */
function encodeAlert(alert: AlertRow): Buffer {
  return Buffer.from(JSON.stringify(alert), "utf8");
}
