// pulse up's retention round over a real stream job's store and a DuckDB warehouse: raw-lake batches go only as far as the load state, read or remembered.

import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type RetentionRound, runRetentionRound } from "../../src/app/retention.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { RawLake } from "../../src/lake/index.ts";
import { loadRaw } from "../../src/load/index.ts";
import { open as openWarehouse } from "../../src/warehouse/open.ts";
import { producedWithTruth } from "../helpers/stream-job.ts";

const HOUR = 3_600_000;

describe("runRetentionRound", () => {
  it("deletes what the warehouse has loaded, keeps the rest, and uses the last load state it read while the warehouse is busy", async (ctx) => {
    const { fx, truth } = await producedWithTruth(ctx, { seed: 11, count: 3000 });
    await fx.job({ maxBatchRecords: 250 }).drain();
    const config = loadConfig({
      cwd: fx.dir,
      env: {},
      overrides: { data_dir: fx.dir, "retention.store_hours": 1, "topics.retention_hours": 0 },
    });
    const rows = await fx.store.lake.scanAfter("user-activity", new Map(), 100_000);
    const newest = Math.max(...rows.map((r) => r.event_time));
    // A watermark an hour and more past every event: every batch is past retention.
    const watermarkMs = newest + HOUR + 1;
    const round = (busy: boolean, lastLoaded = {}): Promise<RetentionRound> =>
      runRetentionRound(config, {
        log: fx.log,
        store: fx.store,
        watermarkMs,
        warehouseBusy: () => busy,
        lastLoaded,
      });

    // Nothing loaded yet: every partition is held, nothing of the lake goes.
    const none = await round(false);
    expect(none.store).toMatchObject({ rawBatches: 0, rawEvents: 0, rawPartitionsHeld: 3 });

    // Load the first 1000 rows of the lake (two pages of partition 0's), then retention deletes whole
    // loaded batches only.
    const warehouse = await openWarehouse(config.warehouse, { dataDir: fx.dir });
    const real = fx.store.lake;
    let pages = 0;
    const twoPages: RawLake = {
      scanOffsets: (topic, partition, range, limit) => real.scanOffsets(topic, partition, range, limit),
      scanEventTime: (topic, range, limit, after) => real.scanEventTime(topic, range, limit, after),
      lastOffsets: (topic) => real.lastOffsets(topic),
      scanAfter: (topic, after, limit) =>
        ++pages > 2 ? Promise.resolve([]) : real.scanAfter(topic, after, limit),
    };
    const partial = await loadRaw({ lake: twoPages, serde: fx.serde, warehouse, pageRows: 500 });
    await warehouse.close();
    const loadedTo = new Map(partial.topics[0]!.partitions.map((s) => [s.partition, s.lastOffset]));
    // Batches whose last offset is within the loaded offsets go; the partitions' next batches are held.
    const batches = await batchesOf(join(fx.dir, "store.db"), fx.store.lake, loadedTo);
    expect(batches.deleted).toBeGreaterThan(0);
    expect(batches.heldPartitions).toBeGreaterThan(0);
    const memory: { offsets?: Map<string, Map<number, number>> } = {};
    const first = await round(false, memory);
    expect(first.store).toMatchObject({
      rawBatches: batches.deleted,
      rawEvents: batches.deletedEvents,
      rawPartitionsHeld: batches.heldPartitions,
    });
    expect(memory.offsets?.get("user-activity")).toEqual(loadedTo);
    const left = await fx.store.lake.scanAfter("user-activity", new Map(), 100_000);
    expect(left.length).toBe(truth.lake.size - batches.deletedEvents);

    // Busy: no read of the warehouse; the remembered state deletes nothing more, and nothing is lost.
    const busy = await round(true, memory);
    expect(busy.lakeSkipped).toBeUndefined();
    expect(busy.store).toMatchObject({ rawBatches: 0, rawPartitionsHeld: batches.heldPartitions });
    // Busy with nothing remembered: the lake is left alone and the round says why.
    const blind = await round(true);
    expect(blind.lakeSkipped).toBe("a batch task holds the warehouse");
    expect(blind.store).toMatchObject({ rawBatches: 0, rawPartitionsHeld: 0 });
  });
});

/**
 * What retention may delete given the loaded offsets, from the store file's batch rows: each
 * partition's batches in offset order, up to the first that ends past its loaded offset (held).
 */
async function batchesOf(
  path: string,
  lake: RawLake,
  loadedTo: Map<number, number>,
): Promise<{ deleted: number; deletedEvents: number; heldPartitions: number }> {
  const db = new Database(path, { readonly: true });
  const batches = db
    .prepare<[], { partition: number; first: number; last: number }>(
      `SELECT (b.id >> 41) & 1023 AS partition, b.id & 0x1FFFFFFFFFF AS first, b.last_offset AS last
         FROM raw_batches b JOIN raw_topics t ON (b.id >> 51) = t.topic_id
        WHERE t.name = 'user-activity' ORDER BY b.id`,
    )
    .all();
  db.close();
  let deleted = 0;
  let deletedEvents = 0;
  const held = new Set<number>();
  for (const batch of batches) {
    if (held.has(batch.partition)) continue;
    if (batch.last > (loadedTo.get(batch.partition) ?? -1)) {
      held.add(batch.partition);
      continue;
    }
    deleted++;
    const range = { fromOffset: batch.first, toOffset: batch.last + 1 };
    deletedEvents += (await lake.scanOffsets("user-activity", batch.partition, range, 100_000)).length;
  }
  return { deleted, deletedEvents, heldPartitions: held.size };
}
