// Connecting the MongoDB live store: checking the URL and its database name, the client's timeouts, and the URL as messages may show it.
import { type Db, MongoClient } from "mongodb";
import { StoreError, StoreErrorCode } from "../../errors.ts";
import { toStoreError } from "./errors.ts";

const DEFAULT_DATABASE = "pulse";
const DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 10_000;
const OPERATION_TIMEOUT_MS = 60_000;

export interface MongoConnectOptions {
  /** mongodb:// or mongodb+srv:// connection string; the database is its path (default "pulse"). */
  url: string;
  /** How long an operation waits for a reachable server before failing with PULSE_STORE_UNAVAILABLE. */
  serverSelectionTimeoutMs?: number;
}

/** An open client on the URL's database. */
export interface MongoConnection {
  client: MongoClient;
  db: Db;
  /** The connection string without password or options, as messages show it. */
  url: string;
  /** Removes the URL's password from a driver message. */
  redact: (text: string) => string;
}

/**
 * Connects to the URL's server and database and runs `prepare` on the connection; on any failure closes
 * the client and throws a StoreError naming the URL without its password.
 */
export async function connect<T>(
  options: MongoConnectOptions,
  prepare: (connection: MongoConnection) => Promise<T>,
): Promise<T> {
  const url = displayMongoUrl(options.url);
  const redact = redactor(options.url);
  const timeoutMs = options.serverSelectionTimeoutMs ?? DEFAULT_SERVER_SELECTION_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `MongoLiveStore serverSelectionTimeoutMs must be a whole number of ms > 0, got ${timeoutMs}.`,
    );
  }
  const name = databaseOf(options.url, url);
  let client: MongoClient;
  try {
    client = new MongoClient(options.url, {
      serverSelectionTimeoutMS: timeoutMs,
      // A server host that vanishes without closing its sockets (power loss, a network partition) leaves
      // a read that never ends, until TCP keepalive gives up minutes later; bound every round trip so the
      // stream job sees a retriable error and retries.
      socketTimeoutMS: OPERATION_TIMEOUT_MS,
      appName: "pulse",
    });
  } catch (error) {
    throw toStoreError(error, "opening the live store", url, redact);
  }
  try {
    await client.connect();
    return await prepare({ client, db: client.db(name), url, redact });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw toStoreError(error, "opening the live store", url, redact);
  }
}

/** Where the credentials of a connection string end: its last "@" before any path (over-redacts, never under). */
function splitCredentials(url: string): { scheme: string; userinfo: string | undefined; rest: string } {
  const schemeEnd = url.indexOf("://");
  if (schemeEnd < 0) return { scheme: "", userinfo: undefined, rest: url };
  const body = url.slice(schemeEnd + 3);
  const at = body.lastIndexOf("@");
  return at < 0
    ? { scheme: url.slice(0, schemeEnd + 3), userinfo: undefined, rest: body }
    : { scheme: url.slice(0, schemeEnd + 3), userinfo: body.slice(0, at), rest: body.slice(at + 1) };
}

/**
 * A connection string as messages may show it: the user name kept, the password replaced by ***, and the
 * options dropped (some, like tlsCertificateKeyFilePassword, are secrets too).
 */
export function displayMongoUrl(url: string): string {
  const { scheme, userinfo, rest } = splitCredentials(url);
  const query = rest.search(/[?#]/);
  const hostAndPath = query < 0 ? rest : `${rest.slice(0, query)}?…`;
  if (userinfo === undefined) return `${scheme}${hostAndPath}`;
  const colon = userinfo.indexOf(":");
  return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@${hostAndPath}`;
}

/** Removes the URL's password from driver messages, in case one quotes it. */
function redactor(url: string): (text: string) => string {
  const { userinfo } = splitCredentials(url);
  const colon = userinfo?.indexOf(":") ?? -1;
  if (userinfo === undefined || colon < 0) return (text) => text;
  const raw = userinfo.slice(colon + 1);
  const secrets = [raw];
  try {
    secrets.push(decodeURIComponent(raw));
  } catch {
    // Not percent-encoded: the raw form is the only one.
  }
  const words = secrets.filter((secret) => secret.length >= 3);
  return (text) => words.reduce((out, secret) => out.split(secret).join("***"), text);
}

/** Checks the URL's scheme and hosts; returns the database its path names, or "pulse". */
function databaseOf(url: string, display: string): string {
  if (!/^mongodb(\+srv)?:\/\//i.test(url)) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${display} is not a MongoDB URL; use mongodb://host[:port]/database or mongodb+srv://host/database.`,
    );
  }
  const { rest } = splitCredentials(url);
  const end = rest.search(/[?#]/);
  const hostAndPath = end < 0 ? rest : rest.slice(0, end);
  const slash = hostAndPath.indexOf("/");
  const path = slash < 0 ? "" : hostAndPath.slice(slash + 1);
  // The driver reports a bad host or port only when connecting, as a generic runtime error: check here.
  for (const host of (slash < 0 ? hostAndPath : hostAndPath.slice(0, slash)).split(",")) {
    const match = /^(?:\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host);
    if (match === null || (match[1] !== undefined && (Number(match[1]) < 1 || Number(match[1]) > 65535))) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `The live store URL ${display} has a bad host "${host}"; use host[:port] with a port in 1..65535, comma-separated for a replica set.`,
      );
    }
  }
  let name: string;
  try {
    name = decodeURIComponent(path);
  } catch {
    name = path;
  }
  if (name === "") return DEFAULT_DATABASE;
  if (/[/\\. "$\0]/.test(name) || name.length > 63) {
    throw new StoreError(
      StoreErrorCode.badArgument,
      `The live store URL ${display} names database "${name}", which MongoDB does not accept; use letters, digits, - and _ (at most 63).`,
    );
  }
  return name;
}
