// The stream job: micro-batches of read → decode and validate → aggregate → write → one atomic store commit → report.

import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import type { GroupMember } from "../../log/index.ts";
import type { WindowSpec } from "../windows.ts";
import { aggregateBatch, storedAlertsDue } from "./aggregate.ts";
import { BatchState } from "./batch-state.ts";
import {
  addCheckpoints,
  commitBatch,
  commitGroupOffsets,
  LAG_REFRESH_MS,
  refreshDeadLetterMarks,
  retrying,
} from "./commit.ts";
import type { PartitionCursor } from "./cursor.ts";
import { RecordApplier } from "./decode-validate.ts";
import { type JobSettings, resolveSettings, type StreamJobOptions } from "./options.ts";
import { type AnyPipeline, buildPipelines } from "./pipelines.ts";
import type { StreamProgress, StreamRunSummary } from "./progress.ts";
import { ReadBudget, readBatch } from "./read.ts";
import { loadPartitions } from "./recovery.ts";
import { finiteOrNull, ProgressReporter, refreshLag, totalsOf } from "./report.ts";
import { produceAlerts, produceDeadLetters } from "./write.ts";

export { DEFAULT_JOB_NAME, JOB_HEADER, type StreamJobOptions } from "./options.ts";
export type {
  PartitionLagProgress,
  SourceProgress,
  StreamProgress,
  StreamRunSummary,
  StreamTotals,
} from "./progress.ts";

/**
 * Reads its topics in micro-batches and applies each batch to the live store exactly once.
 *
 * One batch: fetch from each partition's checkpointed offset → decode (Avro via the registry) →
 * validate → aggregate, collecting late and raw events → produce the batch's dead letters → flush →
 * ONE store.commit holding the rows, the late and raw events and a checkpoint per changed partition
 * (next offset + operator snapshot) → commit the group offsets to the log (only for lag display).
 *
 * Dead letters go to a different system (the log) than the checkpoint (the store), so they cannot
 * share its transaction. They are produced before the store commit and made idempotent on replay:
 * each goes to the dead-letter partition `partition mod dlqPartitions`, tagged with this job's name,
 * and the checkpoint records a mark in that partition below every dead letter not yet covered by the
 * checkpoint. After a crash, start() scans the dead-letter partition from the mark and collects the
 * source offsets this job already dead-lettered; the replayed batch skips producing those again.
 * Produce is durable before the commit starts, so no dead letter is lost either: exactly once.
 *
 * Alerts (WindowAlerter, one per topic) follow the same protocol on the `alerts` topic: produced before
 * the commit, a mark in the checkpoint, recovered on start. The alerter's state rides in the checkpoint
 * of each topic's lowest partition (see envelope.ts and docs/speed-layer.md).
 */
export class StreamJob {
  readonly job: string;
  readonly window: WindowSpec;
  readonly #settings: JobSettings;
  #pipelines: AnyPipeline[] = [];
  #member: GroupMember | undefined;
  /** The group generation the pipelines were loaded for. */
  #appliedGeneration = -1;
  readonly #budget: ReadBudget;
  readonly #applier: RecordApplier;
  readonly #reporter: ProgressReporter;
  /** performance.now() of the last group-offset commit and high-watermark read. */
  #lagRefreshedAtMs = Number.NEGATIVE_INFINITY;
  #started: Promise<void> | undefined;
  #read = 0;
  readonly #finalWindows = new Set<string>();
  #drained = false;
  /** A drain's batch reached every target and committed as the end-of-input flush. */
  #drainFinished = false;
  /** The topic (pipeline) whose share the next batch reads first. */
  #firstPipeline = 0;
  /** The signal of the running run() or drain(): ends a commit retry loop. */
  #signal: AbortSignal | undefined;
  readonly #startedAtMs = performance.now();
  /** performance.now() at the start of the first batch that read a record. */
  #firstReadAtMs: number | undefined;

