// `pulse topics`: topics, partitions, high-water marks, and consumer groups with their lag.

import { openLog } from "../../config/backends.ts";
import { configFromFlags, parseCommandArgs } from "../args.ts";
import type { Command } from "../main.ts";

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

export const topicsCommand: Command = {
  summary: "list topics with partitions and high-water marks, and consumer groups with their lag",
  usage: "pulse topics [--json] [--data-dir <dir>] [--config <file>]",
  async run(argv) {
    const { values } = parseCommandArgs("topics", argv, {});
    const log = await openLog(configFromFlags(values));
    try {
      const topics = await log.listTopics();
      const lags = await log.lag();
      const report: TopicsReport = {
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
      if (values.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return 0;
      }
      if (report.topics.length === 0)
        process.stdout.write("no topics yet; run 'pulse up' or 'pulse produce'\n");
      for (const t of report.topics) {
        process.stdout.write(
          `${t.name.padEnd(32)} ${String(t.partitions).padStart(3)} partitions ${String(t.messages).padStart(10)} records   hw [${t.high_watermarks.join(", ")}]\n`,
        );
      }
      if (report.groups.length > 0) process.stdout.write("\nconsumer groups:\n");
      for (const g of report.groups) {
        process.stdout.write(`${g.group.padEnd(24)} ${g.topic.padEnd(32)} lag ${g.total_lag}\n`);
      }
      return 0;
    } finally {
      await log.close();
    }
  },
};
