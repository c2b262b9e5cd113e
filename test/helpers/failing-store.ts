// A LiveStore test double around a real store that fails one commit: a crash before it, or an answer lost after it.

import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import type { LiveStore, StoreBatch } from "../../src/store/index.ts";

/**
 * A test double around the real store: its first commit after `shouldFail()` turns true fails, as a
 * crash between the job's dead-letter produce and its store commit would.
 */
export class CommitFailingStore implements LiveStore {
  failed = false;
  attempts = 0;
  /** `when` "after": the failing commit is applied, then its answer is lost (a retriable error). */
  constructor(
    private readonly inner: LiveStore,
    private readonly shouldFail: (attempt: number, batch: StoreBatch) => boolean | Promise<boolean>,
    private readonly when: "before" | "after" = "before",
  ) {}
  async commit(batch: StoreBatch): Promise<void> {
    this.attempts++;
    const fail = !this.failed && (await this.shouldFail(this.attempts, batch));
    if (fail) this.failed = true;
    if (fail && this.when === "before")
      throw new StoreError(StoreErrorCode.storage, "injected crash before commit");
    await this.inner.commit(batch);
    if (fail) {
      throw new StoreError(StoreErrorCode.unavailable, "injected: connection closed after the commit", {
        retriable: true,
      });
    }
  }
  checkpoints = (job: string, topic: string) => this.inner.checkpoints(job, topic);
  checkpointOffsets = (job: string, topic: string) => this.inner.checkpointOffsets(job, topic);
  windows: LiveStore["windows"] = (series, query) => this.inner.windows(series, query);
  daily: LiveStore["daily"] = (series, range) => this.inner.daily(series, range);
  windowRows: LiveStore["windowRows"] = (series, range) => this.inner.windowRows(series, range);
  finalWindowStarts = (...a: Parameters<LiveStore["finalWindowStarts"]>) =>
    this.inner.finalWindowStarts(...a);
  topPages = (w: number, l: number) => this.inner.topPages(w, l);
  alerts = (l: number) => this.inner.alerts(l);
  lateEvents = (l: number) => this.inner.lateEvents(l);
  lateEventsBetween = (t: string, r: { fromMs: number; toMs: number }) => this.inner.lateEventsBetween(t, r);
  enforceRetention: LiveStore["enforceRetention"] = (retention) => this.inner.enforceRetention(retention);
  get lake() {
    return this.inner.lake;
  }
  close = () => Promise.resolve();
}
