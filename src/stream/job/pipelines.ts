// The per-topic pipelines the job runs: the contract, aggregator, alerter and cursors of one source topic.

import { userActivityV2Type, wikimediaRecentChangeType, type AvroType } from "../../contracts/schemas.ts";
import {
  type DeadLetter,
  deadLetterTopic,
  TOPICS,
  type UserActivity,
  type WikimediaRecentChange,
} from "../../contracts/types.ts";
import {
  type ValidateOptions,
  type ValidationResult,
  validateActivityRules,
  validateRecentChangeRules,
} from "../../contracts/validate.ts";
import { type AvroSerde, type Encoder, frameSchemaId } from "../../serde/index.ts";
import {
  ACTIVITY_SERIES,
  type ActivityWindowRow,
  type AlertRow,
  type LiveStore,
  type SeriesSpec,
  WIKIMEDIA_SERIES,
  type WikiWindowRow,
  type WindowRange,
  type WindowRowKey,
} from "../../store/index.ts";
import { ActivityFrame } from "../activity-frame.ts";
import type {
  Accumulator,
  ActivityAccumulator,
  ActivityRow,
  TopPagesRow,
  WikiAccumulator,
  WikiRow,
} from "../aggregates.ts";
import { type AlertedSeries, WindowAlerter } from "../alerting.ts";
import { createActivityAggregator, createWikimediaAggregator } from "../aggregators.ts";
import type { FlushResult, WindowedAggregator } from "../operator.ts";
import type { BatchRows } from "./batch-state.ts";
import type { PartitionCursor } from "./cursor.ts";
import type { JobSettings } from "./options.ts";

export interface PipelineSpec<E> {
  topic: string;
  readerType: AvroType;
  /** Semantic rules only: a record decoded with the reader schema already has the contract's shape. */
  validate(event: E, options: ValidateOptions): ValidationResult<E>;
  eventTimeMs(event: E): number;
}

/**
 * A topic's pipeline: events E aggregated in accumulators A into window rows R (rows of the store series
 * `Row`, with what the aggregate adds) and summaries S.
 */
export abstract class Pipeline<E, A extends Accumulator, R extends Row, S, Row extends WindowRowKey = R> {
  readonly topic: string;
  readonly dlqTopic: string;
  readonly spec: PipelineSpec<E>;
  readonly aggregator: WindowedAggregator<E, A, R, S>;
  cursors: PartitionCursor[] = [];
  /** Rotates which partition a batch reads first, so one busy partition cannot starve the others. */
  firstCursor = 0;
  deadLetterEncoder: Encoder<DeadLetter> | undefined;
  dlqCheckedAtMs = 0;
  /** Undefined when anomaly detection is off, or paused while another member scores the topic. */
  alerter: WindowAlerter<Row> | undefined;
  /** Whether the alerter is fed every member's rows from the store (a scaled-out alert owner). */
  alertsFromStore = false;
  /** performance.now() of the alert owner's last look in the store. */
  alertsPolledAtMs = Number.NEGATIVE_INFINITY;
  /** `series\0window_start` of alerts this job produced beyond its checkpoint (crash before commit). */
  alertsRecovered = new Set<string>();
  alertsRecoveredMaxStart = Number.NEGATIVE_INFINITY;
  /** The alerts mark to keep persisting until the alerter has re-scored every recovered alert's window. */
  alertsRecoveryMark = 0;
  /** performance.now() of the last batch that wrote this pipeline's state. */
  snapshotAtMs = Number.NEGATIVE_INFINITY;

  constructor(spec: PipelineSpec<E>, aggregator: WindowedAggregator<E, A, R, S>) {
    this.topic = spec.topic;
    this.dlqTopic = deadLetterTopic(spec.topic);
    this.spec = spec;
    this.aggregator = aggregator;
  }

  /** The mark safe to persist (see StreamJob: alerts, exactly once); forgets recovered alerts once passed. */
  persistedAlertsMark(): number {
    const alerter = this.alerter!;
    if (this.alertsRecovered.size > 0 && alerter.observedThroughMs >= this.alertsRecoveredMaxStart) {
      this.alertsRecovered.clear();
      this.alertsRecoveredMaxStart = Number.NEGATIVE_INFINITY;
    }
    return this.alertsRecovered.size > 0 ? this.alertsRecoveryMark : alerter.alertsMark;
  }

  /** Moves a flush's rows into the batch. */
  abstract sink(flush: FlushResult<R, S>, rows: BatchRows): void;

  /** The store series this topic's window rows are (its tables, the alerts' prefix). */
  abstract readonly series: SeriesSpec<Row, unknown>;

  /** The store's window rows in `range`, per partition, as the alerter reads them. */
  storedWindows(store: LiveStore, range: WindowRange): Promise<Row[]> {
    return store.windowRows(this.series, range) as Promise<Row[]>;
  }

