// The whole platform in one process: log, registry, producers, live store, stream job, HTTP server and the live sources.

import type { PulseConfig } from "../config/index.ts";
import { PulseError } from "../errors.ts";
import type { SimulatorBurst } from "../ingest/simulator.ts";
import { TOPICS } from "../contracts/types.ts";
import { RetentionMetrics } from "../serve/metrics/retention.ts";
import { StreamMetrics } from "../serve/metrics/stream.ts";
import { ProgressHistory, type ProgressPoint } from "../serve/routes/progress.ts";
import { SseHub } from "../serve/sse.ts";
import { type LiveStore, SERIES } from "../store/index.ts";
import { StreamJob, type StreamProgress } from "../stream/job/index.ts";
import { tumblingWindow } from "../stream/windows.ts";
import { openStore } from "./backends.ts";
import { openOrchestrator, type Orchestrator } from "./dags.ts";
import { openPlatform, type Platform } from "./platform.ts";
import { describeRetentionRound, runRetentionRound } from "./retention.ts";
import { type Serving, startServing, untilAborted } from "./serving.ts";
import { runSimulator, runWikimedia, type SourceNotices, type WikimediaState } from "./sources.ts";

const RETENTION_EVERY_MS = 60_000;

export interface StartPlatformOptions extends SourceNotices {
  /** Value of the `pulse-source` header on produced records. */
  source: string;
  /** The HTTP server's port (config server.port, or a flag); 0 picks a free one. */
  port: number;
  /** The stream job's tumbling window. */
  windowMs: number;
  outOfOrdernessMs: number;
  /** Event time of the simulator's first event. */
  startTimeMs: number;
  burst?: SimulatorBurst;
  /** A part (a source, the stream job) that stopped with an error; the rest keep running. */
  onPartStopped?: (part: string, message: string) => void;
  /** The scheduler's own lines (a run created or ended, a lease expired). */
  onSchedulerLine?: (line: string) => void;
  /** Told while a remote registry does not answer yet (start-up retries it, as Kafka is retried). */
  onRegistryUnavailable?: (message: string) => void;
  /** A retention round that deleted or held something, as a line (src/app/retention.ts). */
  onRetentionLine?: (line: string) => void;
  /** Each batch the stream job commits. */
  onProgress?: (progress: StreamProgress) => void;
  /** The partitions the stream job owns, each time it (re)loads them; `scalesOut`: it is a group member. */
  onAssignment?: (assignment: Map<string, number[]>, scalesOut: boolean) => void;
}

export interface RunningPlatform extends Serving {
  platform: Platform;
  store: LiveStore;
  job: StreamJob;
  /** The push stream at /api/live/events: progress, window updates and alerts, batch by batch. */
  hub: SseHub;
  /** The stream job's progress after its latest batch; undefined before the first. */
  progress(): StreamProgress | undefined;
  wikimedia: Readonly<WikimediaState>;
  /** Runs the sources, the stream job and retention (the log's, the store's) until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Ends the push streams and the server, then closes the store and the platform. */
  close(): Promise<void>;
}

