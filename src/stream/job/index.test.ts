// StreamJob on the real embedded log, registry and store: whole drains of either topic, batch sizes, a running job.

import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CommitFailingStore } from "../../../test/helpers/failing-store.ts";
import {
  ACTIVITY,
  generate,
  PARTITIONS,
  producedWithTruth,
  setup,
  sortedEntries,
  T0,
  WIKI,
  waitFor,
} from "../../../test/helpers/stream-job.ts";
import { userActivityV2Type } from "../../contracts/schemas.ts";
import type { UserActivityV2, WikimediaRecentChange } from "../../contracts/types.ts";
import { StreamError, StreamErrorCode } from "../../errors.ts";
import { recentChangeProducer } from "../../ingest/producer.ts";
import { decodeRawBatch } from "../../lake/batch.ts";
import { decodeRawEvent } from "../../lake/decode.ts";
import { type LiveStore, type StoreBatch, WIKIMEDIA_SERIES, type WikiWindow } from "../../store/index.ts";
import { DEFAULT_JOB_NAME, type StreamJobOptions, type StreamProgress } from "./index.ts";

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

  it("makes the batch that reads the last records the end-of-input flush: one commit a batch, none after", async (ctx) => {
    const { fx, events, truth } = await producedWithTruth(ctx, { seed: 3, count: 6_000 });
    const commits: number[] = [];
    const summary = await fx
      .job({
        maxBatchRecords: 1_000,
        rawLake: true,
        onCommitted: (b) => commits.push(lakeRowsOf(b)),
      })
      .drain();
    expect(summary).toMatchObject({ read: events.length, drained: true });
    // Six batches of 1,000 records, the last one final; no seventh commit for the flush alone.
    expect(commits).toHaveLength(6);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(truth.accepted + truth.late);
    expect(commits.at(-1)).toBeGreaterThan(0);
    await fx.expectWindowsAndDays(truth);
    expect(summary.windowsFinal).toBe(new Set([...truth.windows.keys()].map((k) => k.split("|")[0])).size);
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
            most = Math.max(most, lakeRowsOf(b));
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
    // The reference: every change counts and moves bytes; edits and page creations are edits, by their users.
    type Cell = Omit<WikiWindow, "window_start" | "window_end" | "wiki" | "final" | "unique_editors">;
    const expected = new Map<string, Cell & { editors: Set<string> }>();
    const pagesByWindow = new Map<number, Map<string, number>>();
    for (const c of changes as Array<WikimediaRecentChange & { meta: { dt: string } }>) {
      const start = Math.floor(Date.parse(c.meta.dt) / 60_000) * 60_000;
      const key = `${start}|${c.wiki}`;
      const cell = expected.get(key) ?? {
        changes: 0,
        edits: 0,
        bot_edits: 0,
        human_edits: 0,
        new_pages: 0,
        byte_delta: 0,
        editors: new Set<string>(),
      };
      cell.changes++;
      cell.byte_delta += c.length!.new! - c.length!.old!;
      if (c.type === "edit" || c.type === "new") {
        cell.edits++;
        if (c.bot) cell.bot_edits++;
        else cell.human_edits++;
        if (c.type === "new") cell.new_pages++;
        cell.editors.add(c.user!);
        const pages = pagesByWindow.get(start) ?? new Map<string, number>();
        pages.set(`${c.wiki}|${c.title}`, (pages.get(`${c.wiki}|${c.title}`) ?? 0) + 1);
        pagesByWindow.set(start, pages);
      }
      expected.set(key, cell);
    }
    expect(windows.every((w) => w.final)).toBe(true);
    expect(
      new Map(
        windows.map((w) => {
          const { window_start, window_end, wiki, final, ...cell } = w;
          expect(window_end - window_start).toBe(60_000);
          return [`${window_start}|${wiki}`, cell];
        }),
      ),
    ).toEqual(
      new Map(
        [...expected].map(([key, { editors, ...cell }]) => [key, { ...cell, unique_editors: editors.size }]),
      ),
    );
    // The changes span two minutes; the latest one's pages by edits, ties by wiki then title.
    const latest = Math.max(...pagesByWindow.keys());
    expect(latest).toBe(T0 + 60_000);
    const ranked = [...pagesByWindow.get(latest)!]
      .map(([page, edits]) => {
        const [wiki, title] = page.split("|") as [string, string];
        return { wiki, title, edits };
      })
      .sort((a, b) => b.edits - a.edits || a.wiki.localeCompare(b.wiki) || a.title.localeCompare(b.title));
    // By hand, minute 1 is i = 20..39 less the log changes 21, 28, 35: enwiki (even i) has Page 2 on 20, 26,
    // 32, 38, Page 0 on 24, 30, 36; dewiki (odd i) has Page 0 on 27, 33, 39 and Page 1 on 25, 31, 37.
    expect(ranked.slice(0, 3)).toEqual([
      { wiki: "enwiki", title: "Page 2", edits: 4 },
      { wiki: "dewiki", title: "Page 0", edits: 3 },
      { wiki: "dewiki", title: "Page 1", edits: 3 },
    ]);
    const top = await fx.store.topPages(60_000, 3);
    expect(top).toEqual({ window_start: latest, window_end: latest + 60_000, pages: ranked.slice(0, 3) });
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
    const runStartedMs = performance.now();
    const running = streamJob.run(controller.signal);
    await waitFor(() => streamJob.recordsRead === 1_000);
    await fx.produceActivity(events.slice(1_000));
    await waitFor(() => streamJob.recordsRead === 2_000);
    controller.abort();
    const summary = await running;
    const runMs = performance.now() - runStartedMs;

    expect(summary).toMatchObject({ read: 2_000, drained: false });
    expect(progress.length).toBeGreaterThanOrEqual(8);
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({ job: DEFAULT_JOB_NAME, totals: { input: 2_000 } });
    expect(last.sources[0]!.lag).toBe(0);
    expect(last.sources[0]!.partitions).toHaveLength(PARTITIONS);
    expect(last.eventTime.watermarkMs).toBeGreaterThan(T0);
    expect(last.stateRows).toBeGreaterThan(0);
    // Processing time is not computable, but its parts are: a batch's duration is its stages' sum, the
    // batches run one after another within the run, and its rate is its records over its duration.
    for (const p of progress) {
      const { fetch, process, deadLetter, commit } = p.durationMs;
      for (const stage of [fetch, process, deadLetter, commit]) expect(stage).toBeGreaterThanOrEqual(0);
      expect(p.batchDurationMs).toBeCloseTo(fetch + process + deadLetter + commit, 6);
      expect(p.processedRowsPerSecond).toBeCloseTo(
        p.numInputRows / Math.max(0.001, p.batchDurationMs / 1000),
        6,
      );
    }
    expect(progress.reduce((ms, p) => ms + p.batchDurationMs, 0)).toBeLessThanOrEqual(runMs);
    expect(progress.reduce((n, p) => n + p.numInputRows, 0)).toBe(2_000);
    expect(progress.map((p) => p.batchId)).toEqual(progress.map((_, i) => i));
    expect(streamJob.progress()).toBe(last);
    // Not drained: the last windows are still open, but everything read is checkpointed.
    const checkpoints = await fx.store.checkpoints(DEFAULT_JOB_NAME, ACTIVITY);
    expect(checkpoints.reduce((a, c) => a + c.nextOffset, 0)).toBe(2_000);
  });
});

/** The raw-lake rows a committed batch carried. */
function lakeRowsOf(batch: StoreBatch): number {
  let rows = 0;
  for (const run of batch.rawRuns ?? [])
    rows += decodeRawBatch(Buffer.from(run.bytes), run.topic, run.partition).length;
  return rows;
}
