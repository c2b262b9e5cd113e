// `pulse produce wikimedia --replay` of JSON-lines fixtures and an SSE capture: exact counts of what lands in the log.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { TopicsReport } from "../../src/cli/commands/topics.ts";
import type { WikimediaRecentChange } from "../../src/contracts/types.ts";
import { REPO_ROOT, runPulse, runPulseJson, tempDir } from "../helpers/cli.ts";
import { countBy, readTopic } from "../helpers/topics.ts";

const TIMEOUT_MS = 120_000;
const ENWIKI_FILE = "fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson";

interface RawChange {
  wiki: string;
  type: string;
  bot: boolean;
  meta: { id: string; domain: string };
}

interface JsonLinesCase {
  file: string;
  events: number;
  /** `jq -r .wiki f | sort | uniq -c` */
  jqWiki: Record<string, number>;
  /** `jq -r .type f | sort | uniq -c` */
  jqType: Record<string, number>;
  /** `jq -r .bot f | sort | uniq -c` */
  jqBot: Record<string, number>;
}

const CASES: JsonLinesCase[] = [
  {
    file: "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl",
    events: 3054,
    jqWiki: { wikidatawiki: 3054 },
    jqType: { edit: 3000, log: 20, new: 34 },
    jqBot: { false: 723, true: 2331 },
  },
  {
    file: ENWIKI_FILE,
    events: 80,
    jqWiki: { enwiki: 80 },
    jqType: { edit: 80 },
    jqBot: { false: 79, true: 1 },
  },
];

function readJsonLines(path: string): RawChange[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RawChange);
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

async function replay(file: string, dataDir: string): Promise<{ summary: ProduceSummary; stderr: string }> {
  const args = ["produce", "wikimedia", "--replay", file, "--speed", "0", "--json", "--data-dir", dataDir];
  const result = await runPulse(args);
  expect(result.code, result.stderr).toBe(0);
  return { summary: JSON.parse(result.stdout) as ProduceSummary, stderr: result.stderr };
}

/** Asserts the decoded records of wikimedia.recentchange are exactly `expected`, keyed by wiki. */
async function expectTopicHolds(dataDir: string, expected: RawChange[]): Promise<void> {
  const topics = await runPulseJson<TopicsReport>(["topics", "--json", "--data-dir", dataDir]);
  expect(topics.topics.find((t) => t.name === "wikimedia.recentchange")?.messages).toBe(expected.length);
  expect(topics.topics.find((t) => t.name === "wikimedia.recentchange.dlq")?.messages).toBe(0);

  const records = await readTopic<WikimediaRecentChange>(dataDir, "wikimedia.recentchange");
  const changes = records.map((r) => r.value);
  expect(countBy(changes, (c) => c.wiki)).toEqual(countBy(expected, (c) => c.wiki));
  expect(countBy(changes, (c) => c.type)).toEqual(countBy(expected, (c) => c.type));
  expect(countBy(changes, (c) => String(c.bot))).toEqual(countBy(expected, (c) => String(c.bot)));
  expect(sorted(changes.map((c) => c.meta.id))).toEqual(sorted(expected.map((c) => c.meta.id)));
  for (const { key, value } of records) expect(key).toBe(value.wiki);
}

describe.each(CASES)("pulse produce wikimedia --replay $file --speed 0", (c) => {
  it(
    "produces every event, and the log holds exactly the file's wikis, types and bot flags",
    async ({ onTestFinished }) => {
      const events = readJsonLines(join(REPO_ROOT, c.file));
      // The counts computed here agree with jq's.
      expect(events).toHaveLength(c.events);
      expect(countBy(events, (e) => e.wiki)).toEqual(c.jqWiki);
      expect(countBy(events, (e) => e.type)).toEqual(c.jqType);
      expect(countBy(events, (e) => String(e.bot))).toEqual(c.jqBot);

      const dataDir = tempDir(onTestFinished);
      const { summary } = await replay(c.file, dataDir);
      expect(summary).toMatchObject({
        topic: "wikimedia.recentchange",
        source: "wikimedia-replay",
        sent: c.events,
        produced: c.events,
        dead_lettered: 0,
      });
      await expectTopicHolds(dataDir, events);
    },
    TIMEOUT_MS,
  );
});

describe("pulse produce wikimedia --replay <SSE capture>", () => {
  it(
    "drops the canary, reports the malformed data line, and produces exactly the other events",
    async ({ onTestFinished }) => {
      const dir = tempDir(onTestFinished);
      const source = readJsonLines(join(REPO_ROOT, ENWIKI_FILE)).slice(0, 6);
      const canary: RawChange = { ...source[2]!, meta: { ...source[2]!.meta, domain: "canary" } };

      // An EventStreams capture: a comment, then event:/id:/data: blocks ended by a blank line.
      const lines: string[] = [":ok", ""];
      const block = (data: string[], id: number): void => {
        lines.push(
          "event: message",
          `id: [{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":${id}}]`,
        );
        for (const part of data) lines.push(`data: ${part}`);
        lines.push("");
      };
      block([JSON.stringify(source[0])], 1);
      block([JSON.stringify(source[1])], 2);
      block([JSON.stringify(canary)], 3);
      // SSE joins several data lines with "\n", which JSON allows between tokens.
      const split = JSON.stringify(source[3]);
      const at = split.indexOf(',"type":');
      block([split.slice(0, at), split.slice(at)], 4);
      block(['{"meta": {"domain": "en.wikipedia.org", "dt": '], 5);
      const badLine = lines.length; // 1-based number of the blank line that ends the malformed event
      lines.push(": keep-alive", "");
      block([JSON.stringify(source[4])], 6);
      block([JSON.stringify(source[5])], 7);
      const capture = join(dir, "capture.sse");
      writeFileSync(capture, `${lines.join("\n")}\n`);

      const expected = [source[0]!, source[1]!, source[3]!, source[4]!, source[5]!];
      const dataDir = join(dir, "data");
      const { summary, stderr } = await replay(capture, dataDir);
      expect(summary).toMatchObject({ sent: expected.length, produced: expected.length, dead_lettered: 0 });
      // One line, naming the file and line once (regression: "file:line: file:line: ..." was printed).
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr.startsWith(`${capture}:${badLine}: not valid JSON`)).toBe(true);
      expect(stderr.split(capture)).toHaveLength(2);
      await expectTopicHolds(dataDir, expected);
    },
    TIMEOUT_MS,
  );
});
