// Fuzzes the Wikimedia source: SSE frames in any chunking, and recentchange JSON into the contract's shape.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, it } from "vitest";
import { wikimediaRecentChangeType } from "../../src/contracts/schemas.ts";
import { validateRecentChange } from "../../src/contracts/validate.ts";
import { ValidationErrorCode, WikimediaErrorCode } from "../../src/errors.ts";
import { mapRecentChange } from "../../src/ingest/wikimedia/mapping.ts";
import { parseSse, type SseMessage, SseParser } from "../../src/ingest/wikimedia/sse.ts";
import { projectFile } from "../../src/paths.ts";
import { checkBudget, fuzzText, mutatedJson, oddJson, runs } from "./fuzz.ts";

function fixtureLines(file: string, count: number): string[] {
  return readFileSync(projectFile(`fixtures/wikimedia/${file}`), "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(0, count);
}

/** Current (2023) and legacy (2018) events, as the feed and the recordings hold them. */
const LINES = [
  ...fixtureLines("recentchange-enwiki-2023-07-29.ndjson", 6),
  ...fixtureLines("recentchange-wikidata-2018-03-07.legacy.jsonl", 6),
];
const EVENTS: unknown[] = LINES.map((line) => JSON.parse(line));

/** An EventStreams response body: a comment, then each event as id + data lines and a blank line. */
function sseBody(lines: readonly string[], lineBreak: string): string {
  let body = `:ok${lineBreak}${lineBreak}`;
  lines.forEach((line, i) => {
    body += `event: message${lineBreak}id: [{"offset":${i}}]${lineBreak}data: ${line}${lineBreak}${lineBreak}`;
  });
  return body;
}

const FRAMED: Array<{ body: string; lines: string[] }> = [
  { lines: LINES.slice(0, 3), lineBreak: "\n" },
  { lines: LINES.slice(6, 8), lineBreak: "\r\n" },
  { lines: LINES.slice(3, 5), lineBreak: "\r" },
].map(({ lines, lineBreak }) => ({ body: sseBody(lines, lineBreak), lines }));
const BODIES = FRAMED.map(({ body }) => body);

/** The text cut at the given points, as a socket may deliver it. */
function chunks(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const point of points) {
    out.push(text.slice(from, point));
    from = point;
  }
  out.push(text.slice(from));
  return out;
}

function feedAll(parts: readonly string[]): { messages: SseMessage[]; lastEventId: string | undefined } {
  const messages: SseMessage[] = [];
  const parser = new SseParser({
    onMessage: (m) => messages.push(m),
    onRetry: () => {},
    onComment: () => {},
  });
  for (const part of parts) parser.feed(part);
  parser.end();
  return { messages, lastEventId: parser.lastEventId };
}

const WIKIMEDIA_CODES = new Set<string>(Object.values(WikimediaErrorCode));
const VALIDATION_CODES = new Set<string>(Object.values(ValidationErrorCode));

/**
 * What the client and the producer do with one SSE data field: parse it, map it, validate it. Returns
 * the code it is rejected with, or "accepted"; throws anything else.
 */
function ingest(data: string, nowMs: number): string {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return WikimediaErrorCode.badJson;
  }
  const mapped = mapRecentChange(raw);
  if (!mapped.ok) {
    assert.ok(WIKIMEDIA_CODES.has(mapped.code) && mapped.message.length > 0, mapped.code);
    return mapped.code;
  }
  // A date-time in UTC reads back as the same day: no impossible day rolled over into another.
  const dt = (raw as { meta: { dt: string } }).meta.dt;
  if (dt.endsWith("Z"))
    assert.equal(new Date(mapped.value.meta.dt).toISOString().slice(0, 10), dt.slice(0, 10));
  // Whatever the mapping accepts is the contract's Avro shape, so the producer can always encode it.
  assert.ok(
    wikimediaRecentChangeType.isValid(mapped.value),
    "the mapping accepted a value Avro cannot encode",
  );
  const validated = validateRecentChange(mapped.value, { nowMs });
  if (!validated.ok) {
    for (const issue of validated.errors) assert.ok(VALIDATION_CODES.has(issue.code), issue.code);
    return validated.errors[0]!.code;
  }
  return "accepted";
}

describe("fuzz: SSE frames", () => {
  it("any text in any chunking parses without throwing, to the same messages as all at once", () => {
    fc.assert(
      fc.property(fuzzText(BODIES, 600), fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        const started = performance.now();
        const whole = feedAll([text]);
        const split = feedAll(chunks(text, cuts));
        assert.equal(JSON.stringify(split), JSON.stringify(whole));
        assert.equal(JSON.stringify(parseSse(text)), JSON.stringify(whole.messages));
        for (const message of whole.messages) {
          assert.ok(!message.data.includes("\r") && !message.event.includes("\n"));
        }
        checkBudget(started);
      }),
      runs(301),
    );
  });

  it("every frame of a valid body is found whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FRAMED),
        fc.array(fc.nat(), { maxLength: 40 }),
        ({ body, lines }, cuts) => {
          const { messages, lastEventId } = feedAll(chunks(body, cuts));
          assert.deepEqual(
            messages.map((m) => m.data),
            lines,
          );
          assert.equal(lastEventId, `[{"offset":${lines.length - 1}}]`);
        },
      ),
      runs(302),
    );
  });
});

describe("fuzz: Wikimedia recentchange JSON", () => {
  const nowMs = Date.UTC(2024, 0, 1);

  it("any data text is accepted or rejected with a Wikimedia or validation code", () => {
    fc.assert(
      fc.property(fuzzText(LINES, 300), (data) => {
        const started = performance.now();
        ingest(data, nowMs);
        checkBudget(started);
      }),
      runs(303),
    );
  });

  it("meta.dt with any two or four digits in each field maps to that very day or fails with a code", () => {
    const digits = (n: number) =>
      fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, "0"));
    const event = EVENTS[0] as { meta: Record<string, unknown> };
    fc.assert(
      fc.property(fc.tuple(digits(4), digits(2), digits(2), digits(2), digits(2)), ([y, mo, d, h, mi]) => {
        ingest(
          JSON.stringify({ ...event, meta: { ...event.meta, dt: `${y}-${mo}-${d}T${h}:${mi}:00Z` } }),
          nowMs,
        );
      }),
      runs(305, 0.3),
    );
  });

  it("events with fields deleted, added or swapped for other JSON types map or fail with a code", () => {
    fc.assert(
      fc.property(fc.oneof(mutatedJson(EVENTS), oddJson), (raw) => {
        const started = performance.now();
        ingest(JSON.stringify(raw) ?? "", nowMs);
        // The mapping itself, on the value as it is (not through JSON text), never throws either.
        const mapped = mapRecentChange(raw);
        if (!mapped.ok) assert.ok(WIKIMEDIA_CODES.has(mapped.code), mapped.code);
        checkBudget(started);
      }),
      runs(304),
    );
  });
});
