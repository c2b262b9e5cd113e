// Opens the run store a URL names: embedded:<file> or sqlite:<file> (SQLite, relative to the data folder), a file path, or a PostgreSQL URL.

import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../../errors.ts";
import { embeddedPath } from "../../paths.ts";
import type { RunStore, RunStoreOptions } from "./index.ts";

export interface OpenRunStoreOptions extends RunStoreOptions {
  /** The folder an `embedded:<file>`, `sqlite:<file>` or relative path is relative to. */
  dataDir: string;
  /** PostgreSQL only: the schema the tables are in (default "pulse_runs"). */
  schema?: string;
}

const FORMS =
  "embedded:<file> (a SQLite file in the data folder, e.g. embedded:runs.db), sqlite:<file> or a file path (SQLite), or postgres://user@host:port/database (PostgreSQL)";

/**
 * The run store `url` names. A value without a scheme is a SQLite file's path; one with a scheme must be
 * embedded:, sqlite:, postgres:// or postgresql://. pg is loaded only for a PostgreSQL URL.
 */
export async function openRunStore(url: string, options: OpenRunStoreOptions): Promise<RunStore> {
  const path = sqlitePath(url, options.dataDir);
  if (path !== undefined) {
    const { SqliteRunStore } = await import("./sqlite/index.ts");
    return SqliteRunStore.open({ path, clock: options.clock });
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { PostgresRunStore } = await import("./postgres/index.ts");
    return PostgresRunStore.open({ url, clock: options.clock, schema: options.schema });
  }
  throw new ConfigError(`run store '${redactUrl(url)}': not a run store URL; use ${FORMS}.`);
}

/** The SQLite file `url` names, resolved against the data folder; undefined for any other URL. */
function sqlitePath(url: string, dataDir: string): string | undefined {
  const prefix = ["embedded:", "sqlite:"].find((scheme) => url.startsWith(scheme));
  if (prefix !== undefined) {
    const file = url.slice(prefix.length);
    return file === "" ? undefined : embeddedPath(`embedded:${file}`, dataDir);
  }
  // A scheme is a letter, then letters, digits, + - or ., then a colon: "mysql://…", "localhost:5432".
  if (url === "" || /^[a-z][a-z0-9+.-]*:/i.test(url)) return undefined;
  return isAbsolute(url) ? url : resolve(dataDir, url);
}

/** A URL without its user info, so a password in a connection string never reaches a message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
