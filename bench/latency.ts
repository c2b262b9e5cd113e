// Benchmark: produce → visible window latency of the speed layer at 10k events/s (embedded log, registry, store).

import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { TOPICS, type UserActivity } from "../src/contracts/types.ts";
import { activityProducer } from "../src/ingest/producer.ts";
import { simulateActivity } from "../src/ingest/simulator.ts";
import { EmbeddedLog } from "../src/log/embedded/index.ts";
import { SchemaRegistry } from "../src/registry/embedded/registry.ts";
import { AvroSerde } from "../src/serde/index.ts";
import { EmbeddedLiveStore } from "../src/store/embedded/index.ts";
import { StreamJob } from "../src/stream/job/index.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";
import { PROJECT_ROOT } from "../src/paths.ts";

const RATE_PER_SEC = 10_000;
const TICK_MS = 5;
const WARMUP_MS = 3_000;
/** Measured span; PULSE_BENCH_LATENCY_SECONDS overrides it (the job's state grows for about 80 s, see README). */
const MEASURE_MS = Number(process.env.PULSE_BENCH_LATENCY_SECONDS ?? 20) * 1000;
const PARTITIONS = 6;
/** After the last produce, how long to wait for the job to commit the tail before giving up on it. */
const SETTLE_MS = 10_000;
const JOB = "pulse-stream";
const CHILD_FLAG = "--latency-job-child";

/*
 * Why the job runs in a child process by default: the embedded log and store are synchronous SQLite,
 * so in one process every job batch blocks the producer's timer, and the producer's appends block the
 * job. Production runs `pulse produce`/the collector and `pulse stream` as separate processes on one
 * data dir (the embedded log is built for that), so the child is the realistic case; the in-process
 * row shows what `pulse up` (everything in one event loop) pays on top.
 *
 * Clocks: both processes stamp with process.hrtime (CLOCK_MONOTONIC on Linux), which is one clock for
 * the whole machine, so a commit time from the child and an ack time from the parent subtract exactly.
 */
function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** One committed job batch: when store.commit returned, and each activity partition's new nextOffset. */
interface CommitMark {
  atMs: number;
  nextOffsets: Array<[partition: number, nextOffset: number]>;
  /** Bytes of checkpoint state the batch wrote (each holds its partition's whole aggregator snapshot). */
  checkpointBytes: number;
}

/** One batch's progress, as the job reports it (durations in ms). */
interface BatchMark {
  atMs: number;
  rows: number;
  batchMs: number;
  fetchMs: number;
  processMs: number;
  commitMs: number;
}

interface JobReport {
  commits: CommitMark[];
  batches: BatchMark[];
  cpuMs: number;
  wallMs: number;
}

type ChildMessage =
  | { type: "ready" }
  | { type: "report"; report: JobReport }
  | { type: "error"; message: string };

interface JobHost {
  stop(): Promise<JobReport>;
}

/**
 * Opens its own log, registry and store on `dir` and runs the job until stop(). Commits and progress are
 * kept in memory and handed over at the end, so reporting costs the job nothing while it is measured.
 */
async function startJob(dir: string, pollIntervalMs: number): Promise<JobHost> {
  // As pulse opens them (src/app/backends.ts): WAL checkpoints on a worker thread.
  const log = EmbeddedLog.open({ path: join(dir, "log.db"), backgroundCheckpoints: true });
  const registry = SchemaRegistry.open({ path: join(dir, "registry.db") });
  const store = EmbeddedLiveStore.open({ path: join(dir, "store.db"), backgroundCheckpoints: true });
  const commits: CommitMark[] = [];
  const batches: BatchMark[] = [];
  const job = new StreamJob({
    log,
    serde: new AvroSerde(registry),
    store,
    job: JOB,
    topics: [TOPICS.activity],
    pollIntervalMs,
    onCommitted: (batch) => {
      const atMs = monoMs();
      const nextOffsets: Array<[number, number]> = [];
      let checkpointBytes = 0;
      for (const c of batch.checkpoints) {
        if (c.topic === TOPICS.activity) nextOffsets.push([c.partition, c.nextOffset]);
        checkpointBytes += c.state?.byteLength ?? 0;
      }
      commits.push({ atMs, nextOffsets, checkpointBytes });
    },
    onProgress: (p) => {
      batches.push({
        atMs: monoMs(),
        rows: p.numInputRows,
        batchMs: p.batchDurationMs,
        fetchMs: p.durationMs.fetch,
        processMs: p.durationMs.process,
        commitMs: p.durationMs.commit,
      });
    },
  });
  await job.start();
  const controller = new AbortController();
  const cpu = process.cpuUsage();
  const startMs = monoMs();
  const running = job.run(controller.signal);
  return {
    async stop() {
      controller.abort();
      await running;
      const used = process.cpuUsage(cpu);
      const report = {
        commits,
        batches,
        cpuMs: (used.user + used.system) / 1000,
        wallMs: monoMs() - startMs,
      };
      await log.close();
      await store.close();
      registry.close();
      return report;
    },
  };
}

