// Loads pulse.config.yaml and PULSE_* variables into typed settings, validated once at start-up.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import type { Node as YamlNode, YAMLMap } from "yaml";
import { ConfigError, type ErrorLocation } from "../errors.ts";
import { CONFIG_SCHEMA, type FieldSpec, isToolVariable } from "./schema.ts";

export interface PulseConfig {
  data_dir: string;
  log: string;
  registry: string;
  store: string;
  warehouse: string;
  orchestrator: {
    runs: string;
    scheduler: "on" | "off";
    dags_folder: string;
    webhook: string;
    parallelism: number;
    lease_sec: number;
  };
  server: { host: string; port: number; admin_token: string };
  collector: { api_keys: string[]; max_body_bytes: number; max_pending_batches: number };
  topics: { prefix: string; partitions: number; retention_hours: number; retention_mb: number };
  retention: { store_hours: number; warehouse_days: number };
  producer: { compression: string };
  simulator: {
    rate: number;
    seed: number;
    users: number;
    out_of_order_share: number;
    max_lateness_sec: number;
    duplicate_share: number;
    malformed_share: number;
  };
  wikimedia: { source: string; url: string };
  validation: { max_future_skew_sec: number };
}

export interface LoadConfigOptions {
  /** Explicit config file (from --config); otherwise PULSE_CONFIG, then ./pulse.config.yaml if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Values from command-line flags, by dotted key (`server.port`); they win over file and environment. */
  overrides?: Record<string, unknown>;
  /**
   * Told about a `PULSE_*` variable that is no setting (and none of Pulse's tool variables), with the
   * nearest setting's variable when one is close: a typo is worth a warning, never a failed command.
   */
  onWarning?: (message: string) => void;
}

export const DEFAULT_CONFIG_FILE = "pulse.config.yaml";

/** Where a value came from, for error messages; `location` when it is a line of the config file. */
interface Origin {
  describe(key: string): string;
  location?: ErrorLocation;
}

export function loadConfig(options: LoadConfigOptions = {}): PulseConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const config = defaultsOf(CONFIG_SCHEMA) as unknown as PulseConfig;

  const file =
    options.file ??
    env.PULSE_CONFIG ??
    (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  if (file !== undefined) applyFile(config, resolve(cwd, file));
  applyEnv(config, env, options.onWarning);
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    const spec = specAt(key);
    if (spec === undefined || spec.kind === "section") {
      throw new ConfigError(`unknown setting '${key}'. Accepted: ${leafKeys(CONFIG_SCHEMA).join(", ")}.`);
    }
    setAt(config, key, coerce(spec, value, key, { describe: (k) => `command-line flag for '${k}'` }));
  }
  if (!isAbsolute(config.data_dir)) config.data_dir = resolve(cwd, config.data_dir);
  return config;
}

/** The documentation table of every key, for `pulse config --help` and docs/configuration.md. */
export function describeConfig(): Array<{ key: string; env?: string; default: unknown; doc: string }> {
  const rows: Array<{ key: string; env?: string; default: unknown; doc: string }> = [];
  const walk = (fields: Readonly<Record<string, FieldSpec>>, prefix: string): void => {
    for (const [name, spec] of Object.entries(fields)) {
      const key = prefix + name;
      if (spec.kind === "section") walk(spec.fields, `${key}.`);
      else rows.push({ key, env: spec.env, default: spec.default, doc: spec.doc });
    }
  };
  walk(CONFIG_SCHEMA, "");
  return rows;
}

function defaultsOf(fields: Readonly<Record<string, FieldSpec>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    out[name] =
      spec.kind === "section"
        ? defaultsOf(spec.fields)
        : Array.isArray(spec.default)
          ? [...spec.default]
          : spec.default;
  }
  return out;
}

