// `npm run bench [-- name…]`: runs the benchmark modules one after another and prints one table.

import { arch, cpus, totalmem } from "node:os";
import type { BenchResult } from "./types.ts";

const MODULES: Record<string, () => Promise<{ run(): Promise<BenchResult[]> }>> = {
  serde: () => import("./serde.ts"),
  log: () => import("./log.ts"),
  ingest: () => import("./ingest.ts"),
  "stream-state": () => import("./stream-state.ts"),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((name) => !(name in MODULES));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; available: ${Object.keys(MODULES).join(", ")}`);
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : Object.keys(MODULES);
console.log(
  `Pulse benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? arch()}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
const rows: BenchResult[] = [];
for (const name of names) {
  const module = await MODULES[name]!();
  const results = await module.run();
  for (const r of results) {
    rows.push(r);
    console.log(
      `${r.name.padEnd(40)} ${r.value.toLocaleString("en-US").padStart(14)} ${r.unit.padEnd(12)} ${r.detail ?? ""}`,
    );
  }
}
if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
