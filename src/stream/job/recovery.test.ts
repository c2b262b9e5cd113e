// The job across crashes and restarts: dead letters exactly once, resumed checkpoints, rare state, lost answers.

import { describe, expect, it } from "vitest";
import { SCHEMA_TEXTS, subjectFor } from "../../contracts/schemas.ts";
import type { UserActivityV2 } from "../../contracts/types.ts";
import { type StoreError, StoreErrorCode } from "../../errors.ts";
import { ACTIVITY, generate, producedWithTruth, setup } from "../../../test/helpers/stream-job.ts";
import { CommitFailingStore } from "../../../test/helpers/failing-store.ts";
import { DEFAULT_JOB_NAME } from "./index.ts";

describe("StreamJob.drain", () => {
  it("after a crash between the dead letters and the store commit, a restart neither loses nor repeats a dead letter", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 3, count: 3_000, duplicateShare: 0.02, lagShare: 0.05 });
    await fx.produceActivity(events.slice(0, 1_000));
    const bad1 = await fx.produceBadRecords();
    await fx.produceActivity(events.slice(1_000, 2_000));
    const bad2 = await fx.produceBadRecords();
    await fx.produceActivity(events.slice(2_000));
    const truth = await fx.truth();

    // Each round crashes at its first commit after it produced dead letters; the batch sizes differ, so
    // a replay re-reads the crashed batch's offsets over several smaller batches.
    let crashes = 0;
    for (const maxBatchRecords of [400, 50, 170, 50]) {
      const before = (await fx.deadLetters()).length;
      const crashing = new CommitFailingStore(
        fx.reopenStore(),
        async () => (await fx.deadLetters()).length > before,
      );
      try {
        await fx.job({ store: crashing, maxBatchRecords }).drain();
      } catch (error) {
        expect((error as Error).message).toMatch(/injected crash/);
        crashes++;
      }
    }
    expect(crashes).toBeGreaterThanOrEqual(2);
    const summary = await fx.job({ store: fx.reopenStore(), maxBatchRecords: 400 }).drain();

    const letters = await fx.deadLetters();
    const positions = letters.map((l) => `${l.source_partition}:${l.source_offset}`);
    expect(positions.sort()).toEqual([...bad1, ...bad2].map((b) => `${b.partition}:${b.offset}`).sort());
    expect(summary.totals.deadLettered).toBe(bad1.length + bad2.length);
    expect(summary.totals.input).toBe(events.length + bad1.length + bad2.length);
    expect(summary.totals.late).toBe(truth.late);
    expect(summary.totals.duplicates).toBe(truth.duplicates);
    await fx.expectWindows(truth);
    expect(await fx.store.lateEvents(100_000)).toHaveLength(truth.late);
  });

  it("keeps the dead-letter scan mark below a recovered dead letter until a checkpoint passes its offset", async (ctx) => {
    const fx = await setup(ctx);
    const encode = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const good = generate({ seed: 7, count: 200 }).map((e) => ({
      key: null,
      value: encode(e),
      partition: 0,
    }));
    await fx.log.produce(ACTIVITY, good.slice(0, 100));
    await fx.log.produce(ACTIVITY, [{ key: null, value: Buffer.from("garbage"), partition: 0 }]);
    await fx.log.produce(ACTIVITY, good.slice(100));

    // 1: the dead letter for offset 100 is produced, then the commit fails.
    const first = new CommitFailingStore(fx.reopenStore(), () => true);
    await expect(fx.job({ store: first }).drain()).rejects.toThrow(/injected crash/);
    // 2: small batches commit offsets below 100 (the dead letter is not covered yet), then a crash.
    const second = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === 3);
    await expect(fx.job({ store: second, maxBatchRecords: 30 }).drain()).rejects.toThrow(/injected crash/);
    expect(
      (await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY)).find((c) => c.partition === 0)?.nextOffset,
    ).toBe(60);
    // 3: the scan after the second crash must still find the first dead letter.
    const summary = await fx.job({ store: fx.reopenStore() }).drain();

    const letters = await fx.deadLetters();
    expect(letters.map((l) => [l.source_partition, l.source_offset])).toEqual([[0, 100]]);
    expect(summary.totals).toMatchObject({ input: 201, accepted: 200, deadLettered: 1 });
  });

  it("resumes from its checkpoints after an abort and ends with the same windows as one uninterrupted run", async (ctx) => {
    const generated = { seed: 4, count: 5_000, duplicateShare: 0.02, lagShare: 0.05 };
    const { fx, events, truth } = await producedWithTruth(ctx, generated);

    let read = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const controller = new AbortController();
      const summary = await fx
        .job({
          store: fx.reopenStore(),
          maxBatchRecords: 300,
          onProgress: (p) => {
            if (p.batchId === 2) controller.abort();
          },
        })
        .drain(controller.signal);
      expect(summary.drained).toBe(false);
      read += summary.read;
    }
    expect(read).toBe(9 * 300);
    const summary = await fx.job({ store: fx.reopenStore() }).drain();
    expect(read + summary.read).toBe(events.length);
    await fx.expectTotalsAndWindows(summary, events.length, truth);
  });

  it("with its state written rarely, replays from the last state after crashes and stores every row exactly once", async (ctx) => {
    const generated = { seed: 5, count: 6_000, duplicateShare: 0.03, lagShare: 0.08 };
    const { fx, events, truth } = await producedWithTruth(ctx, generated);

    // An hour between state checkpoints: only a partition's first checkpoint carries state, every later
    // batch moves offsets only, so each crash replays from the start of the log.
    let read = 0;
    for (const crashAt of [4, 9, 3]) {
      const crashing = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === crashAt);
      const crashed = fx.job({ store: crashing, maxBatchRecords: 250, checkpointIntervalMs: 3_600_000 });
      await expect(crashed.drain()).rejects.toThrow(/injected crash/);
      read += crashed.recordsRead;
    }
    const last = fx.job({ store: fx.reopenStore(), maxBatchRecords: 250, checkpointIntervalMs: 3_600_000 });
    const summary = await last.drain();
    read += summary.read;
    // The replays re-read offsets the crashed runs had committed.
    expect(summary.read).toBeGreaterThan(250 * 2);
    expect(read).toBeGreaterThan(events.length);
    await fx.expectTotalsAndWindows(summary, events.length, truth);
    const late = await fx.store.lateEvents(100_000);
    expect(late).toHaveLength(truth.late);
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(events.length - truth.duplicates);
    expect(new Set(raw.map((r) => `${r.partition}:${r.offset}`)).size).toBe(raw.length);
    // The drain's end wrote every partition's state where it stopped: a restart replays nothing.
    const again = await fx.job({ store: fx.reopenStore(), checkpointIntervalMs: 3_600_000 }).drain();
    expect(again.read).toBe(0);
  });

  it("after a commit whose answer was lost (it applied, then the connection dropped), reloads and ends exact", async (ctx) => {
    const generated = { seed: 8, count: 4_000, duplicateShare: 0.02, lagShare: 0.05 };
    const { fx, events, truth } = await producedWithTruth(ctx, generated);
    // The third commit reaches the store, then its answer is lost: the job's retry finds its own
    // checkpoints moved, takes that for a conflict, reloads every partition from the store and goes on.
    const lossy = new CommitFailingStore(fx.reopenStore(), (attempt) => attempt === 3, "after");
    const errors: unknown[] = [];
    const summary = await fx
      .job({
        store: lossy,
        maxBatchRecords: 300,
        onRetry: (error) => errors.push(error),
      })
      .drain();
    expect(errors.map((e) => (e as StoreError).code)).toEqual([
      StoreErrorCode.unavailable,
      StoreErrorCode.conflict,
    ]);
    expect(summary.drained).toBe(true);
    await fx.expectTotalsAndWindows(summary, events.length, truth);
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(events.length - truth.duplicates);
  });
});