function applyFile(config: PulseConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(cause as Error).message}. Fix the path or remove --config/PULSE_CONFIG.`,
      {
        cause,
        location: { file: path },
      },
    );
  }
  // Loaded only for a config file: most runs have none, and loading it is about a tenth of a command's start-up.
  const { isMap, isScalar, LineCounter, parseDocument } = createRequire(import.meta.url)(
    "yaml",
  ) as typeof import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    const { line, col } = lineCounter.linePos(error.pos[0]);
    // The parser's error is not kept as the cause: its message quotes the line, which may hold a secret.
    throw new ConfigError(`${path}:${line}: invalid YAML: ${error.message.split("\n")[0]}`, {
      location: { file: path, line, column: col },
    });
  }
  if (doc.contents === null) return;
  const locate = (node: YamlNode | null | undefined): ErrorLocation => {
    const start = node?.range?.[0];
    if (start === undefined) return { file: path };
    const { line, col } = lineCounter.linePos(start);
    return { file: path, line, column: col };
  };
  // Messages name the file and line; the error's location adds the column.
  const where = (node: YamlNode | null | undefined): string => {
    const { line } = locate(node);
    return line === undefined ? path : `${path}:${line}`;
  };
  if (!isMap(doc.contents)) {
    throw new ConfigError(`${path}: the config file must be a mapping of keys to values.`, {
      location: { file: path },
    });
  }

  const walk = (map: YAMLMap, fields: Readonly<Record<string, FieldSpec>>, prefix: string): void => {
    for (const pair of map.items) {
      const keyNode = pair.key as YamlNode;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const key = prefix + name;
      // Own keys only: "constructor" or "__proto__" would otherwise find Object.prototype's and pass.
      const spec = Object.hasOwn(fields, name) ? fields[name] : undefined;
      if (spec === undefined) {
        throw new ConfigError(
          `${where(keyNode)}: unknown key '${key}'. Accepted keys${prefix ? ` in '${prefix.slice(0, -1)}'` : ""}: ${Object.keys(fields).join(", ")}.`,
          { location: locate(keyNode) },
        );
      }
      const valueNode = pair.value as YamlNode | null;
      if (spec.kind === "section") {
        if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue;
        if (!isMap(valueNode)) {
          throw new ConfigError(
            `${where(keyNode)}: '${key}' must be a mapping with keys ${Object.keys(spec.fields).join(", ")}.`,
            { location: locate(keyNode) },
          );
        }
        walk(valueNode, spec.fields, `${key}.`);
        continue;
      }
      const value = valueNode === null ? null : (valueNode.toJSON() as unknown);
      setAt(
        config,
        key,
        coerce(spec, value, key, { describe: () => where(keyNode), location: locate(keyNode) }),
      );
    }
  };
  walk(doc.contents, CONFIG_SCHEMA, "");
}

function applyEnv(config: PulseConfig, env: NodeJS.ProcessEnv, warn?: (message: string) => void): void {
  const byEnv = new Map<string, string>();
  const walk = (fields: Readonly<Record<string, FieldSpec>>, prefix: string): void => {
    for (const [name, spec] of Object.entries(fields)) {
      if (spec.kind === "section") walk(spec.fields, `${prefix}${name}.`);
      else if (spec.env !== undefined) byEnv.set(spec.env, prefix + name);
    }
  };
  walk(CONFIG_SCHEMA, "");
  const known = [...byEnv.keys(), "PULSE_CONFIG"];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("PULSE_") || value === undefined) continue;
    const key = byEnv.get(name);
    if (key === undefined) {
      if (name !== "PULSE_CONFIG") warn?.(unknownVariable(name, known));
      continue;
    }
    setAt(config, key, coerce(specAt(key)!, value, key, { describe: () => `environment variable ${name}` }));
  }
}

/** The warning for a PULSE_* variable that is no setting: the nearest one when it is a likely typo. */
function unknownVariable(name: string, known: readonly string[]): string {
  if (isToolVariable(name))
    return `environment variable ${name} is read by Pulse's scripts, benchmarks or tests, not by pulse; it is ignored.`;
  const [nearest] = known
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate));
  const hint =
    nearest !== undefined && nearest.distance <= 3
      ? ` Did you mean ${nearest.candidate}?`
      : ` The settings' variables are ${[...known].sort().join(", ")}.`;
  return `environment variable ${name} is not a Pulse setting; it is ignored.${hint}`;
}

