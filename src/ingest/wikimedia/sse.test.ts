// Tests for the incremental SSE parser against the WHATWG event-stream rules.

import { describe, expect, it } from "vitest";
import { parseSse, type SseMessage, SseParser } from "./sse.ts";

function collect(chunks: string[]): { messages: SseMessage[]; retries: number[]; comments: string[] } {
  const messages: SseMessage[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = new SseParser({
    onMessage: (m) => messages.push(m),
    onRetry: (ms) => retries.push(ms),
    onComment: (c) => comments.push(c),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return { messages, retries, comments };
}

/** Every way of cutting `text` into two chunks, and into single characters. */
function splittings(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  for (let i = 1; i < text.length - 1; i += 3) {
    out.push([text.slice(0, i), text.slice(i, i + 2), "", text.slice(i + 2)]);
  }
  return out;
}

const STREAM = [
  "\uFEFF:ok",
  "",
  "event: message",
  'id: [{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":1}]',
  'data: {"a":1}',
  "",
  ": keep-alive comment",
  "retry: 2500",
  "data:first",
  "data: second",
  "data",
  "",
  "event: error",
  "data: boom",
  "",
  "id",
  "data: no id",
  "",
  "",
].join("\n");

const EXPECTED: SseMessage[] = [
  {
    event: "message",
    data: '{"a":1}',
    id: '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":1}]',
  },
  {
    event: "message",
    data: "first\nsecond\n",
    id: '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":1}]',
  },
  { event: "error", data: "boom", id: '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":1}]' },
  { event: "message", data: "no id", id: undefined },
];

describe("SseParser", () => {
  it("parses fields, comments, multi-line data, retry and id persistence", () => {
    const { messages, retries, comments } = collect([STREAM]);
    expect(messages).toEqual(EXPECTED);
    expect(retries).toEqual([2500]);
    expect(comments).toEqual(["ok", " keep-alive comment"]);
  });

  it("gives the same result however the input is chunked", () => {
    for (const chunks of splittings(STREAM)) expect(collect(chunks).messages).toEqual(EXPECTED);
  });

  it("accepts LF, CRLF and CR line ends, also mixed, and a CR/LF pair split across chunks", () => {
    for (const eol of ["\n", "\r\n", "\r"]) {
      const text = STREAM.split("\n").join(eol);
      for (const chunks of splittings(text)) expect(collect(chunks).messages).toEqual(EXPECTED);
    }
    const mixed = "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r";
    const expected = [
      { event: "message", data: "a\nb\nc", id: undefined },
      { event: "message", data: "d", id: undefined },
    ];
    for (const chunks of splittings(mixed)) expect(collect(chunks).messages).toEqual(expected);
  });

  it("does not take CR then LF in the next chunk as two line ends", () => {
    // Two blank lines would dispatch "x" and then nothing; a stray extra blank line must not appear either way.
    expect(collect(["data: x\r", "\ndata: y\r", "\n\r", "\n"]).messages.map((m) => m.data)).toEqual(["x\ny"]);
  });

  it("strips one leading space of the value only, and only a leading BOM", () => {
    const { messages } = collect(["data:  two spaces\ndata:none\n\n\uFEFFdata: x\n\n"]);
    expect(messages.map((m) => m.data)).toEqual([" two spaces\nnone"]);
    // "\uFEFFdata" is an unknown field name, not data.
    expect(collect(["\uFEFF", "data: y\n\n"]).messages.map((m) => m.data)).toEqual(["y"]);
  });

  it("does not dispatch without data, but the id still takes effect", () => {
    const parser = new SseParser({ onMessage: () => expect.unreachable() });
    parser.feed("id: 7\n\nevent: ping\n\n");
    expect(parser.lastEventId).toBe("7");
    const { messages } = collect(["id: 7\n\ndata: later\n\n"]);
    expect(messages).toEqual([{ event: "message", data: "later", id: "7" }]);
  });

  it("dispatches empty data when a data field was present", () => {
    expect(collect(["data\n\n", "data:\n\n"]).messages).toEqual([
      { event: "message", data: "", id: undefined },
      { event: "message", data: "", id: undefined },
    ]);
  });

  it("ignores an id containing NUL and keeps the previous one; an empty id clears it", () => {
    const { messages } = collect(["id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\nid:\ndata: c\n\n"]);
    expect(messages.map((m) => m.id)).toEqual(["1", "1", undefined]);
  });

  it("accepts retry only when it is all ASCII digits", () => {
    const { retries } = collect(["retry: 100\nretry: 1e3\nretry: -5\nretry: 20 \nretry:\nretry: 0\n\n"]);
    expect(retries).toEqual([100, 0]);
  });

  it("ignores unknown fields and drops an event left unterminated at the end", () => {
    const { messages } = collect(["foo: bar\ndata: kept\n\ndata: lost"]);
    expect(messages.map((m) => m.data)).toEqual(["kept"]);
  });

  it("resumes from a given last event id", () => {
    const messages: SseMessage[] = [];
    const parser = new SseParser({ onMessage: (m) => messages.push(m) }, { lastEventId: "41" });
    parser.feed("data: x\n\n");
    expect(messages[0]!.id).toBe("41");
  });

  it("parseSse parses a whole capture", () => {
    expect(parseSse(STREAM)).toEqual(EXPECTED);
  });
});
