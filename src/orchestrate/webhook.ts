// The built-in notifier: each orchestrator event POSTed as JSON to a configured URL, with a timeout and one retry.

import { OrchestrateError, OrchestrateErrorCode } from "../errors.ts";
import type { OrchestrateEvent } from "./dag.ts";

export interface WebhookOptions {
  /** Per request (default 5 s). */
  timeoutMs?: number;
  /** Which events are sent (default: retries, failures and run ends; task successes are many). */
  kinds?: readonly OrchestrateEvent["kind"][];
}

const DEFAULT_KINDS: readonly OrchestrateEvent["kind"][] = [
  "task_retry",
  "task_failure",
  "run_success",
  "run_failure",
];

/**
 * A notifier for Scheduler's `notify`: POSTs `{"event": …}` with content-type application/json. A
 * request that fails or answers other than 2xx is tried once more, then reported as an error (the
 * scheduler logs it; the task is not affected).
 */
export function webhookNotifier(
  url: string,
  options: WebhookOptions = {},
): (event: OrchestrateEvent) => Promise<void> {
  const target = URL.canParse(url) ? new URL(url) : undefined;
  if (target === undefined || (target.protocol !== "http:" && target.protocol !== "https:")) {
    throw new OrchestrateError(
      OrchestrateErrorCode.badArgument,
      `orchestrator.webhook must be an http:// or https:// URL, got ${JSON.stringify(url)}.`,
    );
  }
  const kinds = new Set(options.kinds ?? DEFAULT_KINDS);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return async (event) => {
    if (!kinds.has(event.kind)) return;
    const body = JSON.stringify({ event });
    let failure = "";
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const response = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "pulse-orchestrator" },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        failure = `HTTP ${response.status}`;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
    }
    throw new OrchestrateError(
      OrchestrateErrorCode.webhook,
      `The webhook ${target.origin}${target.pathname} did not take the ${event.kind} event of ${event.dagId}: ${failure}.`,
    );
  };
}
