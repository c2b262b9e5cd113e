// Small HTTP helpers shared by every handler: bounded body reading and JSON answers.

import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PulseError, type PulseErrorCode, type PulseErrorOptions } from "../errors.ts";

/** An error that maps to an HTTP status; its message is safe to show the client. */
export class HttpError extends PulseError {
  readonly status: number;
  constructor(status: number, code: PulseErrorCode, message: string, options: PulseErrorOptions = {}) {
    super(code, message, options);
    this.status = status;
  }
}

/**
 * A mounted handler: answers and returns true when it owns `path` (the URL path below its mount point),
 * or returns false so the server tries the next one.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message } }, headers);
}

/** Reads the whole body, refusing (413) as soon as it grows past `maxBytes` instead of buffering it. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw tooLarge(maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) {
      req.resume();
      throw tooLarge(maxBytes);
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "PULSE_HTTP_BODY_TOO_LARGE",
    `request body is larger than ${maxBytes} bytes; send smaller batches`,
  );
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (cause) {
    const message = `request body is not valid JSON: ${(cause as Error).message}`;
    throw new HttpError(400, "PULSE_HTTP_BAD_JSON", message, { cause });
  }
}

/** Whether the request's `Authorization: Bearer <token>` is `expected`, compared in constant time. */
export function bearerIs(req: IncomingMessage, expected: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "");
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}
