// Tests for replaying recorded recentchange files: JSON lines, SSE captures, bad lines, pacing, looping.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { type ReplayBadLine, replayWikimedia } from "./replay.ts";

const ENWIKI = fileURLToPath(
  new URL("../../../fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson", import.meta.url),
);
const LEGACY = fileURLToPath(
  new URL("../../../fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl", import.meta.url),
);

function fixtureLines(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "");
}

/** A fresh folder removed when the test ends. */
function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-replay-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function collect(
  iterable: AsyncIterable<unknown>,
  limit = Number.POSITIVE_INFINITY,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

/** The enwiki fixture framed the way EventStreams frames it (see fixtures/wikimedia/SOURCES.md). */
function sseCapture(eol: string): string {
  const parts = [":ok", ""];
  for (const line of fixtureLines(ENWIKI)) {
    const offset = (JSON.parse(line) as { meta: { offset: number } }).meta.offset;
    parts.push(
      "event: message",
      `id: [{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":${offset}}]`,
    );
    parts.push(`data: ${line}`, "");
  }
  parts.splice(10, 0, "event: message", 'data: {"meta":{"domain":"canary","dt":"2023-07-29T07:51:40Z"}}', "");
  parts.splice(6, 0, "event: error", "data: {}", "");
  return parts.join(eol) + eol;
}

describe("replayWikimedia", () => {
  it("replays JSON lines in file order, each line as parsed", async () => {
    const events = await collect(replayWikimedia(ENWIKI));
    expect(events).toEqual(fixtureLines(ENWIKI).map((line) => JSON.parse(line)));
    // wc -l < recentchange-wikidata-2018-03-07.legacy.jsonl
    expect(await collect(replayWikimedia(LEGACY))).toHaveLength(3054);
  });

  it("detects an SSE capture (LF or CRLF), drops canary and error events", async () => {
    const expected = fixtureLines(ENWIKI).map((line) => JSON.parse(line));
    for (const eol of ["\n", "\r\n"]) {
      const path = tempFile("capture.sse", sseCapture(eol));
      expect(await collect(replayWikimedia(path))).toEqual(expected);
    }
  });

  it("reports bad lines with their line numbers and goes on", async () => {
    const [first, second] = fixtureLines(ENWIKI);
    const path = tempFile("bad.ndjson", `${first}\n\n{oops\n[1,2]\n   \n${second}\n`);
    const bad: ReplayBadLine[] = [];
    const events = await collect(replayWikimedia(path, { onBadLine: (b) => bad.push(b) }));
    expect(events).toEqual([JSON.parse(first!), JSON.parse(second!)]);
    expect(bad.map((b) => [b.line, b.code])).toEqual([
      [3, "PULSE_REPLAY_BAD_JSON"],
      [4, "PULSE_REPLAY_NOT_OBJECT"],
    ]);
    expect(bad[0]!.message).toContain(`${path}:3`);
  });

  it("loops until aborted", async () => {
    const controller = new AbortController();
    const ids: string[] = [];
    for await (const event of replayWikimedia(ENWIKI, { loop: true, signal: controller.signal })) {
      ids.push((event as { meta: { id: string } }).meta.id);
      if (ids.length === 200) controller.abort();
    }
    const once = fixtureLines(ENWIKI).map((line) => (JSON.parse(line) as { meta: { id: string } }).meta.id);
    expect(ids).toEqual([...once, ...once, ...once.slice(0, 40)]);
  });

  it("paces by meta.dt: the 123 s file at speed 500 takes at least 246 ms", async () => {
    // meta.dt runs from 07:51:39 to 07:53:42 (SOURCES.md), 123 s of event time.
    const started = performance.now();
    const events = await collect(replayWikimedia(ENWIKI, { speed: 500 }));
    const elapsedMs = performance.now() - started;
    expect(events).toHaveLength(80);
    expect(elapsedMs).toBeGreaterThanOrEqual(230);
    expect(elapsedMs).toBeLessThan(20_000);
  });

  it("stops promptly when aborted while waiting at recorded pace", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 100);
    const events = await collect(replayWikimedia(ENWIKI, { speed: 1, signal: controller.signal }));
    expect(events.length).toBeLessThan(80);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("throws PULSE_SOURCE_FILE_UNREADABLE for a missing file", async () => {
    await expect(collect(replayWikimedia("/nonexistent/pulse.ndjson"))).rejects.toMatchObject({
      code: "PULSE_SOURCE_FILE_UNREADABLE",
    });
  });
});
