// `pulse topics`: topics, partitions, high-water marks, and consumer groups with their lag.

import { openLog } from "../../app/backends.ts";
import type { Log } from "../../log/index.ts";
import { reportCommand } from "../report.ts";

export interface TopicsReport {
  topics: Array<{
    name: string;
    partitions: number;
    /** Records currently in the log: Σ (high − low) over partitions. */
    messages: number;
    high_watermarks: number[];
    low_watermarks: number[];
    retention: { max_age_ms: number | null; max_size_bytes: number | null };
  }>;
  groups: Array<{
    group: string;
    topic: string;
    total_lag: number;
    partitions: Array<{ partition: number; committed: number | null; high_watermark: number; lag: number }>;
  }>;
}

export const topicsCommand = reportCommand({
  name: "topics",
  summary: "list topics with partitions and high-water marks, and consumer groups with their lag",
  usage: "pulse topics [--json] [--data-dir <dir>] [--config <file>]",
  open: openLog,
  read: topicsReport,
  lines: (report) => [
    ...(report.topics.length === 0 ? ["no topics yet; run 'pulse up' or 'pulse produce'"] : []),
    ...report.topics.map(
      (t) =>
        `${t.name.padEnd(32)} ${String(t.partitions).padStart(3)} partitions ${String(t.messages).padStart(10)} records   hw [${t.high_watermarks.join(", ")}]`,
    ),
    ...(report.groups.length > 0 ? ["", "consumer groups:"] : []),
    ...report.groups.map((g) => `${g.group.padEnd(24)} ${g.topic.padEnd(32)} lag ${g.total_lag}`),
  ],
});

async function topicsReport(log: Log): Promise<TopicsReport> {
  const topics = await log.listTopics();
  const lags = await log.lag();
  return {
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitions,
      messages: t.offsets.reduce((sum, p) => sum + p.highWatermark - p.lowWatermark, 0),
      high_watermarks: t.offsets.map((p) => p.highWatermark),
      low_watermarks: t.offsets.map((p) => p.lowWatermark),
      retention: {
        max_age_ms: t.retention.maxAgeMs ?? null,
        max_size_bytes: t.retention.maxSizeBytes ?? null,
      },
    })),
    groups: lags.map((g) => ({
      group: g.group,
      topic: g.topic,
      total_lag: g.totalLag,
      partitions: g.partitions.map((p) => ({
        partition: p.partition,
        committed: p.committed,
        high_watermark: p.highWatermark,
        lag: p.lag,
      })),
    })),
  };
}