/** Opens every part and starts the server; run() starts the sources and the job. */
export async function startPlatform(
  config: PulseConfig,
  options: StartPlatformOptions,
): Promise<RunningPlatform> {
  const platform = await openPlatform(config, {
    source: options.source,
    onRegistryUnavailable: options.onRegistryUnavailable,
  });
  const store = await openStore(config).catch(async (error: unknown) => {
    await platform.close();
    throw error;
  });
  const orchestrator: Orchestrator = await openOrchestrator(config, { taskProcesses: true }).catch(
    async (error: unknown) => {
      await store.close();
      await platform.close();
      throw error;
    },
  );
  const scheduler =
    config.orchestrator.scheduler === "on"
      ? orchestrator.scheduler({ log: (line) => options.onSchedulerLine?.(line) })
      : undefined;
  const hub = new SseHub();
  const history = new ProgressHistory();
  let latest: StreamProgress | undefined;
  // Set once the server is up, before run() can start a batch.
  let streamMetrics: StreamMetrics | undefined;
  const job = new StreamJob({
    log: platform.log,
    serde: platform.serde,
    store,
    window: tumblingWindow(options.windowMs),
    outOfOrdernessMs: options.outOfOrdernessMs,
    onAssignment: (assignment) => options.onAssignment?.(assignment, job.scalesOut),
    onProgress: (progress) => {
      options.onProgress?.(progress);
      latest = progress;
      history.push(progressPoint(progress));
      streamMetrics?.observeBatch(progress);
      // Live dashboards follow the job batch by batch: counts, watermark and lag.
      if (progress.numInputRows > 0) hub.publish("progress", progress);
    },
    onCommitted: (batch) => {
      // Window updates as they happen (per source partition; readers sum partitions), and new alerts.
      // One list per series, by name: { activity: […], wikimedia: […] }.
      const windows = SERIES.map((series) => [series.name, batch.windows?.[series.name] ?? []] as const);
      if (windows.some(([, rows]) => rows.length > 0)) hub.publish("windows", Object.fromEntries(windows));
      if (batch.alerts !== undefined && batch.alerts.length > 0) hub.publish("alerts", batch.alerts);
    },
  });
  let serving: Serving | undefined;
  const close = async (): Promise<void> => {
    hub.close();
    await scheduler?.stop();
    await serving?.server.close();
    await orchestrator.close();
    await store.close();
    await platform.close();
  };
  try {
    serving = await startServing(
      platform,
      options.port,
      {
        store,
        progress: () => latest ?? job.progress(),
        hub,
        history,
        job: {
          job: job.job,
          window_ms: job.window.sizeMs,
          slide_ms: job.window.slideMs,
          out_of_orderness_ms: options.outOfOrdernessMs,
          topics: [TOPICS.activity, TOPICS.wikimedia],
        },
      },
      orchestrator,
    );
  } catch (error) {
    await close();
    throw error;
  }

  streamMetrics = new StreamMetrics(serving.server.metrics.registry, {
    progress: () => latest ?? job.progress(),
  });
  const retentionMetrics = new RetentionMetrics(serving.server.metrics.registry);
  let retaining = false;
  const lastLoaded: { offsets?: Map<string, Map<number, number>> } = {};
  const retain = async (): Promise<void> => {
    // A round that outlasts the period is not run twice at once.
    if (retaining) return;
    retaining = true;
    try {
      const round = await runRetentionRound(config, {
        log: platform.log,
        store,
        watermarkMs: latest?.eventTime.watermarkMs ?? null,
        warehouseBusy: () => (scheduler?.runningTries ?? 0) > 0,
        lastLoaded,
      });
      retentionMetrics.observe(round);
      const line = describeRetentionRound(round);
      if (line !== undefined) options.onRetentionLine?.(line);
    } finally {
      retaining = false;
    }
  };

  const wikimedia: WikimediaState = { mode: "off", detail: "" };
  const failures: string[] = [];
  serving.server.reportHealth("stream", () => ({
    status: failures.some((f) => f.startsWith("stream")) ? "down" : "ok",
    job: job.job,
    watermarkMs: latest?.eventTime.watermarkMs ?? null,
    ...(latest?.totals ?? {}),
  }));
  serving.server.reportHealth("scheduler", () => ({
    status: scheduler === undefined ? "off" : "ok",
    dags: orchestrator.dags.map((dag) => dag.id),
    runningTries: scheduler?.runningTries ?? 0,
    runs: config.orchestrator.runs,
  }));
  serving.server.reportHealth("activity-simulator", () => ({
    status: config.simulator.rate > 0 ? "ok" : "off",
    rate: config.simulator.rate,
    ...platform.activity.counters,
  }));
  serving.server.reportHealth("wikimedia", () => ({
    status: wikimedia.mode === "off" ? "off" : wikimedia.mode === "failed" ? "down" : "ok",
    mode: wikimedia.mode,
    detail: wikimedia.detail,
    ...platform.wikimedia.counters,
  }));

  const guard = (name: string, task: Promise<unknown>): Promise<void> =>
    task.then(
      () => undefined,
      (error: unknown) => {
        // A failed part is reported and the rest of the platform keeps running.
        const message =
          error instanceof PulseError ? `${error.message} [${error.code}]` : (error as Error).message;
        failures.push(`${name}: ${message}`);
        options.onPartStopped?.(name, message);
      },
    );

  return {
    ...serving,
    platform,
    store,
    job,
    hub,
    wikimedia,
    progress: () => latest,
    async run(signal) {
      const retention = setInterval(() => {
        retain().catch((error: unknown) =>
          options.onRetentionLine?.(`retention failed, tried again in a minute: ${(error as Error).message}`),
        );
      }, RETENTION_EVERY_MS);
      retention.unref();
      // The batch DAGs: due runs are created and run in this process, each try logged under data_dir/logs.
      scheduler?.start();
      try {
        await Promise.all([
          guard("activity simulator", runSimulator(platform, signal, options.startTimeMs, options.burst)),
          guard("wikimedia", runWikimedia(platform, signal, wikimedia, options)),
          guard("stream", job.run(signal)),
          untilAborted(signal).then(() => scheduler?.stop()),
        ]);
      } finally {
        clearInterval(retention);
      }
    },
    close,
  };
}

/** The figures of a batch the pipeline page charts over time. */
function progressPoint(progress: StreamProgress): ProgressPoint {
  return {
    timestampMs: progress.timestampMs,
    batchId: progress.batchId,
    numInputRows: progress.numInputRows,
    inputRowsPerSecond: progress.inputRowsPerSecond,
    processedRowsPerSecond: progress.processedRowsPerSecond,
    batchDurationMs: progress.batchDurationMs,
    durationMs: progress.durationMs,
    watermarkMs: progress.eventTime.watermarkMs,
    lag: progress.sources.reduce((sum, source) => sum + source.lag, 0),
    stateRows: progress.stateRows,
    stateBytes: progress.stateBytes,
  };
}
