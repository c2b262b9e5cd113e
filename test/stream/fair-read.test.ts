// A backlog on one topic does not hold back the other: every batch reads both topics while both have records waiting.

import { describe, expect, it } from "vitest";
import { recentChangeProducer } from "../../src/ingest/producer.ts";
import type { StreamProgress } from "../../src/stream/job/index.ts";
import { WIKIMEDIA_SERIES } from "../../src/store/index.ts";
import { ACTIVITY, generate, setup, T0, WIKI } from "../helpers/stream-job.ts";

const WIKI_CHANGES = 600;

function changes(): unknown[] {
  return Array.from({ length: WIKI_CHANGES }, (_, i) => ({
    meta: {
      id: `id-${i}`,
      dt: new Date(T0 + i * 2_000).toISOString(),
      domain: "x",
      stream: "mediawiki.recentchange",
    },
    type: "edit",
    title: `Page ${i % 7}`,
    user: `editor${i % 5}`,
    bot: false,
    length: { old: 10, new: 12 },
    server_name: "en.wikipedia.org",
    wiki: "enwiki",
  }));
}

describe("StreamJob reading two topics", () => {
  it("shares each batch's budget: the quiet topic is read through in the first two batches under a backlog on the busy one", async (ctx) => {
    const fx = await setup(ctx);
    await fx.produceActivity(generate({ seed: 31, count: 12_000 }));
    const sent = await recentChangeProducer({ log: fx.log, serde: fx.serde }).send(changes());
    expect(sent.rejected).toEqual([]);

    const progress: StreamProgress[] = [];
    const summary = await fx
      .job({ topics: [ACTIVITY, WIKI], maxBatchRecords: 1_000, onProgress: (p) => progress.push(p) })
      .drain();
    expect(summary.totals.input).toBe(12_000 + WIKI_CHANGES);

    const reading = progress.filter((p) => p.numInputRows > 0);
    const lags = reading.map((p) => [ACTIVITY, WIKI].map((t) => p.sources.find((s) => s.topic === t)?.lag));
    // Batch 1 gives each topic half the budget (500 each); batch 2 starts with the quiet topic, which takes
    // its last 100, and the busy one takes the 900 left. Read in topic order, the quiet topic would wait
    // 12 batches behind the backlog.
    expect(lags.slice(0, 3)).toEqual([
      [11_500, 100],
      [10_600, 0],
      [9_600, 0],
    ]);
    const wikiWatermark = reading[1]!.sources.find((s) => s.topic === WIKI)!.watermarkMs;
    expect(wikiWatermark).not.toBeNull();
    // Its watermark moved on in batch 2, with 10,600 records still waiting on the busy topic; every change counted.
    const wikiWindows = await fx.store.windows(WIKIMEDIA_SERIES, { windowMs: 60_000, last: 1_000 });
    expect(wikiWindows.reduce((n, w) => n + w.edits, 0)).toBe(WIKI_CHANGES);
  });
});
