// The speed layer on its own: the stream job from the platform's log into the live store, opened and closed in order.

import type { PulseConfig } from "../config/index.ts";
import type { LiveStore } from "../store/index.ts";
import { StreamJob, type StreamJobOptions } from "../stream/job/index.ts";
import { openStore } from "./backends.ts";
import { openPlatform, type Platform } from "./platform.ts";

/** The job's settings other than its parts, which come from the config. */
export type StreamJobSettings = Omit<StreamJobOptions, "log" | "serde" | "store" | "maxFutureSkewMs">;

export interface Streaming {
  platform: Platform;
  store: LiveStore;
  job: StreamJob;
  /** Closes the platform, then the store. */
  close(): Promise<void>;
}

export async function openStreaming(
  config: PulseConfig,
  options: { source: string; job: StreamJobSettings; onRegistryUnavailable?: (message: string) => void },
): Promise<Streaming> {
  // The store first: a backend that is not available stops the command before any file is created.
  const store = await openStore(config);
  let platform: Platform | undefined;
  try {
    platform = await openPlatform(config, {
      source: options.source,
      onRegistryUnavailable: options.onRegistryUnavailable,
    });
    const opened = platform;
    const job = new StreamJob({
      ...options.job,
      log: opened.log,
      serde: opened.serde,
      store,
      maxFutureSkewMs: config.validation.max_future_skew_sec * 1000,
    });
    return {
      platform: opened,
      store,
      job,
      async close() {
        await opened.close();
        await store.close();
      },
    };
  } catch (error) {
    await platform?.close();
    await store.close();
    throw error;
  }
}
