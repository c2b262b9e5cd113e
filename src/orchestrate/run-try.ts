// Runs one claimed try of a task: its context, its log file, its lease kept alive, its timeout, and its end recorded.
//
// The caller has claimed the instance (RunStore.claim), so this process owns the try until its lease
// expires. While the callable runs, a heartbeat extends the lease every third of it; when a heartbeat
// finds the lease lost (another scheduler took the try over after this one stalled), the try's signal is
// aborted and nothing more is written for it. A try that runs past timeoutMs is aborted and fails with a
// timeout reason, whether or not its callable listens to the signal.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { Task, TaskContext } from "./dag.ts";
import type { DagRun, RunStore, TaskInstance, TryOutcome } from "./runs/index.ts";
import { TaskLogFile, taskLogPath } from "./task-log.ts";

/** Thrown by a task to end its try as skipped (Airflow's AirflowSkipException). */
export class SkipTask extends Error {
  constructor(message = "skipped by the task") {
    super(message);
    this.name = "SkipTask";
  }
}

/**
 * Runs a task's work for one try. The default calls the task's callable in this process; the app may run
 * it in a child process instead (src/app/task-process.ts), so heavy work never stalls the process's event
 * loop. It must end when the context's signal aborts.
 */
export type TaskRunner = (dagId: string, task: Task, context: TaskContext) => Promise<void>;

export const inProcess: TaskRunner = async (_dagId, task, context) => {
  await task.run(context);
};

export interface TryRequest {
  store: RunStore;
  dagId: string;
  task: Task;
  run: DagRun;
  /** The claimed instance: its tryNumber is this try's. */
  instance: TaskInstance;
  owner: string;
  leaseMs: number;
  logsDir: string;
  /** How many tries of this round may fail and be retried (the task's retries). */
  retriesLeft: number;
  /** Aborted when the scheduler stops: the try is aborted and left for its lease to expire. */
  stop?: AbortSignal;
  /** How the task's work runs (default: its callable, in this process). */
  runner?: TaskRunner;
  clock?: () => number;
}

export interface TryEnd {
  /** What the try ended in; "lost" when its lease was lost or the scheduler stopped before it ended. */
  outcome: TryOutcome | "lost";
  reason: string | null;
  logPath: string;
}

/** Runs the try to its end and records it; never throws for the task's own failure. */
export async function runTry(request: TryRequest): Promise<TryEnd> {
  const { store, task, run, instance, owner, leaseMs } = request;
  const clock = request.clock ?? Date.now;
  const key = { dagId: request.dagId, runId: run.runId, taskId: task.id };
  const tryNumber = instance.tryNumber;
  const logPath = taskLogPath(request.logsDir, key, tryNumber);
  const log = new TaskLogFile(logPath, clock);
  const abort = new AbortController();
  let lost: string | undefined;
  const onStop = (): void => {
    lost = "the scheduler stopped during the try";
    abort.abort(new OrchestrateError(OrchestrateErrorCode.closed, lost));
  };
  request.stop?.addEventListener("abort", onStop, { once: true });
  const heartbeat = setInterval(
    () => {
      store.heartbeat(key, owner, tryNumber, leaseMs).then(
        (held) => {
          if (held || abort.signal.aborted) return;
          lost = "its lease was lost (another scheduler took the try over)";
          abort.abort(new OrchestrateError(OrchestrateErrorCode.closed, `The try ${lost}.`));
        },
        (error: unknown) => log.warn(`heartbeat failed: ${messageOf(error)}`),
      );
    },
    Math.max(10, Math.floor(leaseMs / 3)),
  );
  const { timeoutMs } = task.options;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          abort.abort(
            new OrchestrateError(
              OrchestrateErrorCode.timeout,
              `Task "${task.id}" timed out after ${timeoutMs} ms (timeoutMs); its work was aborted.`,
            ),
          );
        }, timeoutMs);

  log.info(
    `try ${tryNumber} of ${task.id} (run ${run.runId}, interval ${run.dataIntervalStart.toISOString()} → ` +
      `${run.dataIntervalEnd.toISOString()}) started by ${owner}`,
  );
  const context: TaskContext = {
    dagId: request.dagId,
    taskId: task.id,
    runId: run.runId,
    logicalDate: run.logicalDate,
    dataIntervalStart: run.dataIntervalStart,
    dataIntervalEnd: run.dataIntervalEnd,
    tryNumber,
    log,
    signal: abort.signal,
  };
  let outcome: TryOutcome;
  let reason: string | null = null;
  try {
    await untilAborted(
      Promise.resolve().then(() => (request.runner ?? inProcess)(request.dagId, task, context)),
      abort.signal,
    );
    outcome = "success";
  } catch (error) {
    if (error instanceof SkipTask) {
      outcome = "skipped";
      reason = error.message;
    } else {
      reason = messageOf(abort.signal.aborted ? abort.signal.reason : error);
      outcome = request.retriesLeft > 0 ? "up_for_retry" : "failed";
      log.error(error instanceof Error && error.stack && !abort.signal.aborted ? error.stack : reason);
    }
  } finally {
    clearInterval(heartbeat);
    if (timer !== undefined) clearTimeout(timer);
    request.stop?.removeEventListener("abort", onStop);
  }
  try {
    if (lost !== undefined) {
      log.warn(`try ${tryNumber} ended without a result: ${lost}`);
      return { outcome: "lost", reason: lost, logPath };
    }
    const recorded = await store.finish(key, owner, tryNumber, outcome, reason ?? undefined);
    if (!recorded) {
      log.warn(`try ${tryNumber} ended (${outcome}) after its lease was lost; the result is not recorded`);
      return { outcome: "lost", reason: "the lease was lost", logPath };
    }
    log.info(`try ${tryNumber} ended: ${outcome}${reason === null ? "" : ` (${reason})`}`);
    return { outcome, reason, logPath };
  } finally {
    log.close();
  }
}

/** Settles with the promise, or rejects with the signal's reason as soon as it is aborted. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