  constructor(options: StreamJobOptions) {
    const settings = resolveSettings(options);
    this.#settings = settings;
    this.job = settings.job;
    this.window = settings.window;
    this.#budget = new ReadBudget(settings.maxBatchRecords, settings.adaptiveBudget);
    this.#applier = new RecordApplier(settings.serde, settings.rawLake, settings.jobHeader);
    this.#reporter = new ProgressReporter(settings.job, options.onProgress);
    this.#pipelines = buildPipelines(settings);
  }

  get topics(): string[] {
    return [...this.#settings.topicNames];
  }

  /** The partitions of each topic this job processes now (all of them unless it scales out). */
  assignment(): Map<string, number[]> {
    return new Map(this.#pipelines.map((p) => [p.topic, p.cursors.map((c) => c.partition)]));
  }

  /** Records read by this run so far. */
  get recordsRead(): number {
    return this.#read;
  }

  /** The last committed batch's progress (undefined before the first commit). */
  progress(): StreamProgress | undefined {
    return this.#reporter.progress;
  }

  /** True when the job is a member of the log's consumer group (it may own only some partitions). */
  get scalesOut(): boolean {
    return this.#settings.scaleOut;
  }

  /** True when a restored checkpoint says the job was drained before: new records of it will be late. */
  wasDrained(): boolean {
    return this.#pipelines.some((p) =>
      p.aggregator.progress().partitions.some((q) => q.watermarkMs === Number.POSITIVE_INFINITY),
    );
  }

  /** Loads checkpoints, restores state and recovers dead-letter positions; idempotent. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#settings.scaleOut) {
      this.#member = await this.#settings.log.joinGroup!(this.job, this.#settings.topicNames);
      await this.#member.ready();
      this.#appliedGeneration = this.#member.generation;
    }
    await this.#load();
  }

  /**
   * Between batches: when the group moved partitions, drops every pipeline's state and loads the
   * new assignment from the store's checkpoints (each covers its partition's last committed batch, and
   * nothing is in flight now). Returns true when it reloaded.
   */
  async #syncAssignment(signal?: AbortSignal): Promise<boolean> {
    const member = this.#member;
    if (member === undefined || member.generation === this.#appliedGeneration) return false;
    // Revoked while the group rebalances: own nothing until the new assignment arrives.
    const aborted = new Promise<void>((resolve) =>
      signal?.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.race([member.ready(), aborted]);
    this.#appliedGeneration = member.generation;
    await this.#reload();
    return true;
  }

  /** Drops all state and loads the owned partitions again, retrying while the store or the log is down. */
  async #reload(): Promise<void> {
    await retrying(
      async () => {
        this.#pipelines = buildPipelines(this.#settings);
        await this.#load();
      },
      this.#settings,
      this.#signal,
    );
  }

  /** Loads the owned partitions' checkpoints into fresh pipelines and recovers dead letters and alerts. */
  async #load(): Promise<void> {
    await loadPartitions(this.#settings, this.#pipelines, this.#member);
    this.#settings.options.onAssignment?.(this.assignment());
  }

  /** Runs micro-batches until `signal` aborts; the batch in flight finishes and commits first. */
  async run(signal: AbortSignal): Promise<StreamRunSummary> {
    this.#signal = signal;
    await this.start();
    while (!signal.aborted) {
      await this.#syncAssignment(signal);
      const read = await this.#fenced(() => this.#batch(undefined, false));
      // The embedded log and store answer synchronously, so without this the loop would never let
      // timers and signal handlers (Ctrl-C, the status line) run.
      await yieldToEventLoop();
      if (read > 0) continue;
      await refreshDeadLetterMarks(this.#settings.log, this.#pipelines);
      try {
        await sleep(this.#settings.pollIntervalMs, undefined, { signal });
      } catch {
        // Aborted while idle: nothing in flight.
      }
    }
    await this.#checkpointState();
    await this.#member?.leave();
    return this.summary();
  }

  /**
   * Bounded input: processes every record below the high watermarks seen now, then advances every
   * watermark to the end (as Flink does at the end of a bounded source), so the last flush makes
   * every window final, and commits. An abort stops after the batch in flight, without the advance.
   */
  async drain(signal?: AbortSignal): Promise<StreamRunSummary> {
    this.#signal = signal;
    await this.start();
    let targets = await this.#drainTargets();
    while (signal?.aborted !== true) {
      if (await this.#syncAssignment(signal)) targets = await this.#drainTargets();
      const read = await this.#fenced(() => this.#batch(targets, false, true, true));
      if (read < 0) targets = await this.#drainTargets();
      await yieldToEventLoop();
      if (this.#drainFinished || read === 0) break;
    }
    if (!this.#drainFinished) {
      if (signal?.aborted === true) {
        await this.#checkpointState();
        await this.#member?.leave();
        return this.summary();
      }
      // The last batch did not read up to every target (a partition ending in records no reader sees):
      // the end-of-input flush is a batch of its own.
      this.#advanceToEnd();
      await this.#batch(targets, true);
    }
    this.#drained = true;
    await this.#member?.leave();
    return this.summary();
  }

  /**
   * On a stop: commits every partition's state where it is, reading nothing more, so a restart needs
   * no replay. Best effort: a store that is down now leaves the last state checkpoint, which is enough.
   */
  async #checkpointState(): Promise<void> {
    if (this.#started === undefined) return;
    try {
      await this.#batch(undefined, true, false);
    } catch {
      // The rows and offsets are committed; only the replay on restart gets longer.
    }
  }

  /** End of input: every watermark to the end, so the next flush makes every window final. */
  #advanceToEnd(): void {
    for (const pipeline of this.#pipelines) {
      pipeline.aggregator.advanceToEnd();
      for (const cursor of pipeline.cursors) cursor.dirty = true;
    }
  }

  /** Each owned partition's high watermark now: where a drain stops. */
  async #drainTargets(): Promise<Map<PartitionCursor, number>> {
    const targets = new Map<PartitionCursor, number>();
    for (const pipeline of this.#pipelines) {
      const info = await this.#settings.log.describeTopic(pipeline.topic);
      for (const cursor of pipeline.cursors) {
        targets.set(cursor, info.offsets[cursor.partition]?.highWatermark ?? cursor.nextOffset);
      }
    }
    return targets;
  }

  summary(): StreamRunSummary {
    return {
      read: this.#read,
      totals: totalsOf(this.#pipelines),
      windowsFinal: this.#finalWindows.size,
      watermarkMs: finiteOrNull(this.#reporter.lastFiniteWatermarkMs),
      drained: this.#drained,
      elapsedMs: performance.now() - this.#startedAtMs,
      readingMs: this.#firstReadAtMs === undefined ? null : performance.now() - this.#firstReadAtMs,
    };
  }

  /**
   * One micro-batch, as its steps. `limits` caps each partition's reads (drain); `final` commits even
   * with nothing read (the end-of-input flush, a stop) and writes every partition's state; `readRecords`
   * false reads nothing (a stop); `finishAtLimits` (a drain) makes the batch whose reads reach every limit
   * the end-of-input flush. Returns the number of records read.
   */
  async #batch(
    limits: Map<PartitionCursor, number> | undefined,
    final: boolean,
    readRecords = true,
    finishAtLimits = false,
  ): Promise<number> {
    const settings = this.#settings;
    const pipelines = this.#pipelines;
    const startedAtMs = performance.now();
    const nowMs = settings.nowMs();
    this.#applier.startBatch();
    const state = new BatchState(nowMs, settings.maxFutureSkewMs);
    const { rows } = state;
    const fullBudget = readRecords ? this.#budget.records : 0;

    // Read, decoding, validating and aggregating each record as it comes (read.ts, decode-validate.ts).
    // Topics take turns opening a batch's read, as partitions do within a topic.
    const firstPipeline = this.#firstPipeline;
    this.#firstPipeline = pipelines.length === 0 ? 0 : (firstPipeline + 1) % pipelines.length;
    const { read, moved, fetchMs } = await readBatch(
      settings.log,
      pipelines,
      this.#applier,
      state,
      fullBudget,
      limits,
      firstPipeline,
    );
    // A drain whose reads reached every target ends here: the watermarks advance to the end now, so
    // this batch's commit is also the end-of-input flush, and the open windows are written once, final.
    let finishing = false;
    if (finishAtLimits && read > 0 && limits !== undefined && reachedLimits(limits)) {
      this.#advanceToEnd();
      final = true;
      finishing = true;
    }
    // A position moved past unseen records is committed too: the checkpoint shows the partition caught up.
    const pollMs = settings.storedAlertsPollMs;
    const due = read > 0 || moved || final || pipelines.some((p) => storedAlertsDue(p, pollMs));
    if (!due) return 0;
    if (read > 0) this.#firstReadAtMs ??= startedAtMs;
    const processedAtMs = performance.now();

    // Write the dead letters, then flush the aggregates and score alerts, then write the alerts.
    await produceDeadLetters(settings.log, state);
    const deadLetteredAtMs = performance.now();
    const { rowsWritten, alerts, alertsByPipeline } = await aggregateBatch(
      settings,
      pipelines,
      rows,
      final,
      this.#finalWindows,
    );
    await produceAlerts(settings, alertsByPipeline);

    // Commit: checkpoints, the one store commit, then (for lag display) the group offsets.
    addCheckpoints(settings, pipelines, this.#member, rows, { final, startedAtMs, nowMs });
    await commitBatch(
      settings,
      pipelines,
      { rows, rawRuns: this.#applier.rawRuns(), alerts, rowsWritten },
      this.#signal,
    );
    if (finishing) this.#drainFinished = true;
    const refreshingLag = final || performance.now() - this.#lagRefreshedAtMs >= LAG_REFRESH_MS;
    if (refreshingLag) await commitGroupOffsets(settings, pipelines, this.#member);
    const committedAtMs = performance.now();
    this.#read += read;
    if (refreshingLag) {
      await this.refreshLag();
      this.#lagRefreshedAtMs = performance.now();
    }
    await refreshDeadLetterMarks(settings.log, pipelines);
    if (read >= fullBudget && fullBudget > 0) {
      this.#budget.adapt(committedAtMs - deadLetteredAtMs, processedAtMs - startedAtMs);
    }

    // Report.
    this.#reporter.report(pipelines, {
      read,
      nowMs: settings.nowMs(),
      startedAtMs,
      fetchMs,
      processMs: processedAtMs - startedAtMs - fetchMs,
      deadLetterMs: deadLetteredAtMs - processedAtMs,
      commitMs: committedAtMs - deadLetteredAtMs,
      endedAtMs: committedAtMs,
      counts: state.counts,
      rowsWritten,
      alerts: alerts.length,
      minEventTimeMs: state.minEventTimeMs,
      maxEventTimeMs: state.maxEventTimeMs,
    });
    return read;
  }

  /**
   * Runs a batch; when the store refuses it because another member committed one of its partitions
   * meanwhile (a rebalance overlapped this batch), drops the batch and all state and reloads the owned
   * partitions from the store's checkpoints. Returns -1 after such a reload.
   */
  async #fenced(batch: () => Promise<number>): Promise<number> {
    try {
      return await batch();
    } catch (error) {
      if (!(error instanceof StoreError && error.code === StoreErrorCode.conflict)) throw error;
      this.#settings.options.onRetry?.(error, 0, 0);
      await this.#reload();
      return -1;
    }
  }

  /** Refreshes each partition's high watermark, for the lag in progress reports; runs after each batch. */
  async refreshLag(): Promise<void> {
    await refreshLag(this.#settings.log, this.#pipelines);
  }
}

/** Whether every partition a drain reads has been read up to its target. */
function reachedLimits(limits: ReadonlyMap<PartitionCursor, number>): boolean {
  for (const [cursor, limit] of limits) if (cursor.nextOffset < limit) return false;
  return true;
}