/** The job in a child process: the same startJob, driven over IPC. */
async function forkJob(dir: string, pollIntervalMs: number): Promise<JobHost> {
  const root = fileURLToPath(PROJECT_ROOT);
  const child: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    [CHILD_FLAG, dir, String(pollIntervalMs)],
    {
      cwd: root,
      execArgv: [
        // From a build (npm run bench) the child needs no TypeScript loader, as pulse does not.
        ...(import.meta.url.endsWith(".ts") ? ["--import", "tsx"] : []),
        ...(process.env.PULSE_BENCH_JOB_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""),
      ],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const next = (want: ChildMessage["type"]): Promise<ChildMessage> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.type === "error") reject(new Error(`latency bench job child failed: ${m.message}`));
        else if (m.type === want) resolve(m);
        else return;
        child.off("message", onMessage);
      };
      child.on("message", onMessage);
      void exited.then((code) => reject(new Error(`latency bench job child exited (code ${code})`)));
    });
  await next("ready");
  return {
    async stop() {
      const report = next("report");
      child.send("stop");
      const m = await report;
      await exited;
      if (m.type !== "report") throw new Error("latency bench job child sent no report");
      return m.report;
    },
  };
}

async function serveChild(dir: string, pollIntervalMs: number): Promise<void> {
  try {
    const host = await startJob(dir, pollIntervalMs);
    process.send!({ type: "ready" } satisfies ChildMessage);
    await new Promise<void>((resolve) => process.once("message", () => resolve()));
    const report = await host.stop();
    process.send!({ type: "report", report } satisfies ChildMessage, () => process.disconnect());
  } catch (error) {
    process.send!({ type: "error", message: String(error) } satisfies ChildMessage, () =>
      process.disconnect(),
    );
    process.exitCode = 1;
  }
}

/** Where each produced record sits, by partition and offset (offsets start at 0 on the fresh topic). */
interface Produced {
  /** Index of the event in the produce schedule (the i-th event is due at start + i / rate). */
  index: number[][];
  handedMs: number[][];
  ackMs: number[][];
}

interface RunOptions {
  label: string;
  inProcess: boolean;
  pollIntervalMs: number;
}

