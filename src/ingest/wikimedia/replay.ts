// Replays a recorded Wikimedia recentchange file (JSON lines or an SSE capture), paced by meta.dt.

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { ReplayErrorCode } from "../../errors.ts";
import { EventTimePacer } from "../pacer.ts";
import { sourceFileError } from "../source-file.ts";
import { isCanary } from "./mapping.ts";
import { SseParser, type SseMessage } from "./sse.ts";

export interface ReplayWikimediaOptions {
  /** 1 = recorded pace, 2 = twice as fast, 0 (default) = as fast as possible. */
  speed?: number;
  /** Start over at the end, until aborted. Ids repeat on every pass. */
  loop?: boolean;
  signal?: AbortSignal;
  /** A line (or SSE event) that is not a JSON object; the replay goes on. */
  onBadLine?: (bad: ReplayBadLine) => void;
}

export interface ReplayBadLine {
  path: string;
  /** 1-based; for an SSE capture, the blank line that ended the event. */
  line: number;
  code: ReplayErrorCode;
  message: string;
}

/** An SSE capture starts (after blank lines) with a field or a comment; JSON lines start with "{". */
const SSE_FIRST_LINE = /^(?::|event:|data:|id:|retry:)/;

function eventTimeOf(raw: unknown): number | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const meta = (raw as { meta?: unknown }).meta;
  if (typeof meta !== "object" || meta === null) return undefined;
  const dt = (meta as { dt?: unknown }).dt;
  if (typeof dt !== "string") return undefined;
  const ms = Date.parse(dt);
  return Number.isFinite(ms) ? ms : undefined;
}

interface ParsedItem {
  line: number;
  text: string;
}

/** One pass over the file: yields the JSON text of each event with its line number. */
async function* readItems(path: string): AsyncGenerator<ParsedItem> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let mode: "unknown" | "jsonl" | "sse" = "unknown";
  const pending: SseMessage[] = [];
  const sse = new SseParser({ onMessage: (m) => pending.push(m) });
  let lineNo = 0;
  try {
    for await (const rawLine of lines) {
      lineNo++;
      const line = lineNo === 1 && rawLine.charCodeAt(0) === 0xfeff ? rawLine.slice(1) : rawLine;
      if (mode === "unknown") {
        if (line.trim().length === 0) continue;
        mode = SSE_FIRST_LINE.test(line) ? "sse" : "jsonl";
      }
      if (mode === "jsonl") {
        if (line.trim().length > 0) yield { line: lineNo, text: line };
        continue;
      }
      sse.feed(`${line}\n`);
      while (pending.length > 0) {
        const message = pending.shift()!;
        if (message.event === "message") yield { line: lineNo, text: message.data };
      }
    }
    if (mode === "sse") {
      // A capture cut after its last data line still holds a whole event; dispatch it.
      sse.feed("\n");
      for (const message of pending)
        if (message.event === "message") yield { line: lineNo, text: message.data };
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * Yields raw recentchange events (parsed JSON objects, canary events dropped) in file order.
 * Bad lines are reported through `onBadLine` and skipped. A missing or unreadable file throws a
 * SourceError with code PULSE_SOURCE_FILE_UNREADABLE.
 */
export async function* replayWikimedia(
  path: string,
  options: ReplayWikimediaOptions = {},
): AsyncGenerator<unknown> {
  const { speed = 0, loop = false, signal, onBadLine } = options;
  const pacer = new EventTimePacer(speed, signal);
  for (;;) {
    let yielded = 0;
    pacer.reset();
    try {
      for await (const item of readItems(path)) {
        if (signal?.aborted) return;
        let raw: unknown;
        try {
          raw = JSON.parse(item.text);
        } catch (error) {
          onBadLine?.({
            path,
            line: item.line,
            code: ReplayErrorCode.badJson,
            message: `${path}:${item.line}: not valid JSON (${(error as Error).message})`,
          });
          continue;
        }
        if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
          onBadLine?.({
            path,
            line: item.line,
            code: ReplayErrorCode.notObject,
            message: `${path}:${item.line}: a recentchange event must be a JSON object`,
          });
          continue;
        }
        if (isCanary(raw)) continue;
        if (!(await pacer.wait(eventTimeOf(raw)))) return;
        yielded++;
        yield raw;
      }
    } catch (error) {
      throw sourceFileError(error, "replay file", path);
    }
    // An empty pass would make a loop spin forever.
    if (!loop || yielded === 0 || signal?.aborted) return;
  }
}