  /** The record's value located as a frame the aggregate reads without decoding it; undefined for none. */
  frameOf(_value: Uint8Array | null, _serde: AvroSerde): ActivityFrame | undefined {
    return undefined;
  }
}

class ActivityPipeline extends Pipeline<
  UserActivity,
  ActivityAccumulator,
  ActivityRow,
  never,
  ActivityWindowRow
> {
  readonly series = ACTIVITY_SERIES;
  readonly #frame = new ActivityFrame();
  /** Whether each writer schema id seen is UserActivity v2, the layout ActivityFrame reads. */
  readonly #v2Ids = new Map<number, boolean>();

  /**
   * The value as an ActivityFrame when it was written with UserActivity v2 (what Pulse's producers
   * write), so decoding, validation, dedup and interning read its bytes and make no strings. Any other
   * writer schema, a schema not cached yet, or bytes that are not one v2 value take the decoding path.
   */
  override frameOf(value: Uint8Array | null, serde: AvroSerde): ActivityFrame | undefined {
    const id = frameSchemaId(value);
    if (value === null || id < 0) return undefined;
    let v2 = this.#v2Ids.get(id);
    if (v2 === undefined) {
      const writer = serde.cachedWriterType(id);
      if (writer === undefined) return undefined;
      v2 = writer.equals(userActivityV2Type);
      this.#v2Ids.set(id, v2);
    }
    return v2 && this.#frame.read(value) ? this.#frame : undefined;
  }

  sink(flush: FlushResult<ActivityRow, never>, rows: BatchRows): void {
    const windows = rows.windows.activity;
    const days = rows.daily.activity;
    for (const row of flush.windows) windows.push(row);
    for (const row of flush.days) days.push(row);
  }
}

class WikimediaPipeline extends Pipeline<WikimediaRecentChange, WikiAccumulator, WikiRow, TopPagesRow> {
  readonly series = WIKIMEDIA_SERIES;

  sink(flush: FlushResult<WikiRow, TopPagesRow>, rows: BatchRows): void {
    const windows = rows.windows.wikimedia;
    const days = rows.daily.wikimedia;
    for (const row of flush.windows) windows.push(row);
    for (const row of flush.days) days.push(row);
    for (const row of flush.summaries) rows.topPages.push(row);
  }
}

export interface WindowRowFields {
  partition: number;
  window_start: number;
}

/** Alerts on activity: `activity.<event_type>.event_count`, from the series' rows. */
const ACTIVITY_ALERTS: AlertedSeries<ActivityWindowRow> = {
  prefix: ACTIVITY_SERIES.name,
  metric: "event_count",
  key: (row) => row.event_type,
  value: (row) => row.event_count,
};

/** Alerts on Wikimedia: `wikimedia.<wiki>.edits`. */
const WIKIMEDIA_ALERTS: AlertedSeries<WikiWindowRow> = {
  prefix: WIKIMEDIA_SERIES.name,
  metric: "edits",
  key: (row) => row.wiki,
  value: (row) => row.edits,
};

// biome-ignore lint/suspicious/noExplicitAny: a job holds pipelines of different event types side by side.
export type AnyPipeline = Pipeline<any, any, any, any, any>;

export function alertKey(alert: AlertRow): string {
  return `${alert.series}\u0000${alert.window_start}`;
}

/** Fresh pipelines (empty state) for every topic; loadPartitions (recovery.ts) fills them from the checkpoints. */
export function buildPipelines(settings: JobSettings): AnyPipeline[] {
  const options = settings.options;
  const aggregatorOptions = settings.aggregatorOptions;
  const pipelines: AnyPipeline[] = [];
  for (const topic of settings.topicNames) {
    if (topic === TOPICS.activity) {
      pipelines.push(
        new ActivityPipeline(
          {
            topic,
            readerType: userActivityV2Type,
            validate: validateActivityRules,
            eventTimeMs: (e) => e.event_time,
          },
          createActivityAggregator(aggregatorOptions),
        ),
      );
    } else {
      pipelines.push(
        new WikimediaPipeline(
          {
            topic,
            readerType: wikimediaRecentChangeType,
            validate: validateRecentChangeRules,
            eventTimeMs: (e) => e.meta.dt,
          },
          createWikimediaAggregator({ ...aggregatorOptions, topN: options.topPages }),
        ),
      );
    }
  }
  if (options.anomaly !== false) {
    const alerterOptions = {
      window: settings.window,
      allowedLatenessMs: aggregatorOptions.allowedLatenessMs,
      detector: { nowMs: settings.nowMs, ...options.anomaly },
    };
    for (const pipeline of pipelines) {
      pipeline.alerter =
        pipeline instanceof ActivityPipeline
          ? new WindowAlerter(ACTIVITY_ALERTS, alerterOptions)
          : new WindowAlerter(WIKIMEDIA_ALERTS, alerterOptions);
    }
  }
  return pipelines;
}
