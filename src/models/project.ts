// dbt_project.yml: the project's name, folders, vars, and the `+` configs of models, seeds and tests by folder.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ModelError, ModelErrorCode } from "../errors.ts";
import { type ConfigTree, emptyTree, normalizeKey } from "./configs.ts";
import { parseYaml, type YamlValue } from "./yaml-file.ts";

export const PROJECT_FILE = "dbt_project.yml";

export interface ProjectFile {
  name: string;
  profile: string | undefined;
  modelPaths: string[];
  seedPaths: string[];
  testPaths: string[];
  macroPaths: string[];
  targetPath: string;
  vars: Record<string, unknown>;
  models: ConfigTree;
  seeds: ConfigTree;
  tests: ConfigTree;
}

/** Keys of dbt_project.yml the runner reads or that change nothing it builds. */
const KNOWN_KEYS = new Set([
  "name",
  "version",
  "config-version",
  "profile",
  "model-paths",
  "seed-paths",
  "test-paths",
  "macro-paths",
  "analysis-paths",
  "snapshot-paths",
  "docs-paths",
  "asset-paths",
  "target-path",
  "log-path",
  "packages-install-path",
  "clean-targets",
  "require-dbt-version",
  "vars",
  "models",
  "seeds",
  "tests",
  "data_tests",
  "sources",
  "quoting",
  "flags",
  "query-comment",
  "on-run-start",
  "on-run-end",
  "dispatch",
  "restrict-access",
]);

/** Config keys that may be written without `+` in a folder tree (a mapping under them is a config, not a folder). */
const BARE_CONFIG_KEYS = new Set([
  "enabled",
  "materialized",
  "schema",
  "alias",
  "database",
  "tags",
  "meta",
  "unique_key",
  "incremental_strategy",
  "full_refresh",
  "column_types",
  "quote_columns",
  "severity",
  "where",
  "store_failures",
  "warn_if",
  "error_if",
  "on_schema_change",
  "persist_docs",
  "docs",
  "grants",
  "contract",
  "pre-hook",
  "post-hook",
  "pre_hook",
  "post_hook",
]);

/** Reads `<root>/dbt_project.yml`; a missing file or a wrong key is a ModelError naming the file, line and key. */
export function readProjectFile(root: string): ProjectFile {
  let text: string;
  try {
    text = readFileSync(join(root, PROJECT_FILE), "utf8");
  } catch (cause) {
    throw new ModelError(
      ModelErrorCode.projectInvalid,
      `no ${PROJECT_FILE} in ${root}: ${(cause as NodeJS.ErrnoException).code ?? "unreadable"}. Pass the project's folder with --project-dir`,
      { cause, location: { file: join(root, PROJECT_FILE) } },
    );
  }
  const doc = parseYaml(PROJECT_FILE, text);
  if (!doc.isMap())
    throw doc.fail("expected a mapping of keys to values", "Start it with `name: my_project`");
  for (const [key, value] of doc.entries()) {
    if (!KNOWN_KEYS.has(key))
      throw value.fail(
        "is not a dbt_project.yml key",
        key === "source-paths" ? "Rename it model-paths" : "Remove it or fix its spelling",
      );
  }
  const name = doc.get("name").requiredString("Name the project, e.g. `name: analytics`");
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw doc
      .get("name")
      .fail(
        `'${name}' is not a valid project name`,
        "Use letters, digits and underscores, not starting with a digit",
      );
  for (const hook of ["on-run-start", "on-run-end"]) {
    const value = doc.get(hook);
    if (value.present && !(value.isSeq() && value.items().length === 0))
      throw value.fail(
        "hooks are not supported by Pulse's runner",
        "Remove it, or make the statement a model",
      );
  }
  const paths = (key: string, fallback: string): string[] => {
    const value = doc.get(key);
    return value.present ? value.stringList() : [fallback];
  };
  const testsKey = doc.get("data_tests").present ? "data_tests" : "tests";
  return {
    name,
    profile: doc.get("profile").string(),
    modelPaths: paths("model-paths", "models"),
    seedPaths: paths("seed-paths", "seeds"),
    testPaths: paths("test-paths", "tests"),
    macroPaths: paths("macro-paths", "macros"),
    targetPath: doc.get("target-path").string() ?? "target",
    vars: projectVars(doc.get("vars"), name),
    models: configTree(doc.get("models")),
    seeds: configTree(doc.get("seeds")),
    tests: configTree(doc.get(testsKey)),
  };
}

/**
 * `vars:` holds global vars and, under a key that is the project's name, vars scoped to it (dbt's
 * form for packages); the scoped ones win.
 */
function projectVars(value: YamlValue, projectName: string): Record<string, unknown> {
  if (!value.present) return {};
  if (!value.isMap())
    throw value.fail("expected a mapping of var names to values", "Write `vars: {name: value}`");
  const all = value.js() as Record<string, unknown>;
  const scoped = all[projectName];
  const out = { ...all };
  delete out[projectName];
  if (scoped !== null && typeof scoped === "object" && !Array.isArray(scoped)) Object.assign(out, scoped);
  return out;
}

/**
 * A `models:` / `seeds:` / `data_tests:` tree. `+key: value` is a config; a bare key is a config when it
 * is a known config name, else a folder (or a node name) holding more of the tree.
 */
export function configTree(value: YamlValue): ConfigTree {
  const tree = emptyTree();
  if (!value.present) return tree;
  for (const [key, child] of value.entries()) {
    if (key.startsWith("+")) {
      tree.configs.set(normalizeKey(key.slice(1)), {
        value: child.js(),
        at: { file: child.file, line: child.line },
      });
    } else if (BARE_CONFIG_KEYS.has(key)) {
      tree.configs.set(normalizeKey(key), { value: child.js(), at: { file: child.file, line: child.line } });
    } else if (child.isMap() || !child.present) {
      tree.children.set(key, configTree(child));
    } else {
      throw child.fail(
        `'${key}' is neither a folder (a mapping) nor a known config`,
        `Write configs with a '+' (\`+${key}: …\`), or fix the folder's name`,
      );
    }
  }
  return tree;
}
