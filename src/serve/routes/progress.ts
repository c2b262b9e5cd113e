// GET /api/stream/progress (the running job's latest progress), …/progress/history (its recent batches) and /api/stream/job (whether one runs, and its window).

import { HttpError, sendJson } from "../http.ts";
import { badParam, getRoute, type Route } from "../route.ts";

/** One batch of the stream job as the history keeps it: the figures the pipeline page charts over time. */
export interface ProgressPoint {
  /** Processing time when the batch committed. */
  timestampMs: number;
  batchId: number;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  batchDurationMs: number;
  durationMs: { fetch: number; process: number; deadLetter: number; commit: number };
  /** The job's event-time watermark after the batch; null before the first event. */
  watermarkMs: number | null;
  /** Records on the source topics not yet read, summed over topics and partitions. */
  lag: number;
  stateRows: number;
  stateBytes: number;
}

/** What the stream job computes: the window the live API's `window` parameter must name to find its rows. */
export interface StreamJobInfo {
  job: string;
  window_ms: number;
  slide_ms: number;
  out_of_orderness_ms: number;
  topics: readonly string[];
}

export interface ProgressHistoryOptions {
  /** Points kept, newest last (default 1,000). */
  capacity?: number;
  /** A batch that read nothing is kept only when the newest point is this much older (default 1 s). */
  idleEveryMs?: number;
}

/**
 * The stream job's recent batches, for charts over time (Spark UI's streaming tab): every batch that
 * read records, and idle ones at most once every `idleEveryMs`, so the watermark and state keep a point
 * when nothing arrives without idle polls filling the buffer.
 */
export class ProgressHistory {
  readonly #capacity: number;
  readonly #idleEveryMs: number;
  readonly #points: ProgressPoint[] = [];

  constructor(options: ProgressHistoryOptions = {}) {
    this.#capacity = options.capacity ?? 1_000;
    this.#idleEveryMs = options.idleEveryMs ?? 1_000;
  }

  push(point: ProgressPoint): void {
    const newest = this.#points.at(-1);
    if (
      point.numInputRows === 0 &&
      newest !== undefined &&
      point.timestampMs - newest.timestampMs < this.#idleEveryMs
    ) {
      return;
    }
    this.#points.push(point);
    if (this.#points.length > this.#capacity) this.#points.splice(0, this.#points.length - this.#capacity);
  }

  /** The newest `limit` points, oldest first. */
  points(limit: number): ProgressPoint[] {
    return this.#points.slice(-limit);
  }
}

const MAX_HISTORY = 1_000;

export interface ProgressRouteOptions {
  progress?: () => unknown;
  history?: ProgressHistory;
  job?: StreamJobInfo;
}

export function progressRoute({ progress, history, job }: ProgressRouteOptions): Route {
  return getRoute("/api/stream", {
    "/progress": {
      params: [],
      run: async (_query, _req, res) => {
        const latest = progress?.();
        if (latest === undefined || latest === null) throw notRunning();
        sendJson(res, 200, latest);
      },
    },
    "/progress/history": {
      params: ["limit"],
      run: async (query, _req, res) => {
        if (history === undefined) throw notRunning();
        const text = query.get("limit");
        const limit = text === undefined ? MAX_HISTORY : /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
        if (!(limit >= 1 && limit <= MAX_HISTORY)) {
          throw badParam(`limit must be a whole number from 1 to ${MAX_HISTORY}; got "${text}"`);
        }
        sendJson(res, 200, { points: history.points(limit) });
      },
    },
    // Whether a job runs here is an answer, not an error: the pages ask before they open the push stream.
    "/job": {
      params: [],
      run: async (_query, _req, res) => {
        sendJson(res, 200, job === undefined ? { running: false } : { running: true, ...job });
      },
    },
  });
}

function notRunning(): HttpError {
  return new HttpError(
    503,
    "PULSE_STREAM_NOT_RUNNING",
    "no stream job runs in this process; start one with `pulse up` or `pulse stream`",
  );
}
