// The soak run: pulse up at a fixed rate with short retention, sampled every few seconds (RSS, CPU, file sizes), written as CSV and an SVG chart, then checked for bounded files.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startPulseUp } from "../bench/pulse-up.ts";

/*
 * Settings (environment): SOAK_MINUTES (30), SOAK_RATE (5000 events/s), SOAK_SAMPLE_SEC (10),
 * SOAK_LOAD_EVERY_MIN (2: a DAG of the run's own loads and builds the warehouse this often),
 * SOAK_OUT (bench/soak: <out>.csv and <out>.svg; `--chart <out>.csv` draws the SVG of a run again), SOAK_KEEP (1 keeps the temp folder: data, config, the
 * soak DAG and pulse up's output, pulse-up.log).
 *
 * CPU is the pulse process's own and its task children's: utime + stime of the process and of every
 * live descendant, plus cutime + cstime (the children it has waited for), from /proc/<pid>/stat. RSS is
 * the sum of VmRSS over the process and its live descendants (the scheduler runs each task try as a child).
 */

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const rate = Number(process.env.SOAK_RATE ?? 5000);
const sampleSec = Number(process.env.SOAK_SAMPLE_SEC ?? 10);
const loadEveryMin = Number(process.env.SOAK_LOAD_EVERY_MIN ?? 2);
const out = resolve(process.env.SOAK_OUT ?? join(ROOT, "bench", "soak"));
const keep = process.env.SOAK_KEEP === "1";
/** Short retention: the log and the live store keep 3 minutes; the warehouse whole days (its finest grain). */
const LOG_RETENTION_HOURS = 0.05;
const STORE_RETENTION_HOURS = 0.05;
const WAREHOUSE_RETENTION_DAYS = 1;
const CLOCK_TICKS = 100;

interface Sample {
  minute: number;
  /** The pulse process and its task processes; the pulse process alone. */
  rssMb: number;
  rssMainMb: number;
  cpuPct: number;
  cpuSec: number;
  logMb: number;
  lakeMb: number;
  storeMb: number;
  warehouseMb: number;
  totalMb: number;
  events: number;
}

/** The folder's files by part, in MiB. */
function sizes(dir: string): Pick<Sample, "logMb" | "lakeMb" | "storeMb" | "warehouseMb" | "totalMb"> {
  const out = { logMb: 0, lakeMb: 0, storeMb: 0, warehouseMb: 0, totalMb: 0 };
  const walk = (path: string, top: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const name of entries) {
      const file = join(path, name);
      let stat: ReturnType<typeof statSync>;
      try {
        stat = statSync(file);
      } catch {
        continue; // removed meanwhile (retention, a WAL checkpoint)
      }
      const part = path === dir ? name : top;
      if (stat.isDirectory()) {
        walk(file, part);
        continue;
      }
      const mb = stat.size / 1_048_576;
      out.totalMb += mb;
      if (part.startsWith("log.db")) out.logMb += mb;
      else if (part.startsWith("store.db-raw")) out.lakeMb += mb;
      else if (part.startsWith("store.db")) out.storeMb += mb;
      else if (part.startsWith("warehouse.duckdb")) out.warehouseMb += mb;
    }
  };
  walk(dir, "");
  return out;
}

