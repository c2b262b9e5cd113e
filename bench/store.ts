// Benchmarks the embedded live store: commit rates for window upserts (new and updated rows) and raw-lake appends.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLiveStore } from "../src/store/embedded/index.ts";
import type { RawEventRow } from "../src/lake/index.ts";
import { ACTIVITY_SERIES, type ActivityWindowRow, type Checkpoint } from "../src/store/index.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const PARTITIONS = 6;
const BATCH_ROWS = 5_000;
const WINDOW_MS = 60_000;
const EVENT_TYPES = ["VIEW", "CLICK", "SEARCH", "ADD_TO_CART", "PURCHASE", "LOGIN", "LOGOUT", "SHARE"];
const VALUE_BYTES = 250;
const MAX_PHASE_MS = 4_000;
const MAX_BATCHES = 400;
/** A 64 KiB operator snapshot per partition, about what the stream job's state is at modest rates. */
const STATE_BYTES = 64 * 1024;
const T0 = Date.UTC(2026, 10, 28);

interface Phase {
  rows: number;
  seconds: number;
  cpuSeconds: number;
}

/** Runs commit(batch(i)) for i = 0, 1, … until MAX_PHASE_MS or MAX_BATCHES, and counts rows. */
async function measure(
  store: EmbeddedLiveStore,
  rowsPerBatch: number,
  batch: (i: number) => Parameters<EmbeddedLiveStore["commit"]>[0],
): Promise<Phase> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let rows = 0;
  for (let i = 0; i < MAX_BATCHES && performance.now() - start < MAX_PHASE_MS; i++) {
    await store.commit(batch(i));
    rows += rowsPerBatch;
  }
  const used = process.cpuUsage(cpu);
  return { rows, seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

function checkpoints(i: number, state: Uint8Array): Checkpoint[] {
  return Array.from({ length: PARTITIONS }, (_, partition) => ({
    job: "bench",
    topic: "user-activity",
    partition,
    nextOffset: (i + 1) * BATCH_ROWS,
    state,
    updatedAt: Date.now(),
  }));
}

/**
 * Window batches: 5,000 rows = 6 partitions × 8 event types × ~104 one-minute windows. Batch i covers
 * windows [i·104, i·104 + 104) for "new", and the same 104 windows every time for "update", which is
 * what a job re-emitting open windows does.
 */
function windowBatch(i: number, moving: boolean): ActivityWindowRow[] {
  const perWindow = PARTITIONS * EVENT_TYPES.length;
  const windows = Math.ceil(BATCH_ROWS / perWindow);
  const rows: ActivityWindowRow[] = [];
  for (let n = 0; n < BATCH_ROWS; n++) {
    const w = Math.floor(n / perWindow) + (moving ? i * windows : 0);
    rows.push({
      partition: n % PARTITIONS,
      window_start: T0 + w * WINDOW_MS,
      window_end: T0 + (w + 1) * WINDOW_MS,
      event_type: EVENT_TYPES[Math.floor(n / PARTITIONS) % EVENT_TYPES.length],
      event_count: 100 + i,
      unique_users: 50 + i,
      sessions: 40,
      revenue_cents: 12_345 + i,
      final: false,
    });
  }
  return rows;
}

function rawBatch(i: number, value: Uint8Array): RawEventRow[] {
  const rows: RawEventRow[] = [];
  for (let n = 0; n < BATCH_ROWS; n++) {
    const partition = n % PARTITIONS;
    rows.push({
      topic: "user-activity",
      partition,
      offset: i * Math.ceil(BATCH_ROWS / PARTITIONS) + Math.floor(n / PARTITIONS),
      event_time: T0 + i * BATCH_ROWS + n,
      ingested_at: T0 + i * BATCH_ROWS + n + 3,
      value,
    });
  }
  return rows;
}

function rate(phase: Phase): number {
  return Math.round(phase.rows / phase.seconds);
}

async function benchMode(synchronous: "FULL" | "NORMAL"): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-store-"));
  const path = join(dir, "live.db");
  const store = EmbeddedLiveStore.open({ path, synchronous });
  const state = new Uint8Array(STATE_BYTES).map((_, i) => i & 0xff);
  // Rows are built before timing, so the bench measures the store, not row building. New-window batches
  // reuse one array of rows moved forward past the previous batch's windows (5,000 cheap field writes).
  const moving = windowBatch(0, true);
  const shiftMs = Math.ceil(BATCH_ROWS / (PARTITIONS * EVENT_TYPES.length)) * WINDOW_MS;
  const fixed = Array.from({ length: 8 }, (_, i) => windowBatch(i, false));
  // A frame's worth of bytes: magic 0, a schema id, then a body.
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  value.writeUInt32BE(1, 1);
  value[0] = 0;
  try {
    const inserts = await measure(store, BATCH_ROWS, (i) => {
      if (i > 0) {
        for (const row of moving) {
          row.window_start += shiftMs;
          row.window_end += shiftMs;
        }
      }
      return { windows: { activity: moving }, checkpoints: checkpoints(i, state) };
    });
    const updates = await measure(store, BATCH_ROWS, (i) => ({
      windows: { activity: fixed[i % fixed.length] },
      checkpoints: checkpoints(i, state),
    }));
    const rawBatches = Array.from({ length: 20 }, (_, i) => rawBatch(i, value));
    const raw = await measure(store, BATCH_ROWS, (i) => ({
      rawEvents: i < rawBatches.length ? rawBatches[i] : rawBatch(i, value),
      checkpoints: checkpoints(i, state),
    }));
    const readStart = performance.now();
    let reads = 0;
    while (performance.now() - readStart < 1_000) {
      await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: 60 });
      reads++;
    }
    const readMs = (performance.now() - readStart) / reads;
    const fileMb = (statSync(path).size + walSize(path)) / 1e6;
    const mode = synchronous.toLowerCase();
    const common = `${BATCH_ROWS}-row batches + ${PARTITIONS} checkpoints of ${STATE_BYTES / 1024} KiB, synchronous=${synchronous}`;
    return [
      {
        name: `store.embedded.windows.insert.${mode}`,
        value: rate(inserts),
        unit: "rows/s",
        detail: `${inserts.rows} new activity window rows in ${common}, ${inserts.seconds.toFixed(2)} s, ${Math.round(inserts.rows / inserts.cpuSeconds)} rows per CPU-second`,
      },
      {
        name: `store.embedded.windows.update.${mode}`,
        value: rate(updates),
        unit: "rows/s",
        detail: `${updates.rows} upserts of existing activity window rows in ${common}, ${updates.seconds.toFixed(2)} s, ${Math.round(updates.rows / updates.cpuSeconds)} rows per CPU-second`,
      },
      {
        name: `store.embedded.raw.${mode}`,
        value: rate(raw),
        unit: "rows/s",
        detail: `${raw.rows} raw-lake rows of ${VALUE_BYTES} B in ${common}, ${raw.seconds.toFixed(2)} s, ${Math.round(raw.rows / raw.cpuSeconds)} rows per CPU-second, file ${fileMb.toFixed(0)} MB`,
      },
      {
        name: `store.embedded.read.windows.${mode}`,
        value: Number(readMs.toFixed(2)),
        unit: "ms",
        detail: `windows(ACTIVITY_SERIES, { windowMs: 60000, last: 60 }) over ${inserts.rows + updates.rows} stored rows, merging ${PARTITIONS} partitions`,
      },
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const mode of ["NORMAL", "FULL"] as const) results.push(...(await benchMode(mode)));
  return results;
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
