// In-process requests and responses for fuzzing HTTP handlers without a socket: 10 000 requests in seconds.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

/** A request whose body is `body`, delivered in one chunk, as a handler reads it. */
export function fakeRequest(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  body: Uint8Array,
): IncomingMessage {
  const req = Readable.from(body.length > 0 ? [Buffer.from(body)] : [], { objectMode: false });
  return Object.assign(req, { method, url, headers, complete: true }) as unknown as IncomingMessage;
}

/** What a handler answered: status, headers and body text. */
export class FakeResponse {
  statusCode = 0;
  headersSent = false;
  destroyed = false;
  readonly headers = new Map<string, unknown>();
  body = "";

  setHeader(name: string, value: unknown): this {
    this.headers.set(name.toLowerCase(), value);
    return this;
  }

  writeHead(status: number, headers: Record<string, unknown> = {}): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }

  end(text?: string | Uint8Array): this {
    if (text !== undefined) this.body += typeof text === "string" ? text : Buffer.from(text).toString("utf8");
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }

  json(): unknown {
    return JSON.parse(this.body);
  }

  get asServerResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}
