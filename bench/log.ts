// Benchmarks the embedded log: append and read rates for synchronous FULL and NORMAL on a temp file.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog } from "../src/log/embedded/index.ts";
import type { ProduceRecord } from "../src/log/index.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const PARTITIONS = 6;
const BATCH_SIZE = 1_000;
const VALUE_BYTES = 200;
const TARGET_RECORDS = 1_000_000;
const MAX_APPEND_MS = 5_000;
const PAGE_SIZE = 1_000;

/** Distinct pre-built batches, reused round-robin so the bench measures the log, not record building. */
function buildBatches(count: number): ProduceRecord[][] {
  return Array.from({ length: count }, (_, b) =>
    Array.from({ length: BATCH_SIZE }, (_, i) => ({
      key: Buffer.from(`user-${(b * BATCH_SIZE + i) % 50_000}`),
      value: randomBytes(VALUE_BYTES),
    })),
  );
}

async function benchMode(synchronous: "FULL" | "NORMAL", batches: ProduceRecord[][]): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-log-"));
  const path = join(dir, "log.db");
  const log = EmbeddedLog.open({ path, synchronous });
  try {
    await log.ensureTopic({ name: "bench", partitions: PARTITIONS });
    let appended = 0;
    const appendCpu = process.cpuUsage();
    const appendStart = performance.now();
    while (appended < TARGET_RECORDS && performance.now() - appendStart < MAX_APPEND_MS) {
      await log.produce("bench", batches[(appended / BATCH_SIZE) % batches.length]);
      appended += BATCH_SIZE;
    }
    const appendSeconds = (performance.now() - appendStart) / 1000;
    const appendCpuSeconds = cpuSeconds(appendCpu);

    let read = 0;
    const readCpu = process.cpuUsage();
    const readStart = performance.now();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      let offset = 0;
      for (;;) {
        const page = await log.fetch("bench", partition, offset, { maxRecords: PAGE_SIZE });
        if (page.length === 0) break;
        read += page.length;
        offset = page[page.length - 1].offset + 1;
      }
    }
    const readSeconds = (performance.now() - readStart) / 1000;
    const readCpuSeconds = cpuSeconds(readCpu);
    if (read !== appended) throw new Error(`bench read ${read} records but appended ${appended}`);
    const fileMb = (statSync(path).size + walSize(path) + folderBytes(`${path}-segments`)) / 1e6;
    const mode = synchronous.toLowerCase();
    return [
      {
        name: `log.embedded.append.${mode}`,
        value: Math.round(appended / appendSeconds),
        unit: "records/s",
        detail: `${appended} keyed records of ${VALUE_BYTES} B in ${BATCH_SIZE}-record batches, ${PARTITIONS} partitions, ${appendSeconds.toFixed(2)} s, synchronous=${synchronous}, ${fileMb.toFixed(0)} MB on disk (log file, WAL and segment files), ${Math.round(appended / appendCpuSeconds)} records per CPU-second`,
      },
      {
        name: `log.embedded.read.${mode}`,
        value: Math.round(read / readSeconds),
        unit: "records/s",
        detail: `${read} records fetched in ${PAGE_SIZE}-record pages over ${PARTITIONS} partitions, ${readSeconds.toFixed(2)} s, ${Math.round(read / readCpuSeconds)} records per CPU-second`,
      },
    ];
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** This process's CPU time since `since`: on a shared machine, wall-clock rates understate the log. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Bytes of the log's segment files: one folder a partition below `dir` (0 when there is none). */
function folderBytes(dir: string): number {
  let bytes = 0;
  try {
    for (const partition of readdirSync(dir)) {
      for (const file of readdirSync(join(dir, partition)))
        bytes += statSync(join(dir, partition, file)).size;
    }
  } catch {
    return 0;
  }
  return bytes;
}

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

export async function run(): Promise<BenchResult[]> {
  const batches = buildBatches(20);
  const results: BenchResult[] = [];
  for (const mode of ["NORMAL", "FULL"] as const) results.push(...(await benchMode(mode, batches)));
  return results;
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
