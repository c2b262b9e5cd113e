// Retention metrics: what each round of pulse up's retention deleted, and the raw-lake partitions it held for the warehouse.

import { Counter, Gauge, type Registry } from "prom-client";
import type { StoreRetentionResult } from "../../store/index.ts";

/** What a retention round reports: the log's deleted records and the live store's result. */
export interface RetentionRoundFigures {
  logRecords: number;
  store?: StoreRetentionResult;
}

/** Counters of what retention deleted, by part, and a gauge of the partitions it held back. */
export class RetentionMetrics {
  readonly #rounds: Counter;
  readonly #deleted: Counter<"part">;
  readonly #held: Gauge;

  constructor(registry: Registry) {
    this.#rounds = new Counter({
      name: "pulse_retention_rounds_total",
      help: "Rounds of retention pulse up ran (every minute).",
      registers: [registry],
    });
    this.#deleted = new Counter({
      name: "pulse_retention_deleted_total",
      help: "What retention deleted: log records, and the live store's window rows, alerts, late events, raw-lake batches and raw-lake events.",
      labelNames: ["part"],
      registers: [registry],
    });
    this.#held = new Gauge({
      name: "pulse_retention_raw_partitions_held",
      help: "Raw-lake partitions whose oldest batch is past retention but not loaded into the warehouse yet (kept), at the latest round.",
      registers: [registry],
    });
  }

  observe(round: RetentionRoundFigures): void {
    this.#rounds.inc();
    this.#deleted.inc({ part: "log_records" }, round.logRecords);
    const store = round.store;
    if (store === undefined) return;
    this.#deleted.inc({ part: "store_windows" }, store.windows);
    this.#deleted.inc({ part: "store_alerts" }, store.alerts);
    this.#deleted.inc({ part: "store_late_events" }, store.lateEvents);
    this.#deleted.inc({ part: "raw_batches" }, store.rawBatches);
    this.#deleted.inc({ part: "raw_events" }, store.rawEvents);
    this.#held.set(store.rawPartitionsHeld);
  }
}
