// Stream job metrics: batch durations (pushed per batch), and totals, rates, watermark delay and state (read on scrape).

import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What the metrics read of a stream job's progress report (the stream layer's StreamProgress has it all). */
export interface StreamProgressFigures {
  batchDurationMs: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  eventTime: { watermarkMs: number | null };
  totals: {
    input: number;
    accepted: number;
    partiallyLate: number;
    late: number;
    duplicates: number;
    deadLettered: number;
  };
  stateRows: number;
  stateBytes: number;
}

export interface StreamMetricsOptions {
  /** The latest progress report; undefined before the first batch. */
  progress: () => StreamProgressFigures | undefined;
  /** Processing time, for the watermark delay; Date.now by default. */
  nowMs?: () => number;
}

/** Micro-batches take from a millisecond (a few records, embedded log) to several seconds (a full budget on Kafka). */
const BATCH_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type TotalName = keyof StreamProgressFigures["totals"];

/** The job's totals as counters: [metric, help, field]. */
const TOTALS: ReadonlyArray<readonly [string, string, TotalName]> = [
  ["pulse_stream_input_records_total", "Records the job read: valid events plus dead letters.", "input"],
  ["pulse_stream_accepted_total", "Events counted in windows, partly late ones included.", "accepted"],
  ["pulse_stream_partially_late_total", "Events too late for some of their windows only.", "partiallyLate"],
  ["pulse_stream_late_total", "Events that arrived after every window they belong to was final.", "late"],
  [
    "pulse_stream_duplicates_total",
    "Events dropped as duplicates of an event_id already seen.",
    "duplicates",
  ],
  ["pulse_stream_dead_letters_total", "Records the job refused and wrote to <topic>.dlq.", "deadLettered"],
];

/**
 * The stream job's metrics on `registry`. observeBatch() is called with every progress report (a
 * histogram needs each batch); the rest reads the latest report when scraped. The totals are the job's,
 * restored from its checkpoints, so they do not restart at 0 with the process.
 */
export class StreamMetrics {
  readonly #batches: Histogram;

  constructor(registry: Registry, options: StreamMetricsOptions) {
    const { progress } = options;
    const nowMs = options.nowMs ?? Date.now;
    this.#batches = new Histogram({
      name: "pulse_stream_batch_duration_seconds",
      help: "Duration of each committed micro-batch: fetch, process, dead letters and commit.",
      buckets: BATCH_BUCKETS_SECONDS,
      registers: [registry],
    });
    for (const [name, help, field] of TOTALS) {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(progress()?.totals[field] ?? 0);
        },
      });
    }
    const gauge = (name: string, help: string, read: (p: StreamProgressFigures) => number | null): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          const latest = progress();
          const value = latest === undefined ? null : read(latest);
          // No sample rather than a made-up one before the first batch or event.
          if (value !== null) this.set(value);
        },
      });
    };
    gauge(
      "pulse_stream_input_records_per_second",
      "Records read per second of processing time, over the latest batch and the wait before it.",
      (p) => p.inputRowsPerSecond,
    );
    gauge(
      "pulse_stream_processed_records_per_second",
      "Records read per second of the latest batch's own duration.",
      (p) => p.processedRowsPerSecond,
    );
    gauge(
      "pulse_stream_watermark_delay_seconds",
      "How far the job's event-time watermark is behind processing time now (absent before the first event, or once drained).",
      (p) => (p.eventTime.watermarkMs === null ? null : (nowMs() - p.eventTime.watermarkMs) / 1000),
    );
    gauge("pulse_stream_state_rows", "Window rows held in the job's state.", (p) => p.stateRows);
    gauge("pulse_stream_state_bytes", "Approximate bytes of the job's state.", (p) => p.stateBytes);
  }

  /** Records one committed batch; call it with every progress report. */
  observeBatch(progress: Pick<StreamProgressFigures, "batchDurationMs">): void {
    this.#batches.observe(progress.batchDurationMs / 1000);
  }
}