/** Levenshtein distance: the fewest one-character edits that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length]!;
}

function coerce(spec: FieldSpec, value: unknown, key: string, origin: Origin): unknown {
  const at = origin.describe(key);
  const fail = (expected: string): never => {
    // A connection string may hold a password: the message shows the URL without its user info.
    const shown =
      spec.kind === "url" && typeof value === "string" ? value.replace(/\/\/[^/]*@/, "//…@") : value;
    throw new ConfigError(`${at}: '${key}' ${expected}, got ${JSON.stringify(shown)}. ${spec.doc}`, {
      location: origin.location,
    });
  };
  switch (spec.kind) {
    case "string":
      if (typeof value !== "string" && typeof value !== "number") fail("must be a string");
      if (spec.pattern !== undefined && !spec.pattern.test(String(value))) fail(`must match ${spec.pattern}`);
      return String(value);
    case "int":
    case "number": {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isFinite(n)) fail("must be a number");
      const num = n as number;
      if (spec.kind === "int" && !Number.isInteger(num)) fail("must be a whole number");
      if (num < spec.min || num > spec.max) fail(`must be between ${spec.min} and ${spec.max}`);
      return num;
    }
    case "enum":
      if (typeof value !== "string" || !spec.values.includes(value))
        fail(`must be one of ${spec.values.join(", ")}`);
      return value;
    case "url": {
      if (typeof value !== "string" || value === "") fail(`must be a URL with scheme ${schemesText(spec)}`);
      const text = value as string;
      if (spec.keywords?.includes(text)) return text;
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
      if (scheme === undefined || !spec.schemes.includes(scheme)) {
        fail(`has an unsupported URL scheme; accepted: ${schemesText(spec)}`);
      }
      if (scheme === "embedded") {
        if (text.length <= "embedded:".length) fail("needs a file after 'embedded:', e.g. embedded:log.db");
        return text;
      }
      if (spec.topicSchemes?.includes(scheme!)) {
        // Kafka's topic name rule: 1-249 of [A-Za-z0-9._-].
        if (!/^[A-Za-z0-9._-]{1,249}$/.test(text.slice(scheme!.length + 1))) {
          fail(
            `needs a topic name after '${scheme}:' (letters, digits, '.', '_', '-'), e.g. ${scheme}:_schemas`,
          );
        }
        return text;
      }
      checkNetworkUrl(text, scheme!, fail);
      return text;
    }
    case "list":
      if (typeof value === "string")
        return value
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string" || typeof v === "number")) {
        fail("must be a list of strings");
      }
      return (value as unknown[]).map(String);
    case "section":
      return fail("is a section, not a value");
  }
}

function checkNetworkUrl(text: string, scheme: string, fail: (expected: string) => never): void {
  if (scheme === "kafka") {
    // kafka://host:port[,host:port…] — a bootstrap list, which the WHATWG URL parser does not accept.
    const hosts = text.slice("kafka://".length).split(",");
    for (const host of hosts) {
      if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(host) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(host)) {
        fail("must be kafka://host:port[,host:port…]");
      }
    }
    return;
  }
  if (scheme === "mongodb" || scheme === "mongodb+srv") {
    // A MongoDB connection string may list several hosts, which the WHATWG URL parser does not accept.
    const hosts = text
      .slice(scheme.length + 3)
      .replace(/^[^/]*@/, "")
      .split(/[/?]/)[0]!;
    if (hosts === "" || (scheme === "mongodb+srv" && hosts.includes(","))) {
      fail(`must be ${scheme}://${scheme === "mongodb" ? "host[:port][,host:port…]" : "host"}[/database]`);
    }
    return;
  }
  try {
    const url = new URL(text);
    if (url.hostname === "") fail("needs a host");
  } catch {
    fail(`is not a valid ${scheme} URL`);
  }
}

function schemesText(spec: {
  schemes: readonly string[];
  topicSchemes?: readonly string[];
  keywords?: readonly string[];
}): string {
  const forms = spec.schemes.map((s) =>
    s === "embedded" ? "embedded:<file>" : spec.topicSchemes?.includes(s) ? `${s}:<topic>` : `${s}://…`,
  );
  return [...(spec.keywords ?? []), ...forms].join(", ");
}

function specAt(key: string): FieldSpec | undefined {
  let fields: Readonly<Record<string, FieldSpec>> = CONFIG_SCHEMA;
  let spec: FieldSpec | undefined;
  for (const part of key.split(".")) {
    spec = Object.hasOwn(fields, part) ? fields[part] : undefined;
    if (spec === undefined) return undefined;
    if (spec.kind === "section") fields = spec.fields;
  }
  return spec;
}

function setAt(target: object, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

function leafKeys(fields: Readonly<Record<string, FieldSpec>>, prefix = ""): string[] {
  return Object.entries(fields).flatMap(([name, spec]) =>
    spec.kind === "section" ? leafKeys(spec.fields, `${prefix}${name}.`) : [prefix + name],
  );
}
