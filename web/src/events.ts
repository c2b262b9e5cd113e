// The server's push stream (GET /api/live/events, Server-Sent Events) for a page: typed handlers and a connection state in the header.

/** The events `pulse up` publishes, and "open": the stream (re)connected, so pushes may have been missed. */
export type StreamEventName = "progress" | "windows" | "alerts" | "open";
type Handler = (data: unknown) => void;

export interface LiveEvents {
  on(event: StreamEventName, handler: Handler): void;
  close(): void;
}

/** Says in the header that this process has no push stream (no stream job runs in it). */
export function showNoStream(status: HTMLElement | null): void {
  if (status === null) return;
  status.dataset.state = "off";
  status.textContent = "no stream job";
}

/**
 * Opens one EventSource for the page. EventSource reconnects by itself and resumes with Last-Event-ID;
 * the header says whether the stream is live. A 503 (no stream job in this process) ends retries.
 */
export function openLiveEvents(status: HTMLElement | null): LiveEvents {
  const source = new EventSource("/api/live/events");
  const handlers = new Map<StreamEventName, Handler[]>();
  const show = (state: "live" | "reconnecting" | "off", text: string): void => {
    if (status === null) return;
    status.dataset.state = state;
    status.textContent = text;
  };
  show("reconnecting", "connecting…");
  source.addEventListener("open", () => {
    show("live", "live");
    for (const handler of handlers.get("open") ?? []) handler(undefined);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) show("off", "no live stream");
    else show("reconnecting", "reconnecting…");
  });
  for (const name of ["progress", "windows", "alerts"] as const) {
    source.addEventListener(name, (event) => {
      const list = handlers.get(name);
      if (list === undefined) return;
      const data = JSON.parse((event as MessageEvent<string>).data) as unknown;
      for (const handler of list) handler(data);
    });
  }
  return {
    on(event, handler) {
      handlers.set(event, [...(handlers.get(event) ?? []), handler]);
    },
    close() {
      source.close();
    },
  };
}

/**
 * Runs `task` now and again whenever `request()` is called, never two at once: a request that comes
 * while it runs makes one more run after it. So a page reads the API at most as fast as the server
 * answers, however fast the pushes come, and its last read always follows the last push.
 */
export function coalesced(task: () => Promise<void>): { request(): void; done(): Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): void => {
    running = task()
      .catch((error: unknown) => console.warn("refresh failed:", error))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return {
    request() {
      if (running === undefined) run();
      else again = true;
    },
    done: () => running ?? Promise.resolve(),
  };
}
