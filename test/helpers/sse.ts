// A Server-Sent Events reader for end-to-end tests: waits for the first event that satisfies a test, not for a time.
import type { OnCleanup } from "./cli.ts";

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface SseStream {
  /**
   * The first event from now on for which `accept` is true. Rejects when the stream ends first, or after
   * `timeoutMs`: a safety net for a process that never gets there, never the condition being waited on.
   */
  next(accept: (event: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent>;
}

/** Connects to `url` (an SSE endpoint) and keeps reading until the test finishes. */
export async function openSse(url: string, onCleanup: OnCleanup): Promise<SseStream> {
  const controller = new AbortController();
  onCleanup(() => controller.abort());
  const response = await fetch(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}: ${await response.text()}`);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const waiters = new Set<{
    accept: (e: SseEvent) => boolean;
    resolve: (e: SseEvent) => void;
    reject: (e: Error) => void;
  }>();
  let ended: Error | undefined;

  // Frames are separated by a blank line; within one, "event:" names it and "data:" holds its JSON.
  void (async () => {
    let buffered = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffered += value;
        let end = buffered.indexOf("\n\n");
        while (end >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf("\n\n");
          let name = "message";
          let data: string | undefined;
          for (const line of frame.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data = line.slice(6);
          }
          if (data === undefined) continue;
          const event = { event: name, data: JSON.parse(data) as unknown };
          for (const waiter of [...waiters]) {
            if (waiter.accept(event)) {
              waiters.delete(waiter);
              waiter.resolve(event);
            }
          }
        }
      }
      ended = new Error(`${url}: the event stream ended`);
    } catch (error) {
      ended = error instanceof Error ? error : new Error(String(error));
    }
    for (const waiter of waiters) waiter.reject(ended);
    waiters.clear();
  })();

  return {
    next(accept, timeoutMs) {
      if (ended !== undefined) return Promise.reject(ended);
      return new Promise<SseEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${url}: no matching event within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          accept,
          resolve: (event: SseEvent) => {
            clearTimeout(timer);
            resolve(event);
          },
          reject: (error: Error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        waiters.add(waiter);
      });
    },
  };
}
