// The speed layer's public surface: windows, watermarks, dedup, aggregates and the windowed operator.

export {
  type Accumulator,
  ActivityAccumulator,
  type ActivityRow,
  type AggregateKind,
  activityAggregate,
  centsOf,
  mergeTopPages,
  type PageEdits,
  type TopPagesRow,
  WikiAccumulator,
  type WikiAggregateOptions,
  type WikiRow,
  type WindowBounds,
  wikiAggregate,
} from "./aggregates.ts";
export {
  ALL_KEY,
  MAX_EMPTY_WINDOWS,
  type AlertedSeries,
  WindowAlerter,
  type WindowAlerterOptions,
} from "./alerting.ts";
export { Deduplicator, type DeduplicatorOptions } from "./dedup.ts";
export { IdSet } from "./id-set.ts";
export { Interner } from "./interner.ts";
export {
  type ActivityAggregator,
  createActivityAggregator,
  createWikimediaAggregator,
  type WikimediaAggregator,
} from "./aggregators.ts";
export {
  type AggregatorProgress,
  type FlushResult,
  type PartitionProgress,
  ProcessOutcome,
  WindowedAggregator,
  type WindowedAggregatorOptions,
} from "./operator.ts";
export { PartitionClock, type WatermarkOptions, WatermarkTracker } from "./time.ts";
export {
  assignWindows,
  DAY_MS,
  DAY_WINDOW,
  hoppingWindow,
  latestWindowEnd,
  latestWindowStart,
  tumblingWindow,
  utcDayStart,
  validateWindowSpec,
  type WindowSpec,
  windowsPerEvent,
} from "./windows.ts";
export {
  DEFAULT_JOB_NAME,
  JOB_HEADER,
  type PartitionLagProgress,
  type SourceProgress,
  StreamJob,
  type StreamJobOptions,
  type StreamProgress,
  type StreamRunSummary,
  type StreamTotals,
} from "./job/index.ts";
