// StreamJob on the real embedded log, registry and store: whole drains of either topic, batch sizes, a running job.

import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { userActivityV2Type } from "../../contracts/schemas.ts";
import type { UserActivityV2, WikimediaRecentChange } from "../../contracts/types.ts";
import { StreamError, StreamErrorCode } from "../../errors.ts";
import { recentChangeProducer } from "../../ingest/producer.ts";
import { type LiveStore, WIKIMEDIA_SERIES } from "../../store/index.ts";
import { decodeRawBatch } from "../../lake/batch.ts";
import {
  ACTIVITY,
  generate,
  PARTITIONS,
  producedWithTruth,
  setup,
  sortedEntries,
  T0,
  waitFor,
  WIKI,
} from "../../../test/helpers/stream-job.ts";
import { CommitFailingStore } from "../../../test/helpers/failing-store.ts";
import { DEFAULT_JOB_NAME, type StreamJobOptions, type StreamProgress } from "./index.ts";
import { decodeRawEvent } from "../../lake/decode.ts";

describe("StreamJob.drain", () => {
  it("turns a bounded topic into final windows and day totals equal to a naive computation", async (ctx) => {
    const generated = { seed: 1, count: 6_000, duplicateShare: 0.03, lagShare: 0.05 };
    const { fx, events, truth } = await producedWithTruth(ctx, generated);
    expect(truth.late).toBeGreaterThan(10);
    expect(truth.duplicates).toBeGreaterThan(10);

    const summary = await fx.job({ maxBatchRecords: 700 }).drain();

    await fx.expectWindowsAndDays(truth);
    expect(summary).toMatchObject({
      read: events.length,
      drained: true,
      totals: {
        input: events.length,
        accepted: truth.accepted,
        late: truth.late,
        duplicates: truth.duplicates,
        deadLettered: 0,
        partiallyLate: 0,
      },
    });
    expect(summary.windowsFinal).toBe(new Set([...truth.windows.keys()].map((k) => k.split("|")[0])).size);
    expect(summary.watermarkMs).not.toBeNull();

    const late = await fx.store.lateEvents(100_000);
    expect(late).toHaveLength(truth.late);
    for (const row of late) {
      expect(row.topic).toBe(ACTIVITY);
      expect(Math.floor(row.event_time / 60_000) * 60_000 + 60_000).toBeLessThanOrEqual(row.watermark);
      const payload = JSON.parse(row.payload) as UserActivityV2;
      expect(payload.event_time).toBe(row.event_time);
      expect(payload.event_id).toBe(truth.lake.get(`${row.partition}:${row.offset}`));
    }
    // The raw lake holds every valid event once: on time and late, not the dropped duplicates. Each
    // row's value decodes (through the registry) to the event at its position, with its event time.
    const raw = await fx.store.lake.scanAfter(ACTIVITY, new Map(), 1_000_000);
    expect(raw).toHaveLength(truth.accepted + truth.late);
    const lake = new Map<string, string>();
    for (const row of raw) {
      const event = await decodeRawEvent<UserActivityV2>(fx.serde, row, userActivityV2Type);
      expect(event.event_time).toBe(row.event_time);
      lake.set(`${row.partition}:${row.offset}`, event.event_id);
    }
    expect(sortedEntries(lake)).toEqual(sortedEntries(truth.lake));

    // Checkpoints cover every record, and the group offsets (for lag) match them.
    const checkpoints = await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY);
    const info = await fx.log.describeTopic(ACTIVITY);
    expect(new Map(checkpoints.map((c) => [c.partition, c.nextOffset]))).toEqual(
      new Map(info.offsets.map((o) => [o.partition, o.highWatermark])),
    );
    const lag = await fx.log.lag(DEFAULT_JOB_NAME);
    expect(lag.find((g) => g.topic === ACTIVITY)?.totalLag).toBe(0);
  });

  it("reads larger batches while the store's commits take longer than the work, unless a size is set", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, { seed: 8, count: 40_000 });
    const largest = async (store: LiveStore, options: Partial<StreamJobOptions>): Promise<number> => {
      let most = 0;
      const summary = await fx
        .job({
          store,
          rawLake: true,
          onCommitted: (b) => {
            let rows = 0;
            for (const run of b.rawRuns ?? [])
              rows += decodeRawBatch(Buffer.from(run.bytes), run.topic, run.partition).length;
            most = Math.max(most, rows);
          },
          ...options,
        })
        .drain();
      expect(summary.totals.input).toBe(events.length);
      return most;
    };
    // A store whose commits take 150 ms: far longer than processing 5,000 records.
    const slow = new CommitFailingStore(fx.store, async () => {
      await sleep(150);
      return false;
    });
    expect(await largest(slow, { job: "slow" })).toBeGreaterThan(5_000);
    expect(await largest(slow, { job: "fixed", maxBatchRecords: 5_000 })).toBeLessThanOrEqual(5_000);
    await fx.expectWindowsAndDays(truth);
  });

  it("aggregates Wikimedia changes per wiki with top pages", async (ctx) => {
    const fx = await setup(ctx);
    const changes: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      changes.push({
        meta: {
          id: `id-${i}`,
          dt: new Date(T0 + i * 3_000).toISOString(),
          domain: "x",
          stream: "mediawiki.recentchange",
        },
        type: i % 10 === 0 ? "new" : i % 7 === 0 ? "log" : "edit",
        title: `Page ${i % 3}`,
        user: `editor${i % 4}`,
        bot: i % 5 === 0,
        length: { old: 10, new: 10 + i },
        server_name: i % 2 === 0 ? "en.wikipedia.org" : "de.wikipedia.org",
        wiki: i % 2 === 0 ? "enwiki" : "dewiki",
      });
    }
    const result = await recentChangeProducer({ log: fx.log, serde: fx.serde }).send(changes);
    expect(result.rejected).toEqual([]);

    const summary = await fx.job({ topics: [WIKI] }).drain();
    expect(summary.totals).toMatchObject({ input: 40, accepted: 40 });
    const windows = await fx.store.windows(WIKIMEDIA_SERIES, { windowMs: 60_000, last: 100 });
    const expected = new Map<string, { edits: number; bot: number; newPages: number }>();
    for (const c of changes as Array<WikimediaRecentChange & { meta: { dt: string } }>) {
      const key = `${Math.floor(Date.parse(c.meta.dt) / 60_000) * 60_000}|${c.wiki}`;
      const cell = expected.get(key) ?? { edits: 0, bot: 0, newPages: 0 };
      if (c.type === "edit" || c.type === "new") {
        cell.edits++;
        if (c.bot) cell.bot++;
        if (c.type === "new") cell.newPages++;
      }
      expected.set(key, cell);
    }
    expect(
      new Map(
        windows.map((w) => [
          `${w.window_start}|${w.wiki}`,
          { edits: w.edits, bot: w.bot_edits, newPages: w.new_pages },
        ]),
      ),
    ).toEqual(expected);
    const top = await fx.store.topPages(60_000, 3);
    expect(top.pages.length).toBeGreaterThan(0);
  });

  it("refuses a topic it has no aggregate for", async (ctx) => {
    const fx = await setup(ctx);
    const error = (() => {
      try {
        fx.job({ topics: ["orders"] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe(StreamErrorCode.badOption);
  });
});

describe("StreamJob.run", () => {
  it("processes records as they arrive, reports progress per batch, and commits the batch in flight on abort", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 6, count: 2_000 });
    await fx.produceActivity(events.slice(0, 1_000));
    const progress: StreamProgress[] = [];
    const controller = new AbortController();
    const streamJob = fx.job({
      pollIntervalMs: 5,
      maxBatchRecords: 250,
      onProgress: (p) => progress.push(p),
    });
    const running = streamJob.run(controller.signal);
    await waitFor(() => streamJob.recordsRead === 1_000);
    await fx.produceActivity(events.slice(1_000));
    await waitFor(() => streamJob.recordsRead === 2_000);
    controller.abort();
    const summary = await running;

    expect(summary).toMatchObject({ read: 2_000, drained: false });
    expect(progress.length).toBeGreaterThanOrEqual(8);
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({ job: DEFAULT_JOB_NAME, totals: { input: 2_000 } });
    expect(last.sources[0]!.lag).toBe(0);
    expect(last.sources[0]!.partitions).toHaveLength(PARTITIONS);
    expect(last.eventTime.watermarkMs).toBeGreaterThan(T0);
    expect(last.stateRows).toBeGreaterThan(0);
    expect(last.batchDurationMs).toBeGreaterThanOrEqual(0);
    expect(progress.map((p) => p.batchId)).toEqual(progress.map((_, i) => i));
    expect(streamJob.progress()).toBe(last);
    // Not drained: the last windows are still open, but everything read is checkpointed.
    const checkpoints = await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY);
    expect(checkpoints.reduce((a, c) => a + c.nextOffset, 0)).toBe(2_000);
  });
});
