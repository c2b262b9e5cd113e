// Node configs in layers: dbt_project.yml folders, then properties files, then config() in the file, merged as dbt merges them.

/*
 * Precedence, lowest first: the project's `models:`/`seeds:`/`data_tests:` tree (outer folders before inner
 * ones), a properties file's `config:`, then `config(...)` in the node's own file. A later layer's value
 * replaces an earlier one, except `tags` (unioned, in first-seen order) and `meta` (merged key by key), as
 * in dbt. Keys are compared with `-` read as `_` (`pre-hook` = `pre_hook`).
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import type { Materialization, NodeConfig, Severity, SourceLocation } from "./nodes.ts";

export interface ConfigEntry {
  value: unknown;
  at: SourceLocation;
}

/** One layer of configs, by normalized key. */
export type ConfigLayer = Map<string, ConfigEntry>;

/** A folder level of a `models:`-style tree: its `+` configs and its sub-folders (or node names). */
export interface ConfigTree {
  configs: ConfigLayer;
  children: Map<string, ConfigTree>;
}

export function emptyTree(): ConfigTree {
  return { configs: new Map(), children: new Map() };
}

export function normalizeKey(key: string): string {
  return key.replace(/-/g, "_");
}

/** The layers a node at `fqn` gets from a tree, outermost first (fqn[0] is the project's name). */
export function treeLayers(tree: ConfigTree, fqn: readonly string[]): ConfigLayer[] {
  const out: ConfigLayer[] = [tree.configs];
  let level: ConfigTree | undefined = tree;
  for (const part of fqn) {
    level = level.children.get(part);
    if (level === undefined) break;
    out.push(level.configs);
  }
  return out;
}

export function mergeLayers(layers: readonly ConfigLayer[]): ConfigLayer {
  const out: ConfigLayer = new Map();
  for (const layer of layers) {
    for (const [key, entry] of layer) {
      const before = out.get(key);
      if (key === "tags" && before !== undefined) {
        const tags = [...asTagList(before), ...asTagList(entry)];
        out.set(key, { value: [...new Set(tags)], at: entry.at });
      } else if (key === "meta" && before !== undefined && isRecord(before.value) && isRecord(entry.value)) {
        out.set(key, { value: { ...before.value, ...entry.value }, at: entry.at });
      } else out.set(key, entry);
    }
  }
  return out;
}

/** A layer from a plain object (a properties file's `config:`, or config() keyword arguments). */
export function layerOf(values: Record<string, unknown>, at: SourceLocation): ConfigLayer {
  const out: ConfigLayer = new Map();
  for (const [key, value] of Object.entries(values)) out.set(normalizeKey(key), { value, at });
  return out;
}

const MATERIALIZATIONS: readonly string[] = ["view", "table", "incremental", "ephemeral"];

/** Configs that would run SQL or change a build in ways the runner does not: an error, never ignored. */
const UNSUPPORTED: Record<string, string> = {
  pre_hook: "hooks are not supported; put the statement in a model",
  post_hook: "hooks are not supported; put the statement in a model",
  sql_header: "sql_header is not supported",
  snapshot_meta_column_names: "snapshots are not supported",
};

export type ConfigKind = "model" | "seed" | "test";