/** utime + stime + cutime + cstime (ticks) and ppid of a process; undefined once it is gone. */
function procStat(pid: number): { ppid: number; own: number; children: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(fields[1]),
      own: Number(fields[11]) + Number(fields[12]),
      children: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

function rssKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

/** The process and its live descendants. */
function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat !== undefined) parents.set(Number(name), stat.ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** CPU seconds and RSS (MiB) of the tree, and the RSS of the root alone. */
function usage(root: number): { cpuSec: number; rssMb: number; rssMainMb: number } {
  let ticks = 0;
  let kb = 0;
  for (const pid of processTree(root)) {
    const stat = procStat(pid);
    if (stat === undefined) continue;
    ticks += stat.own + (pid === root ? stat.children : 0);
    kb += rssKb(pid);
  }
  return { cpuSec: ticks / CLOCK_TICKS, rssMb: kb / 1024, rssMainMb: rssKb(root) / 1024 };
}

/** pulse_stream_input_records_total from /metrics; NaN when it cannot be read. */
async function streamedEvents(url: string | undefined): Promise<number> {
  if (url === undefined) return Number.NaN;
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const match = /^pulse_stream_input_records_total (\d+(\.\d+)?)/m.exec(text);
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

function config(dir: string, dags: string): string {
  return [
    `data_dir: ${JSON.stringify(dir)}`,
    "server:",
    "  port: 0",
    "simulator:",
    `  rate: ${rate}`,
    "wikimedia:",
    "  source: off",
    "topics:",
    `  retention_hours: ${LOG_RETENTION_HOURS}`,
    "retention:",
    `  store_hours: ${STORE_RETENTION_HOURS}`,
    `  warehouse_days: ${WAREHOUSE_RETENTION_DAYS}`,
    "orchestrator:",
    '  scheduler: "on"',
    `  dags_folder: ${JSON.stringify(dags)}`,
    "",
  ].join("\n");
}

/** A DAG of the soak's own: the intraday DAG's load and models run, every few minutes instead of hourly. */
function soakDag(): string {
  return `// The soak's load: new raw-lake rows into the warehouse, then the models, every ${loadEveryMin} minutes.
export default ({ defineDag, tasks }) =>
  defineDag({
    id: "soak_load",
    schedule: "*/${loadEveryMin} * * * *",
    timezone: "UTC",
    startDate: new Date("2026-01-01T00:00:00Z"),
    catchup: false,
    maxActiveRuns: 1,
    defaultTaskOptions: { retries: 1, retryDelayMs: 10000, pool: "warehouse" },
    tasks: [
      { id: "load", run: (ctx) => tasks.load(undefined, ctx.log), options: { timeoutMs: 1800000 } },
      { id: "models_run", upstream: ["load"], run: (ctx) => tasks.models("run", ctx.log), options: { timeoutMs: 1800000 } },
    ],
  });
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function csv(samples: readonly Sample[]): string {
  const head =
    "minute,rss_mb,rss_pulse_mb,cpu_pct,cpu_sec,log_mb,raw_lake_mb,store_db_mb,warehouse_mb,total_mb,events_streamed";
  const rows = samples.map((s) =>
    [
      s.minute,
      s.rssMb,
      s.rssMainMb,
      s.cpuPct,
      s.cpuSec,
      s.logMb,
      s.lakeMb,
      s.storeMb,
      s.warehouseMb,
      s.totalMb,
      s.events,
    ]
      .map((v) => (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : ""))
      .join(","),
  );
  return `${[head, ...rows].join("\n")}\n`;
}

interface Line {
  label: string;
  color: string;
  values: number[];
}

/** One panel of the chart: lines over minutes, a y axis from 0 with 4 ticks. */
function panel(title: string, unit: string, x: number[], lines: Line[], top: number, height: number): string {
  const left = 70;
  const width = 760;
  const maxX = Math.max(...x, 1);
  const maxY = niceMax(Math.max(1, ...lines.flatMap((l) => l.values.filter(Number.isFinite))));
  const px = (v: number) => left + (v / maxX) * width;
  const py = (v: number) => top + height - (v / maxY) * height;
  const parts = [
    `<text x="${left}" y="${top - 8}" font-weight="bold">${title}</text>`,
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    parts.push(
      `<line x1="${left}" x2="${left + width}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end">${round(v)} ${unit}</text>`,
    );
  }
  for (let m = 0; m <= maxX; m += maxX > 10 ? 5 : 1) {
    parts.push(`<text x="${px(m)}" y="${top + height + 14}" text-anchor="middle">${m}</text>`);
  }
  lines.forEach((line, i) => {
    const points = x
      .map((xv, j) =>
        Number.isFinite(line.values[j]!) ? `${px(xv).toFixed(1)},${py(line.values[j]!).toFixed(1)}` : "",
      )
      .filter((p) => p !== "")
      .join(" ");
    parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="1.5" points="${points}"/>`);
    parts.push(
      `<rect x="${left + width + 12}" y="${top + i * 16}" width="10" height="10" fill="${line.color}"/>`,
      `<text x="${left + width + 26}" y="${top + i * 16 + 9}">${line.label}</text>`,
    );
  });
  return parts.join("\n");
}

function niceMax(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

function round(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, "");
}