interface Stats {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function stats(values: number[]): Stats {
  const sorted = Float64Array.from(values).sort();
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

async function measure(options: RunOptions): Promise<BenchResult[]> {
  const loadStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-latency-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db"), backgroundCheckpoints: true });
  const registry = SchemaRegistry.open({ path: join(dir, "registry.db") });
  // Set while the job runs, so a failure on the producer side still stops it (and its child process).
  let host: JobHost | undefined;
  try {
    const producer = activityProducer({ log, serde: new AvroSerde(registry), source: "bench" });
    await producer.ensureTopics(PARTITIONS);
    await producer.ready();
    const total = (RATE_PER_SEC * (WARMUP_MS + MEASURE_MS)) / 1000;
    const warmupCount = (RATE_PER_SEC * WARMUP_MS) / 1000;
    // Clean events only: a duplicate, a late or a malformed event changes no window row. Drawn as they
    // are sent, so the producer's heap stays small and its GC pauses do not pose as job latency.
    const events = simulateActivity({
      seed: 7,
      count: total,
      ratePerSec: RATE_PER_SEC,
      dayNightAmplitude: 0,
      outOfOrderShare: 0,
      duplicateShare: 0,
      malformedShare: 0,
    });

    host = options.inProcess
      ? await startJob(dir, options.pollIntervalMs)
      : await forkJob(dir, options.pollIntervalMs);
    const produced: Produced = {
      index: Array.from({ length: PARTITIONS }, () => []),
      handedMs: Array.from({ length: PARTITIONS }, () => []),
      ackMs: Array.from({ length: PARTITIONS }, () => []),
    };
    const cpu = process.cpuUsage();
    const startMs = monoMs();
    let sent = 0;
    let calls = 0;
    let biggest = 0;
    let rejected = 0;
    // Paced by the wall clock: each tick sends what is due by now, so a late tick sends a bigger batch
    // and the rate holds on average.
    for (let tick = 1; sent < total; tick++) {
      const waitMs = startMs + tick * TICK_MS - monoMs();
      if (waitMs > 0) await sleep(waitMs);
      const due = Math.min(total, Math.floor(((monoMs() - startMs) * RATE_PER_SEC) / 1000));
      if (due <= sent) continue;
      // Event time is the wall clock at hand-off, so rows land in the current window, as live data would.
      const nowMs = Date.now();
      const batch: UserActivity[] = [];
      for (let i = sent; i < due; i++) {
        batch.push({ ...(events.next().value!.event as UserActivity), event_time: nowMs });
      }
      const handedMs = monoMs();
      const result = await producer.send(batch);
      const ackMs = monoMs();
      rejected += result.rejected.length;
      // Positions are the accepted records in input order; with clean input that is every record.
      for (let i = 0; i < result.positions.length; i++) {
        const { partition, offset } = result.positions[i]!;
        produced.index[partition]![offset] = sent + i;
        produced.handedMs[partition]![offset] = handedMs;
        produced.ackMs[partition]![offset] = ackMs;
      }
      calls++;
      if (batch.length > biggest) biggest = batch.length;
      sent = due;
    }
    const producedMs = monoMs() - startMs;
    const producerCpu = process.cpuUsage(cpu);

    // The job commits its group offsets to the log right after each store commit: caught up there means
    // every produced record's window row is in the store.
    const highs = produced.index.map((offsets) => offsets.length);
    const settleBy = monoMs() + SETTLE_MS;
    for (;;) {
      const committed = await log.committed(JOB, TOPICS.activity);
      if (highs.every((h, p) => (committed.get(p) ?? 0) >= h) || monoMs() > settleBy) break;
      await sleep(20);
    }
    const report = await host.stop();
    host = undefined;
    const loadEnd = loadavg()[0]!;

    const fromAck: number[] = [];
    const fromHandoff: number[] = [];
    const fromSchedule: number[] = [];
    const covered = new Array<number>(PARTITIONS).fill(0);
    for (const commit of report.commits) {
      for (const [p, next] of commit.nextOffsets) {
        for (let offset = covered[p]!; offset < next; offset++) {
          const index = produced.index[p]![offset]!;
          if (index < warmupCount) continue;
          fromAck.push(commit.atMs - produced.ackMs[p]![offset]!);
          fromHandoff.push(commit.atMs - produced.handedMs[p]![offset]!);
          fromSchedule.push(commit.atMs - (startMs + (index * 1000) / RATE_PER_SEC));
        }
        if (next > covered[p]!) covered[p] = next;
      }
    }
    const expected = total - warmupCount;
    const unseen = expected - fromAck.length;

    // The job's own view of the measured span: its batches while the producer ran after warm-up.
    const measuredBatches = report.batches.filter(
      (b) => b.atMs >= startMs + WARMUP_MS && b.atMs <= startMs + producedMs && b.rows > 0,
    );
    const measuredCommits = report.commits.filter(
      (c) => c.atMs >= startMs + WARMUP_MS && c.atMs <= startMs + producedMs,
    );
    const checkpointMb = mean(measuredCommits.map((c) => c.checkpointBytes)) / 1e6;
    const stateCommits = measuredCommits.filter((c) => c.checkpointBytes > 0);
    const slow = measuredBatches.filter((b) => b.batchMs > 50).sort((a, b) => b.batchMs - a.batchMs);
    const slowest = slow
      .slice(0, 3)
      .map(
        (b) =>
          `${round1(b.batchMs)} (fetch ${round1(b.fetchMs)}, process ${round1(b.processMs)}, commit ${round1(b.commitMs)})`,
      )
      .join(", ");
    const gaps: number[] = [];
    for (let i = 1; i < measuredBatches.length; i++) {
      gaps.push(measuredBatches[i]!.atMs - measuredBatches[i - 1]!.atMs - measuredBatches[i]!.batchMs);
    }
    const ack = stats(fromAck);
    const handoff = stats(fromHandoff);
    const schedule = stats(fromSchedule);
    const batchMs = stats(measuredBatches.map((b) => b.batchMs));
    const rate = Math.round(sent / (producedMs / 1000));
    const load = `load ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}`;
    const where = options.inProcess ? "job in the producer's process" : "job in a child process";
    const producerCpuMs = (producerCpu.user + producerCpu.system) / 1000;
    const cpuLoad = options.inProcess
      ? `producer and job together ${Math.round((producerCpuMs / producedMs) * 100)}% of a core`
      : `producer ${Math.round((producerCpuMs / producedMs) * 100)}% of a core, job ${Math.round((report.cpuMs / report.wallMs) * 100)}%`;
    const base = `latency.${options.label}`;
    const measured = `${fromAck.length} events measured${unseen > 0 ? `, ${unseen} NOT committed within ${SETTLE_MS / 1000} s` : ""}`;
    return [
      {
        name: `${base}.p50`,
        value: round1(ack.p50),
        unit: "ms",
        detail: `produce ack → store.commit returned, ${where}, poll ${options.pollIntervalMs} ms; ${measured}`,
      },
      { name: `${base}.p90`, value: round1(ack.p90), unit: "ms" },
      {
        name: `${base}.p99`,
        value: round1(ack.p99),
        unit: "ms",
        detail: `goal ≤ 50 ms; from hand-off to produce p99 ${round1(handoff.p99)}, from the schedule p99 ${round1(schedule.p99)} ms`,
      },
      { name: `${base}.max`, value: round1(ack.max), unit: "ms", detail: load },
      {
        name: `${base}.input_rate`,
        value: rate,
        unit: "events/s",
        detail: `${sent} events in ${calls} produce calls (largest ${biggest}${rejected > 0 ? `, ${rejected} rejected` : ""}), ${(producedMs / 1000).toFixed(1)} s; ${cpuLoad}`,
      },
      {
        name: `${base}.job_batch`,
        value: round1(mean(measuredBatches.map((b) => b.batchMs))),
        unit: "ms",
        detail:
          `mean of ${measuredBatches.length} batches (p99 ${round1(batchMs.p99)}), ` +
          `${Math.round(mean(measuredBatches.map((b) => b.rows)))} records each; ` +
          `fetch ${round1(mean(measuredBatches.map((b) => b.fetchMs)))}, process ${round1(mean(measuredBatches.map((b) => b.processMs)))}, ` +
          `commit ${round1(mean(measuredBatches.map((b) => b.commitMs)))} ms; ` +
          `between batches ${round1(mean(gaps))} ms; checkpoints ${checkpointMb.toFixed(1)} MB a commit`,
      },
      {
        name: `${base}.slow_batches`,
        value: slow.length,
        unit: "batches",
        detail:
          `over 50 ms${slowest === "" ? "" : `, slowest ${slowest} ms`}; ` +
          `${stateCommits.length} commits wrote the state (mean ${(mean(stateCommits.map((c) => c.checkpointBytes)) / 1e6).toFixed(1)} MB)`,
      },
    ];
  } finally {
    await host?.stop().catch(() => undefined);
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  results.push(...(await measure({ label: "poll5ms", inProcess: false, pollIntervalMs: 5 })));
  results.push(...(await measure({ label: "poll20ms", inProcess: false, pollIntervalMs: 20 })));
  results.push(...(await measure({ label: "in_process.poll5ms", inProcess: true, pollIntervalMs: 5 })));
  return results;
}

const childAt = process.argv.indexOf(CHILD_FLAG);
if (childAt >= 0) {
  await serveChild(process.argv[childAt + 1]!, Number(process.argv[childAt + 2]));
} else if (isMain(import.meta.url)) {
  printResults(await run());
}