/** The merged configs of one node as a NodeConfig; a wrong value is an error at the file:line it was written. */
export function resolveConfig(kind: ConfigKind, layer: ConfigLayer): NodeConfig {
  const fail = (key: string, what: string, fix: string): never => {
    const at = layer.get(key)!.at;
    throw new ModelError(
      ModelErrorCode.projectInvalid,
      `${at.file}:${at.line}: config ${key}: ${what}. ${fix}`,
      {
        location: at,
      },
    );
  };
  const value = (key: string): unknown => layer.get(key)?.value;
  const string = (key: string): string | undefined => {
    const v = value(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" && typeof v !== "number")
      fail(key, `expected a string, got ${JSON.stringify(v)}`, "Write one name");
    return String(v);
  };
  const bool = (key: string): boolean | undefined => {
    const v = value(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean")
      fail(key, `expected true or false, got ${JSON.stringify(v)}`, "Write true or false");
    return v as boolean;
  };

  for (const [key, why] of Object.entries(UNSUPPORTED)) {
    const v = value(key);
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && v !== "")
      fail(key, why, "Remove it (Pulse's runner would not run it)");
  }
  const onSchemaChange = string("on_schema_change");
  if (onSchemaChange !== undefined && onSchemaChange !== "ignore")
    fail(
      "on_schema_change",
      `'${onSchemaChange}' is not supported (only 'ignore')`,
      "Remove it, or run with --full-refresh after a change of columns",
    );

  const defaultMaterialized = kind === "model" ? "view" : kind;
  const materialized = string("materialized") ?? defaultMaterialized;
  if (kind === "model" && !MATERIALIZATIONS.includes(materialized))
    fail(
      "materialized",
      `'${materialized}' is not a materialization the runner has`,
      `Use one of ${MATERIALIZATIONS.join(", ")}`,
    );

  const uniqueKeyValue = value("unique_key");
  let uniqueKey: string[] | undefined;
  let uniqueKeyText: string | string[] | undefined;
  if (uniqueKeyValue !== undefined && uniqueKeyValue !== null) {
    if (typeof uniqueKeyValue === "string") {
      uniqueKeyText = uniqueKeyValue;
      uniqueKey = uniqueKeyValue
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");
    } else if (Array.isArray(uniqueKeyValue) && uniqueKeyValue.every((part) => typeof part === "string")) {
      uniqueKeyText = uniqueKeyValue as string[];
      uniqueKey = (uniqueKeyValue as string[]).map((part) => part.trim());
    } else
      fail(
        "unique_key",
        `expected a column name or a list of them, got ${JSON.stringify(uniqueKeyValue)}`,
        "Write unique_key='id' or unique_key=['a', 'b']",
      );
    if (uniqueKey?.length === 0) uniqueKey = undefined;
  }

  let incrementalStrategy = string("incremental_strategy");
  if (incrementalStrategy === "append") incrementalStrategy = undefined;
  if (
    incrementalStrategy !== undefined &&
    incrementalStrategy !== "merge" &&
    incrementalStrategy !== "delete+insert"
  )
    fail(
      "incremental_strategy",
      `'${incrementalStrategy}' is not supported`,
      "Use merge, delete+insert or append",
    );

  const severityText = (string("severity") ?? "error").toLowerCase();
  if (severityText !== "error" && severityText !== "warn")
    fail("severity", `'${severityText}' is not a severity`, "Use warn or error");

  const columnTypes = value("column_types");
  if (columnTypes !== undefined && columnTypes !== null && !isRecord(columnTypes))
    fail("column_types", "expected a mapping of column name to type", "Write column_types: {col: varchar}");
  const meta = value("meta");
  if (meta !== undefined && meta !== null && !isRecord(meta))
    fail("meta", "expected a mapping", "Write meta: {key: value}");

  const tagEntry = layer.get("tags");
  const tags = tagEntry === undefined ? [] : asTagList(tagEntry);
  if (tagEntry !== undefined && tags.some((tag) => typeof tag !== "string"))
    fail("tags", "expected a tag or a list of tags", "Write tags: ['a', 'b']");

  const raw: Record<string, unknown> = {};
  for (const [key, entry] of [...layer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    raw[key] = entry.value;
  return {
    enabled: bool("enabled") ?? true,
    materialized: materialized as Materialization | "seed" | "test",
    schema: string("schema"),
    alias: string("alias"),
    tags,
    meta: (meta as Record<string, unknown> | undefined) ?? {},
    uniqueKey,
    uniqueKeyText,
    incrementalStrategy: incrementalStrategy as NodeConfig["incrementalStrategy"],
    fullRefresh: bool("full_refresh"),
    columnTypes: Object.fromEntries(
      Object.entries((columnTypes as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [
        k,
        String(v),
      ]),
    ),
    severity: severityText as Severity,
    where: string("where"),
    storeFailures: bool("store_failures") ?? false,
    warnIf: string("warn_if") ?? "!= 0",
    errorIf: string("error_if") ?? "!= 0",
    raw,
  };
}

function asTagList(entry: ConfigEntry): string[] {
  const v = entry.value;
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]) as string[];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
