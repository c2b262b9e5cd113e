// `npm run bench [-- name…]`: runs each benchmark module in its own process (so peak memory and JIT state
// are its own) and prints one table.

import { spawnSync } from "node:child_process";
import { arch, cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { ensureBundle } from "../bin/bundle.js";
import type { BenchResult } from "./types.ts";

const MODULES = [
  "serde",
  "log",
  "ingest",
  "store",
  "stream-state",
  "latency",
  "stream",
  "kafka",
  "batch",
  "ui",
  "spark",
  "collector",
] as const;
/**
 * Run only when named: `kafka` needs a broker (and a MongoDB) of its own, and deletes Pulse's topics on it
 * (bench/README.md); `batch` produces 10M events and builds dbt Core's venv; `ui` drives Chromium; `spark`
 * builds PySpark's venv and runs Spark beside Pulse over 1M rows; `collector` sends for 70 s.
 */
const ON_REQUEST: readonly string[] = ["kafka", "batch", "ui", "spark", "collector"];

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((name) => !(MODULES as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; available: ${MODULES.join(", ")}`);
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : MODULES.filter((name) => !ON_REQUEST.includes(name));
const root = fileURLToPath(new URL("..", import.meta.url));
console.log(
  `Pulse benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? arch()}, ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg()[0]!.toFixed(2)}`,
);
if (wanted.length === 0)
  console.log(`not run unless named: ${ON_REQUEST.join(", ")} (npm run bench -- kafka)`);
const rows: BenchResult[] = [];
let failed = false;
for (const name of names) {
  // The module runs as pulse does, from an esbuild build, without a run-time TypeScript loader.
  const url = await ensureBundle(`bench/${name}.ts`, `bench-${name}`);
  const script = `const m = await import(${JSON.stringify(url)}); console.log("BENCH-RESULTS " + JSON.stringify(await m.run()));`;
  const child = spawnSync(process.execPath, ["--enable-source-maps", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("BENCH-RESULTS "));
  if (child.status !== 0 || line === undefined) {
    console.error(`benchmark ${name} failed (exit ${child.status})`);
    failed = true;
    continue;
  }
  for (const r of JSON.parse(line.slice("BENCH-RESULTS ".length)) as BenchResult[]) {
    rows.push(r);
    console.log(
      `${r.name.padEnd(40)} ${r.value.toLocaleString("en-US").padStart(14)} ${r.unit.padEnd(12)} ${r.detail ?? ""}`,
    );
  }
}
if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
process.exitCode = failed ? 1 : 0;
