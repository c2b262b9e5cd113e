// Moves an SQLite file's WAL checkpoints off the writing thread, onto a worker thread's own connection.

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/** What SQLite's own automatic checkpoint uses when the worker is not running (pages of WAL). */
export const AUTO_CHECKPOINT_PAGES = 4000;
const DEFAULT_INTERVAL_MS = 200;

/*
 * The worker: its own connection to the file, a PASSIVE checkpoint every interval. PASSIVE copies what
 * it can without waiting for readers or writers, so the writer never blocks on it; a busy answer is
 * just tried again next time. Plain JavaScript, evaluated as a script, so it needs no loader.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs, fileMustExist: true });
let timer;
function stop() {
  clearInterval(timer);
  db.close();
}
timer = setInterval(() => {
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)");
    if (row && row.checkpointed > 0) parentPort.postMessage({ checkpointed: row.checkpointed });
  } catch (error) {
    const code = String((error && error.code) || "");
    if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") return;
    stop();
    parentPort.postMessage({ failed: String((error && error.message) || error) });
  }
}, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  stop();
  parentPort.close();
});
`;

export interface WalCheckpointerOptions {
  /** Between two checkpoints (default 200 ms). */
  intervalMs?: number;
  busyTimeoutMs?: number;
}

/**
 * Once started, the writer's connection stops checkpointing (wal_autocheckpoint = 0) and a worker
 * thread checkpoints the WAL every interval instead. A commit that crossed SQLite's automatic threshold
 * used to pay for copying the whole WAL into the database and syncing it, 50–200 ms on this machine,
 * which was the whole tail of the stream job's latency; on another thread (and core) the commit pays
 * nothing. If the worker cannot start or fails, the connection checkpoints by itself again.
 *
 * The worker is unref'd, so it never keeps a process alive; stop() ends it before the file is closed.
 */
export class WalCheckpointer {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #options: WalCheckpointerOptions;
  #worker: Worker | null = null;
  #state: "idle" | "running" | "stopped" = "idle";
  #checkpointedFrames = 0;
  #failure: string | undefined;

  constructor(db: Database.Database, path: string, options: WalCheckpointerOptions = {}) {
    this.#db = db;
    this.#path = path;
    this.#options = options;
  }

  /** WAL frames the worker has copied into the database so far (for tests and diagnostics). */
  get checkpointedFrames(): number {
    return this.#checkpointedFrames;
  }

  /** Why the worker stopped on its own, if it did (the connection checkpoints by itself since). */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Starts the worker if it is not running yet; cheap to call after every write. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          driver: createRequire(import.meta.url).resolve("better-sqlite3"),
          path: this.#path,
          busyTimeoutMs: this.#options.busyTimeoutMs ?? 15_000,
          intervalMs: this.#options.intervalMs ?? DEFAULT_INTERVAL_MS,
        },
      });
    } catch (error) {
      this.#fail(describe(error));
      return;
    }
    worker.unref();
    worker.on("message", (message: { checkpointed?: number; failed?: string }) => {
      if (message.checkpointed !== undefined) this.#checkpointedFrames += message.checkpointed;
      if (message.failed !== undefined) this.#fail(message.failed);
    });
    worker.on("error", (error: unknown) => this.#fail(describe(error)));
    this.#worker = worker;
    this.#db.pragma("wal_autocheckpoint = 0");
  }

  /** Ends the worker; the connection is left checkpointing by itself, as before start(). */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#state = "stopped";
    this.#worker = null;
    if (worker === null) return;
    this.#checkpointInline();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("stop");
    // The worker closes its connection and exits; terminate() is the fallback if it is stuck in a call.
    const timeout = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timeout);
  }

  #fail(message: string): void {
    this.#failure = message;
    this.#state = "stopped";
    const worker = this.#worker;
    this.#worker = null;
    this.#checkpointInline();
    void worker?.terminate();
  }

  /** Gives checkpoints back to the writing connection, as SQLite does them by default. */
  #checkpointInline(): void {
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  }
}

/** A worker's error may arrive as a plain object (a test runner's own worker, for one), not an Error. */
function describe(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message !== "" ? message : String(error);
}
