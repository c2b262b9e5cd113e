// The two aggregators the stream job runs: activity windows per event type, Wikimedia windows per wiki with top pages.

import type { WikimediaRecentChange } from "../contracts/types.ts";
import {
  type ActivityAccumulator,
  type ActivityEvent,
  type ActivityRow,
  activityAggregate,
  type TopPagesRow,
  type WikiAccumulator,
  type WikiAggregateOptions,
  type WikiRow,
  wikiAggregate,
} from "./aggregates.ts";
import { WindowedAggregator, type WindowedAggregatorOptions } from "./operator.ts";

export type ActivityAggregator = WindowedAggregator<ActivityEvent, ActivityAccumulator, ActivityRow>;
export type WikimediaAggregator = WindowedAggregator<
  WikimediaRecentChange,
  WikiAccumulator,
  WikiRow,
  TopPagesRow
>;

export function createActivityAggregator(options: WindowedAggregatorOptions): ActivityAggregator {
  return new WindowedAggregator(activityAggregate(), options);
}

/** Wikimedia windows default to no day windows: the daily reconciliation is for activity only. */
export function createWikimediaAggregator(
  options: WindowedAggregatorOptions & WikiAggregateOptions,
): WikimediaAggregator {
  return new WindowedAggregator(wikiAggregate(options), { daily: false, ...options });
}
