// The shape every benchmark reports, so bench/run.ts can print and compare them.
import { pathToFileURL } from "node:url";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  detail?: string;
}

/** True when the module at `moduleUrl` is the script node was started with (`node --import tsx bench/x.ts`). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Prints a module's results when it runs alone; `npm run bench` prints them through bench/run.ts. */
export function printResults(results: readonly BenchResult[]): void {
  for (const r of results) {
    console.log(
      `${r.name.padEnd(40)} ${r.value.toLocaleString("en-US").padStart(14)} ${r.unit.padEnd(12)}${r.detail ? ` ${r.detail}` : ""}`,
    );
  }
}
