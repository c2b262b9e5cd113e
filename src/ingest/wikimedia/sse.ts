// Incremental Server-Sent Events parser (WHATWG HTML "event stream" interpretation), fed arbitrary text chunks.

/**
 * Wire grammar (WHATWG HTML, 9.2.5), after UTF-8 decoding:
 *
 *   stream  = [ BOM ] *event
 *   event   = *( comment / field ) end-of-line
 *   comment = ":" *any-char end-of-line
 *   field   = name [ ":" [ " " ] value ] end-of-line
 *   end-of-line = CRLF / LF / CR
 *
 * Fields: `event` sets the type, `data` appends value + LF, `id` sets the last event id (ignored if it
 * holds NUL), `retry` sets the reconnection time (ASCII digits only). Unknown fields are ignored. A blank
 * line dispatches; the trailing LF of data is removed; empty data dispatches nothing, but the last event id
 * still takes effect. An event not terminated by a blank line when the stream ends is discarded.
 */

export interface SseMessage {
  /** The `event:` field, "message" when absent. */
  event: string;
  data: string;
  /** The last event id at dispatch time; undefined while it is empty. */
  id: string | undefined;
}

export interface SseHandlers {
  onMessage: (message: SseMessage) => void;
  /** The server asked for a new reconnection delay. */
  onRetry?: (retryMs: number) => void;
  /** A comment line, without its leading ':' (EventStreams opens with ":ok"). */
  onComment?: (text: string) => void;
}

export interface SseParserOptions {
  /** Start from a known last event id, as after a reconnect. */
  lastEventId?: string;
}

const LF = 10;
const CR = 13;

export class SseParser {
  #handlers: SseHandlers;
  /** Text after the last line terminator; never holds CR or LF. */
  #partial = "";
  /** The previous chunk ended in CR, so a LF at the start of the next one belongs to that CR. */
  #skipLf = false;
  #bomChecked = false;
  #data = "";
  #hasData = false;
  #eventType = "";
  #idBuffer: string;
  #lastEventId: string;
  #comments = 0;

  constructor(handlers: SseHandlers, options: SseParserOptions = {}) {
    this.#handlers = handlers;
    this.#idBuffer = options.lastEventId ?? "";
    this.#lastEventId = this.#idBuffer;
  }

  /** The id of the last dispatched event (the value EventSource sends back as Last-Event-ID). */
  get lastEventId(): string | undefined {
    return this.#lastEventId === "" ? undefined : this.#lastEventId;
  }

  get commentCount(): number {
    return this.#comments;
  }

  feed(chunk: string): void {
    if (chunk.length === 0) return;
    let from = 0;
    if (this.#skipLf) {
      this.#skipLf = false;
      if (chunk.charCodeAt(0) === LF) from = 1;
    }
    let text = from === 0 ? chunk : chunk.slice(from);
    if (!this.#bomChecked && (this.#partial.length > 0 || text.length > 0)) {
      this.#bomChecked = true;
      if (this.#partial.length === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const scanFrom = this.#partial.length;
    const buffer = scanFrom === 0 ? text : this.#partial + text;
    let lineStart = 0;
    for (let i = scanFrom; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      this.#line(buffer.slice(lineStart, i));
      if (c === CR) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === LF) i++;
        } else {
          this.#skipLf = true;
        }
      }
      lineStart = i + 1;
    }
    this.#partial = lineStart === 0 ? buffer : buffer.slice(lineStart);
  }

  /** The stream ended: drop the unterminated line and event, as the spec requires. */
  end(): void {
    this.#partial = "";
    this.#skipLf = false;
    this.#data = "";
    this.#hasData = false;
    this.#eventType = "";
  }

  #line(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.#comments++;
      this.#handlers.onComment?.(line.slice(1));
      return;
    }
    let name: string;
    let value: string;
    if (colon < 0) {
      name = line;
      value = "";
    } else {
      name = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (name) {
      case "event":
        this.#eventType = value;
        break;
      case "data":
        this.#data = this.#hasData ? `${this.#data}\n${value}` : value;
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.#idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.#handlers.onRetry?.(Number.parseInt(value, 10));
        break;
      default:
        break;
    }
  }

  #dispatch(): void {
    this.#lastEventId = this.#idBuffer;
    if (!this.#hasData) {
      this.#eventType = "";
      return;
    }
    const message: SseMessage = {
      event: this.#eventType === "" ? "message" : this.#eventType,
      data: this.#data,
      id: this.lastEventId,
    };
    this.#data = "";
    this.#hasData = false;
    this.#eventType = "";
    this.#handlers.onMessage(message);
  }
}

/** Parse a whole SSE text at once (captures, tests). */
export function parseSse(text: string): SseMessage[] {
  const out: SseMessage[] = [];
  const parser = new SseParser({ onMessage: (m) => out.push(m) });
  parser.feed(text);
  parser.end();
  return out;
}
