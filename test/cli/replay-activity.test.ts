// `pulse produce activity --replay` of the REES46 CSV fixtures: exact per-type counts, purchase sums and keys in the log.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { REPO_ROOT, runPulseJson, tempDir } from "../helpers/cli.ts";
import { countBy, readTopic } from "../helpers/topics.ts";

const TIMEOUT_MS = 120_000;

/** REES46 event_type → the contract's event_type (the mapping src/ingest/activity-csv.ts documents). */
const CONTRACT_TYPE: Record<string, string> = {
  view: "VIEW",
  cart: "ADD_TO_CART",
  remove_from_cart: "REMOVE_FROM_CART",
  purchase: "PURCHASE",
};

interface CsvCase {
  file: string;
  rows: number;
  /** `tr -d '\r' < file | awk -F, 'NR>1{c[$2]++} END{for(k in c) print k,c[k]}'` */
  awkCounts: Record<string, number>;
  /** Purchase price sum from fixtures/activity/SOURCES.md, in cents. */
  purchaseCents: number;
  /** `tail -n +2 file | tr -d '\r' | sort -u | wc -l`: exact duplicate rows share an event_id. */
  distinctRows: number;
}

const CASES: CsvCase[] = [
  {
    file: "fixtures/activity/rees46-multicategory-2019-10-01.csv",
    rows: 13_947,
    awkCounts: { cart: 131, purchase: 160, view: 13_656 },
    purchaseCents: 4_810_440,
    distinctRows: 13_943,
  },
  {
    file: "fixtures/activity/rees46-cosmetics-derived-2022-10-01.csv",
    rows: 799,
    awkCounts: { cart: 217, purchase: 116, remove_from_cart: 200, view: 266 },
    purchaseCents: 44_465,
    distinctRows: 741,
  },
];

/** "48.3" → 4830, "0.40" → 40: decimal text to cents without floating point. */
function textToCents(price: string): number {
  const [whole, fraction = ""] = price.split(".");
  if (!/^\d+$/.test(whole!) || !/^\d{0,2}$/.test(fraction))
    throw new Error(`not a price with ≤ 2 decimals: ${price}`);
  return Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
}

/** The expected numbers, computed here from the CSV text independently of Pulse's parser. */
function expectedFromFile(path: string) {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line !== "");
  const header = lines[0]!.split(",");
  const typeAt = header.indexOf("event_type");
  const priceAt = header.indexOf("price");
  const rows = lines.slice(1).map((line) => line.split(","));
  const purchaseCents = rows
    .filter((fields) => fields[typeAt] === "purchase")
    .reduce((sum, fields) => sum + textToCents(fields[priceAt]!), 0);
  return {
    rows: rows.length,
    counts: countBy(rows, (fields) => fields[typeAt]!),
    purchaseCents,
    distinctRows: new Set(lines.slice(1)).size,
  };
}

/** The per-type counts under the contract's names. */
function asContractTypes(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([type, n]) => [CONTRACT_TYPE[type]!, n]));
}

describe.each(CASES)("pulse produce activity --replay $file --speed 0", (c) => {
  it(
    "produces every row, and the log holds exactly the file's event types, purchase sum and users",
    async ({ onTestFinished }) => {
      const fromFile = expectedFromFile(join(REPO_ROOT, c.file));
      // The two independent computations of the expected numbers agree.
      expect(fromFile.rows).toBe(c.rows);
      expect(fromFile.counts).toEqual(c.awkCounts);
      expect(fromFile.purchaseCents).toBe(c.purchaseCents);
      expect(fromFile.distinctRows).toBe(c.distinctRows);

      const dataDir = tempDir(onTestFinished);
      const summary = await runPulseJson<ProduceSummary>([
        "produce",
        "activity",
        "--replay",
        c.file,
        "--speed",
        "0",
        "--json",
        "--data-dir",
        dataDir,
      ]);
      expect(summary).toMatchObject({
        topic: "user-activity",
        source: "replay",
        sent: c.rows,
        produced: c.rows,
        dead_lettered: 0,
      });

      const topics = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir]);
      expect(topics.topics.find((t) => t.name === "user-activity")?.messages).toBe(c.rows);
      expect(topics.topics.find((t) => t.name === "user-activity.dlq")?.messages).toBe(0);

      const records = await readTopic<UserActivityV2>(dataDir, "user-activity");
      expect(records).toHaveLength(c.rows);
      expect(countBy(records, (r) => r.value.event_type)).toEqual(asContractTypes(c.awkCounts));
      const purchases = records.filter((r) => r.value.event_type === "PURCHASE");
      const purchaseCents = purchases.reduce((sum, r) => sum + Math.round(r.value.amount! * 100), 0);
      expect(purchaseCents).toBe(c.purchaseCents);
      for (const { value } of purchases) expect(value.currency).toBe("USD");
      for (const { value } of records) {
        if (value.event_type !== "PURCHASE") expect(value.amount).toBeNull();
      }
      // Keyed by user_id, so one user's events stay in order on one partition.
      for (const { key, value } of records) expect(key).toBe(value.user_id);
      // The event_id is derived from the row text, so exact duplicate rows share one.
      expect(new Set(records.map((r) => r.value.event_id)).size).toBe(c.distinctRows);
    },
    TIMEOUT_MS,
  );
});