function svg(samples: readonly Sample[], caption: string): string {
  const x = samples.map((s) => s.minute);
  const col = (f: (s: Sample) => number) => samples.map(f);
  const body = [
    panel(
      "RSS",
      "MB",
      x,
      [
        { label: "with tasks", color: "#1f77b4", values: col((s) => s.rssMb) },
        { label: "pulse up", color: "#17becf", values: col((s) => s.rssMainMb) },
      ],
      56,
      150,
    ),
    panel(
      "CPU (100% = one core)",
      "%",
      x,
      [{ label: "CPU", color: "#d62728", values: col((s) => s.cpuPct) }],
      256,
      150,
    ),
    panel(
      "Files in the data folder",
      "MB",
      x,
      [
        { label: "total", color: "#333333", values: col((s) => s.totalMb) },
        { label: "log", color: "#2ca02c", values: col((s) => s.logMb) },
        { label: "raw lake", color: "#ff7f0e", values: col((s) => s.lakeMb) },
        { label: "store.db", color: "#9467bd", values: col((s) => s.storeMb) },
        { label: "warehouse", color: "#8c564b", values: col((s) => s.warehouseMb) },
      ],
      456,
      200,
    ),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="960" height="736" font-family="sans-serif" font-size="11" role="img">
<title>${caption}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="70" y="18" font-size="13">${caption}</text>
${body.join("\n")}
<text x="450" y="688" text-anchor="middle">minutes since pulse up started</text>
</svg>
`;
}

/** Whether a series stays bounded: the last third's max at most 25% (plus 16 MB) above the middle third's. */
function bounded(values: readonly number[]): { ok: boolean; middleMax: number; lastMax: number } {
  const third = Math.floor(values.length / 3);
  const middleMax = Math.max(0, ...values.slice(third, 2 * third));
  const lastMax = Math.max(0, ...values.slice(2 * third));
  return { ok: lastMax <= middleMax * 1.25 + 16, middleMax, lastMax };
}

/** Events the stream job read per second between the first and the last sample that has the count. */
function streamedPerSec(samples: readonly Sample[]): number {
  const counted = samples.filter((s) => Number.isFinite(s.events));
  if (counted.length < 2) return Number.NaN;
  const first = counted[0]!;
  const last = counted.at(-1)!;
  return (last.events - first.events) / ((last.minute - first.minute) * 60);
}

function caption(samples: readonly Sample[]): string {
  const perSec = streamedPerSec(samples);
  const span = samples.at(-1)?.minute ?? 0;
  return `pulse soak: ${rate} events/s offered for ${Math.round(span)} min (streamed ${Number.isFinite(perSec) ? perSec.toFixed(0) : "?"}/s); retention: log ${LOG_RETENTION_HOURS * 60} min, store ${STORE_RETENTION_HOURS * 60} min, warehouse ${WAREHOUSE_RETENTION_DAYS} day`;
}

/** Samples read back from a CSV this script wrote. */
function readCsv(file: string): Sample[] {
  const [head, ...lines] = readFileSync(file, "utf8").trim().split("\n");
  const names = head!.split(",");
  const at = (cells: string[], name: string) => {
    const cell = cells[names.indexOf(name)];
    return cell === undefined || cell === "" ? Number.NaN : Number(cell);
  };
  return lines.map((line) => {
    const cells = line.split(",");
    return {
      minute: at(cells, "minute"),
      rssMb: at(cells, "rss_mb"),
      rssMainMb: at(cells, "rss_pulse_mb"),
      cpuPct: at(cells, "cpu_pct"),
      cpuSec: at(cells, "cpu_sec"),
      logMb: at(cells, "log_mb"),
      lakeMb: at(cells, "raw_lake_mb"),
      storeMb: at(cells, "store_db_mb"),
      warehouseMb: at(cells, "warehouse_mb"),
      totalMb: at(cells, "total_mb"),
      events: at(cells, "events_streamed"),
    };
  });
}

async function main(): Promise<number> {
  // --chart <file.csv>: draws the chart of an earlier run again, beside its CSV.
  if (process.argv[2] === "--chart") {
    const file = resolve(process.argv[3] ?? `${out}.csv`);
    const samples = readCsv(file);
    writeFileSync(file.replace(/\.csv$/, ".svg"), svg(samples, caption(samples)));
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), "pulse-soak-"));
  const dags = join(dir, "dags");
  mkdirSync(dags);
  writeFileSync(join(dags, "soak_load.mjs"), soakDag());
  const configFile = join(dir, "pulse.config.yaml");
  writeFileSync(configFile, config(join(dir, "data"), dags));
  const logFile = join(dir, "pulse-up.log");
  console.log(
    `soak: pulse up at ${rate} events/s for ${minutes} min in ${dir}; sampling every ${sampleSec} s`,
  );
  const up = startPulseUp(["--duration", String(minutes * 60)], { ...process.env, PULSE_CONFIG: configFile });
  const exited = up.exited.then((code) => code ?? 1);
  let apiUrl: string | undefined;
  void up.url.then((u) => {
    apiUrl = u;
  });
  const samples: Sample[] = [];
  const started = Date.now();
  let running = true;
  void exited.then(() => {
    running = false;
  });
  let previous = { atMs: started, cpuSec: 0 };
  while (running) {
    await Promise.race([sleep(sampleSec * 1000), exited]);
    if (!running) break;
    const now = Date.now();
    const use = usage(up.child.pid!);
    const sample: Sample = {
      minute: (now - started) / 60_000,
      rssMb: use.rssMb,
      rssMainMb: use.rssMainMb,
      cpuSec: use.cpuSec,
      cpuPct: ((use.cpuSec - previous.cpuSec) / ((now - previous.atMs) / 1000)) * 100,
      ...sizes(join(dir, "data")),
      events: await streamedEvents(apiUrl),
    };
    previous = { atMs: now, cpuSec: use.cpuSec };
    samples.push(sample);
    console.log(
      `soak: ${sample.minute.toFixed(1)} min  rss ${sample.rssMb.toFixed(0)} MB (pulse ${sample.rssMainMb.toFixed(0)})  cpu ${sample.cpuPct.toFixed(0)}%  log ${sample.logMb.toFixed(0)} MB  raw lake ${sample.lakeMb.toFixed(0)} MB  store.db ${sample.storeMb.toFixed(0)} MB  warehouse ${sample.warehouseMb.toFixed(0)} MB  total ${sample.totalMb.toFixed(0)} MB  streamed ${sample.events}`,
    );
    writeFileSync(`${out}.csv`, csv(samples));
  }
  const code = await exited;
  writeFileSync(logFile, up.output());
  const last = samples.at(-1);
  const eventsPerSec = streamedPerSec(samples);
  writeFileSync(`${out}.csv`, csv(samples));
  writeFileSync(`${out}.svg`, svg(samples, caption(samples)));
  const checks = {
    log: bounded(samples.map((s) => s.logMb)),
    "raw lake": bounded(samples.map((s) => s.lakeMb)),
    "store.db": bounded(samples.map((s) => s.storeMb)),
    "pulse up RSS": bounded(samples.map((s) => s.rssMainMb)),
  };
  console.log(`soak: pulse up exited with ${code}; ${samples.length} samples; ${out}.csv, ${out}.svg`);
  console.log(
    `soak: streamed ${Number.isFinite(eventsPerSec) ? eventsPerSec.toFixed(0) : "?"} events/s on average; CPU ${last === undefined ? "?" : ((last.cpuSec / (last.minute * 60)) * 100).toFixed(0)}% of a core on average`,
  );
  for (const [name, check] of Object.entries(checks)) {
    console.log(
      `soak: ${check.ok ? "bounded" : "GROWING"} ${name}: max ${check.middleMax.toFixed(0)} MB in the middle third, ${check.lastMax.toFixed(0)} MB in the last`,
    );
  }
  const warehouse = bounded(samples.map((s) => s.warehouseMb));
  console.log(
    `soak: warehouse (retention by whole UTC days, so not checked within one day): max ${warehouse.middleMax.toFixed(0)} MB in the middle third, ${warehouse.lastMax.toFixed(0)} MB in the last`,
  );
  const retentionLines = readFileSync(logFile, "utf8")
    .split(/\r?\n|\r/)
    .filter((line) => line.includes("pulse up: retention"));
  console.log(`soak: ${retentionLines.length} retention lines from pulse up; the last ones:`);
  for (const line of retentionLines.slice(-3)) console.log(`  ${line.trim()}`);
  const pass = code === 0 && samples.length >= 6 && Object.values(checks).every((c) => c.ok);
  console.log(`soak: ${pass ? "PASS" : "FAIL"}`);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return pass ? 0 : 1;
}

process.exitCode = await main();
