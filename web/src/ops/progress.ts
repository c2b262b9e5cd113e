// The Pipeline page's stream panels (Spark UI's streaming tab): input and processing rates, watermark delay, state size and batch durations over time.

import type { ProgressPoint, StreamProgress } from "../api.ts";
import { Chart } from "../charts.ts";
import { bytes, decimal, duration, figure, h, integer, panel, replace, time } from "../dom.ts";

/** Points kept on the charts. */
const KEPT = 600;

/** The point a pushed progress makes, as the history API gives it. */
export function pointOf(progress: StreamProgress): ProgressPoint {
  return {
    timestampMs: progress.timestampMs,
    batchId: progress.batchId,
    numInputRows: progress.numInputRows,
    inputRowsPerSecond: progress.inputRowsPerSecond,
    processedRowsPerSecond: progress.processedRowsPerSecond,
    batchDurationMs: progress.batchDurationMs,
    durationMs: progress.durationMs,
    watermarkMs: progress.eventTime.watermarkMs,
    lag: progress.sources.reduce((sum, s) => sum + s.lag, 0),
    stateRows: progress.stateRows,
    stateBytes: progress.stateBytes,
  };
}

export class ProgressPanels {
  readonly #points: ProgressPoint[] = [];
  readonly #latest: HTMLElement;
  readonly #rates: Chart;
  readonly #delay: Chart;
  readonly #state: Chart;
  readonly #durations: Chart;

  constructor(grid: HTMLElement) {
    const latest = panel("stream-latest", "Stream job, latest batch", { wide: true });
    const rates = panel("stream-rates", "Input and processing rate");
    const delay = panel("stream-delay", "Watermark delay and unread records", {
      note: "Delay: processing time of the batch minus its watermark.",
    });
    const state = panel("stream-state", "State size");
    const durations = panel("stream-durations", "Batch duration by step");
    grid.append(latest.section, rates.section, delay.section, state.section, durations.section);
    this.#latest = h("dl", { class: "kpis", id: "stream-latest-batch" });
    latest.body.append(this.#latest);
    this.#rates = new Chart(rates.body, {
      label: "Records per second read and processed, per batch",
      series: [
        { label: "input rows/s", format: decimal },
        { label: "processed rows/s", color: 1, format: decimal },
      ],
      yLabel: "rows/s",
    });
    this.#delay = new Chart(delay.body, {
      label: "Watermark delay in seconds and unread records, per batch",
      series: [
        { label: "watermark delay (s)", color: 3, format: decimal },
        { label: "unread records", scale: "y2", color: 5, format: integer },
      ],
      yLabel: "seconds",
      y2Label: "records",
    });
    this.#state = new Chart(state.body, {
      label: "Operator state rows and bytes, per batch",
      series: [
        { label: "rows", color: 6, format: integer },
        { label: "bytes", scale: "y2", color: 7, format: bytes },
      ],
      yLabel: "rows",
      y2Format: bytes,
    });
    this.#durations = new Chart(durations.body, {
      label: "Batch duration and its steps in ms, per batch",
      series: [
        { label: "total ms", color: 0, format: decimal },
        { label: "fetch", color: 1, format: decimal },
        { label: "process", color: 2, format: decimal },
        { label: "commit", color: 4, format: decimal },
      ],
      yLabel: "ms",
    });
    this.#renderLatest(undefined);
  }

  /** Replaces the points (the history read on load). */
  load(points: readonly ProgressPoint[]): void {
    this.#points.splice(0, this.#points.length, ...points.slice(-KEPT));
    this.#draw();
  }

  /** Adds a pushed batch; one already shown (by batch id) is skipped. */
  add(progress: StreamProgress): void {
    const newest = this.#points.at(-1);
    if (newest !== undefined && progress.batchId <= newest.batchId) return;
    this.#points.push(pointOf(progress));
    if (this.#points.length > KEPT) this.#points.splice(0, this.#points.length - KEPT);
    this.#draw();
  }

  #draw(): void {
    const p = this.#points;
    const x = p.map((q) => q.timestampMs / 1000);
    this.#rates.setData([x, p.map((q) => q.inputRowsPerSecond), p.map((q) => q.processedRowsPerSecond)]);
    this.#delay.setData([
      x,
      p.map((q) => (q.watermarkMs === null ? null : (q.timestampMs - q.watermarkMs) / 1000)),
      p.map((q) => q.lag),
    ]);
    this.#state.setData([x, p.map((q) => q.stateRows), p.map((q) => q.stateBytes)]);
    this.#durations.setData([
      x,
      p.map((q) => q.batchDurationMs),
      p.map((q) => q.durationMs.fetch),
      p.map((q) => q.durationMs.process),
      p.map((q) => q.durationMs.commit),
    ]);
    this.#renderLatest(p.at(-1));
  }

  #renderLatest(point: ProgressPoint | undefined): void {
    if (point === undefined) {
      replace(this.#latest, h("dt", {}, "batches"), h("dd", {}, "none yet"));
      return;
    }
    replace(
      this.#latest,
      h("dt", {}, "batch"),
      h(
        "dd",
        {},
        figure("span", point.batchId, integer, { "data-metric": "batchId" }),
        " at ",
        time(point.timestampMs),
      ),
      h("dt", {}, "records"),
      h("dd", {}, figure("span", point.numInputRows, integer, { "data-metric": "numInputRows" })),
      h("dt", {}, "input rate"),
      h("dd", {}, `${decimal(point.inputRowsPerSecond)} rows/s`),
      h("dt", {}, "duration"),
      h("dd", {}, duration(point.batchDurationMs)),
      h("dt", {}, "watermark"),
      h("dd", {}, time(point.watermarkMs)),
      h("dt", {}, "state"),
      h("dd", {}, `${integer(point.stateRows)} rows, ${bytes(point.stateBytes)}`),
      h("dt", {}, "unread"),
      h("dd", {}, figure("span", point.lag, integer, { "data-metric": "lag" })),
    );
  }
}
