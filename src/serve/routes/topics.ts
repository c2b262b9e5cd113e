// GET /api/ops/topics and /api/ops/groups: the log's topics with offsets and produce rates, and consumer-group lag.

import type { Log, TopicInfo } from "../../log/index.ts";
import { sendJson } from "../http.ts";
import { getRoute, type Route } from "../route.ts";

/** What the routes read of the log: its topics with their offsets, and the groups' lag. */
export type TopicsSource = Pick<Log, "listTopics" | "lag">;

export interface TopicsRouteOptions {
  log: TopicsSource;
  /** Processing time, for the rates; Date.now by default. */
  nowMs?: () => number;
}

export interface TopicReport {
  name: string;
  partitions: number;
  /** Records in the log now: Σ (high − low) over partitions. */
  messages: number;
  /** Σ high watermarks: every record ever appended. */
  end_offset: number;
  offsets: Array<{ partition: number; low: number; high: number }>;
  retention: { max_age_ms: number | null; max_size_bytes: number | null };
  /** Records appended per second over the last RATE_SPAN_MS or so; null until two samples are far enough apart. */
  rate_per_sec: number | null;
}

/** The rate compares the end offsets now with the oldest sample within this span. */
const RATE_SPAN_MS = 10_000;
/** Samples closer than this to the newest are not kept (several pages polling at once). */
const MIN_SAMPLE_GAP_MS = 250;
/** A rate needs at least this much time between its two samples. */
const MIN_RATE_SPAN_MS = 900;

interface Sample {
  atMs: number;
  ends: Map<string, number>;
}

/**
 * The produce rate of each topic, from the end offsets the requests read (no timer of its own): the
 * difference between now and the oldest sample kept within RATE_SPAN_MS, over the time between them.
 */
class TopicRates {
  private readonly samples: Sample[] = [];

  observe(atMs: number, topics: readonly TopicInfo[]): Map<string, number | null> {
    const ends = new Map(topics.map((t) => [t.name, endOffset(t)]));
    while (this.samples.length > 0 && atMs - this.samples[0]!.atMs > RATE_SPAN_MS) this.samples.shift();
    const oldest = this.samples[0];
    const rates = new Map<string, number | null>();
    for (const [name, end] of ends) {
      const before = oldest?.ends.get(name);
      const spanMs = oldest === undefined ? 0 : atMs - oldest.atMs;
      rates.set(
        name,
        before === undefined || spanMs < MIN_RATE_SPAN_MS
          ? null
          : Math.round(((end - before) * 10_000) / spanMs) / 10,
      );
    }
    const newest = this.samples.at(-1);
    if (newest === undefined || atMs - newest.atMs >= MIN_SAMPLE_GAP_MS) this.samples.push({ atMs, ends });
    return rates;
  }
}

function endOffset(topic: TopicInfo): number {
  return topic.offsets.reduce((sum, p) => sum + p.highWatermark, 0);
}

/** GET /api/ops/topics (every topic, by name) and GET /api/ops/groups (each group's lag per topic). */
export function topicsRoute(options: TopicsRouteOptions): Route {
  const nowMs = options.nowMs ?? Date.now;
  const rates = new TopicRates();
  return getRoute("/api/ops", {
    "/topics": {
      params: [],
      run: async (_query, _req, res) => {
        const topics = [...(await options.log.listTopics())].sort((a, b) => (a.name < b.name ? -1 : 1));
        const atMs = nowMs();
        const rateOf = rates.observe(atMs, topics);
        const report: TopicReport[] = topics.map((t) => ({
          name: t.name,
          partitions: t.partitions,
          messages: t.offsets.reduce((sum, p) => sum + p.highWatermark - p.lowWatermark, 0),
          end_offset: endOffset(t),
          offsets: t.offsets.map((p) => ({
            partition: p.partition,
            low: p.lowWatermark,
            high: p.highWatermark,
          })),
          retention: {
            max_age_ms: t.retention.maxAgeMs ?? null,
            max_size_bytes: t.retention.maxSizeBytes ?? null,
          },
          rate_per_sec: rateOf.get(t.name) ?? null,
        }));
        sendJson(res, 200, { sampled_at: atMs, topics: report });
      },
    },
    "/groups": {
      params: [],
      run: async (_query, _req, res) => {
        const lags = await options.log.lag();
        const groups = lags
          .map((g) => ({
            group: g.group,
            topic: g.topic,
            total_lag: g.totalLag,
            partitions: g.partitions.map((p) => ({
              partition: p.partition,
              committed: p.committed,
              high: p.highWatermark,
              lag: p.lag,
            })),
          }))
          .sort((a, b) => (a.group === b.group ? (a.topic < b.topic ? -1 : 1) : a.group < b.group ? -1 : 1));
        sendJson(res, 200, { groups });
      },
    },
  });
}
