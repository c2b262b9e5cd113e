// Ingest metrics: records produced and dead-lettered per topic (the producers' own counters) and consumer-group lag (the log's).

import { Counter, Gauge, type Registry } from "prom-client";
import type { Log } from "../../log/index.ts";

/** What the metrics read of a producer: its source topic and running totals (ContractProducer has both). */
export interface CountingProducer {
  readonly topic: string;
  readonly counters: { accepted: number; rejected: number; bytes: number };
}

export interface IngestMetricsOptions {
  /** Every producer of the process (the simulator's, the collector's, Wikimedia's). */
  producers: readonly CountingProducer[];
  log: Pick<Log, "lag">;
}

/**
 * Registers the ingest metrics on `registry`. They hold no state of their own: each scrape reads the
 * producers' totals and asks the log for every group's lag, so the figures are those of the moment.
 */
export function registerIngestMetrics(registry: Registry, options: IngestMetricsOptions): void {
  const { producers, log } = options;
  const totals = (name: string, help: string, read: (p: CountingProducer) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ["topic"],
      registers: [registry],
      collect() {
        // The producer keeps the total; the counter shows it as it is now.
        this.reset();
        for (const producer of producers) this.inc({ topic: producer.topic }, read(producer));
      },
    });
  };
  totals(
    "pulse_ingest_records_total",
    "Records produced to the topic after validation (accepted).",
    (p) => p.counters.accepted,
  );
  totals(
    "pulse_ingest_dead_letters_total",
    "Records refused at ingest and written to <topic>.dlq, by source topic.",
    (p) => p.counters.rejected,
  );
  totals(
    "pulse_ingest_bytes_total",
    "Key, value and header bytes produced to the topic and its dead-letter topic.",
    (p) => p.counters.bytes,
  );
  new Gauge({
    name: "pulse_consumer_group_lag",
    help: "Records on a partition not yet committed by the consumer group (high watermark - committed offset).",
    labelNames: ["group", "topic", "partition"],
    registers: [registry],
    async collect() {
      const groups = await log.lag();
      this.reset();
      for (const group of groups) {
        for (const p of group.partitions) {
          this.set({ group: group.group, topic: group.topic, partition: String(p.partition) }, p.lag);
        }
      }
    },
  });
}
