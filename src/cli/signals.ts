// Ctrl-C and SIGTERM as an AbortSignal, so every loop stops at a batch boundary and closes cleanly.

export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Aborts after `seconds` (if given) or when `parent` aborts, whichever comes first. */
export function withDeadline(parent: AbortSignal, seconds: number | undefined): AbortSignal {
  if (seconds === undefined) return parent;
  // Not AbortSignal.any + AbortSignal.timeout: on Node 20 the timeout signal can be collected before it fires.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  const onParentAbort = (): void => controller.abort();
  parent.addEventListener("abort", onParentAbort, { once: true });
  controller.signal.addEventListener("abort", () => {
    clearTimeout(timer);
    parent.removeEventListener("abort", onParentAbort);
  });
  return controller.signal;
}
