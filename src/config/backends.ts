// Turns backend URLs from the config into implementations; the only place that knows every backend.

import { EmbeddedLog } from "../log/embedded.ts";
import type { Log } from "../log/index.ts";
import { ConfigError } from "../errors.ts";
import { HttpRegistryClient } from "../registry/http-client.ts";
import type { SchemaRegistryClient } from "../registry/index.ts";
import { SchemaRegistry } from "../registry/registry.ts";
import { EmbeddedLiveStore } from "../store/embedded.ts";
import type { LiveStore } from "../store/index.ts";
import { embeddedPath, type PulseConfig } from "./index.ts";

/** The registry operations the CLI uses; the embedded registry and the HTTP client both have them. */
export type RegistryClient = SchemaRegistryClient &
  Pick<SchemaRegistry, "listSubjects" | "listVersions" | "getConfig" | "getVersion">;

export interface RegistryBackend {
  client: RegistryClient;
  /** The in-process registry when embedded, so the HTTP server can serve its REST API. */
  embedded: SchemaRegistry | undefined;
  close(): void;
}

export function openLog(config: PulseConfig): Log {
  const path = embeddedPath(config.log, config.data_dir);
  if (path !== undefined) return EmbeddedLog.open({ path });
  throw new ConfigError(
    `log '${config.log}': the Kafka log backend is not available in this version yet; use log: embedded:<file> (the default).`,
  );
}

export function openRegistry(config: PulseConfig): RegistryBackend {
  const path = embeddedPath(config.registry, config.data_dir);
  if (path !== undefined) {
    const registry = SchemaRegistry.open({ path });
    return { client: registry, embedded: registry, close: () => registry.close() };
  }
  return { client: new HttpRegistryClient({ url: config.registry }), embedded: undefined, close: () => undefined };
}

/** The live store named by `store`: the embedded SQLite file, or (later) MongoDB. */
export function openStore(config: PulseConfig): LiveStore {
  const path = embeddedPath(config.store, config.data_dir);
  if (path !== undefined) return EmbeddedLiveStore.open({ path });
  throw new ConfigError(
    `store '${redactUrl(config.store)}': the MongoDB live store is not available in this version yet; use store: embedded:<file> (the default, embedded:store.db).`,
  );
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
