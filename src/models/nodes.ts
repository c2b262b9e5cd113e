// The parsed project as plain data: models, seeds, tests and sources keyed by dbt's unique ids, with their configs.

/*
 * Unique ids follow dbt: `model.<project>.<name>`, `seed.<project>.<name>`, `source.<project>.<source>.<table>`,
 * `test.<project>.<test name>.<hash>` (generic tests, named as dbt names them) and `test.<project>.<name>`
 * (singular tests). Every collection here is sorted by unique id, so a plan built from it is deterministic.
 */

import type { MergeStrategy } from "../warehouse/index.ts";
import type { ParsedTemplate } from "./jinja.ts";

export type Materialization = "view" | "table" | "incremental" | "ephemeral";

export type Severity = "error" | "warn";

/** Where in a project file a thing was written, counted from 1; the file is relative to the project root. */
export interface SourceLocation {
  file: string;
  line: number;
}

/** A ref() or source() call as written, with where it is. */
export interface RefCall {
  /** `ref('m')` → ["m"]; `ref('pkg', 'm')` → ["pkg", "m"]; `source('s', 't')` → ["s", "t"]. */
  args: string[];
  kind: "ref" | "source";
  at: SourceLocation;
}

/** The configs of a model, seed or test after dbt's precedence: project folders < properties < config(). */
export interface NodeConfig {
  enabled: boolean;
  materialized: Materialization | "seed" | "test";
  /** The custom schema (`+schema`); the relation's schema comes from generate_schema_name. */
  schema: string | undefined;
  alias: string | undefined;
  tags: string[];
  meta: Record<string, unknown>;
  uniqueKey: string[] | undefined;
  /** Written as a string in configs when it was one; dbt keeps the form. */
  uniqueKeyText: string | string[] | undefined;
  incrementalStrategy: MergeStrategy | undefined;
  fullRefresh: boolean | undefined;
  /** Seeds: column name → database type (`+column_types`). */
  columnTypes: Record<string, string>;
  /** Tests. */
  severity: Severity;
  where: string | undefined;
  storeFailures: boolean;
  warnIf: string;
  errorIf: string;
  /** Every config as written, merged, in dbt's spelling (for the manifest). */
  raw: Record<string, unknown>;
}

export interface ColumnDoc {
  name: string;
  description: string;
  dataType: string | undefined;
  meta: Record<string, unknown>;
  tags: string[];
  quote: boolean | undefined;
}

interface NodeBase {
  uniqueId: string;
  name: string;
  /** The file the node is defined in, relative to the project root, with forward slashes. */
  originalFilePath: string;
  /** The file relative to its resource folder (models/, seeds/, tests/). */
  path: string;
  fqn: string[];
  config: NodeConfig;
  description: string;
  columns: Record<string, ColumnDoc>;
  /** The .yml file that described it, if any. */
  patchPath: string | undefined;
}

export interface ModelNode extends NodeBase {
  resourceType: "model";
  rawCode: string;
  refs: RefCall[];
  /** Unique ids of the nodes it reads, sorted. */
  dependsOn: string[];
}

export interface SeedNode extends NodeBase {
  resourceType: "seed";
  /** The CSV's text. */
  rawCode: string;
  /** The absolute path of the CSV file. */
  csvPath: string;
  dependsOn: string[];
  refs: RefCall[];
}

export interface GenericTestMetadata {
  /** not_null, unique, accepted_values, relationships. */
  name: string;
  /** The arguments: column_name, values, quote, to, field; `model` is the tested node. */
  kwargs: Record<string, unknown>;
}

export interface TestNode extends NodeBase {
  resourceType: "test";
  /** Singular tests: the file's SQL; generic tests: the Jinja dbt would write for the test. */
  rawCode: string;
  refs: RefCall[];
  dependsOn: string[];
  /** Generic tests only. */
  testMetadata: GenericTestMetadata | undefined;
  columnName: string | undefined;
  /** The model, seed or source the test is attached to (generic tests, and singular tests on one model). */
  attachedNode: string | undefined;
  /** "models.<name>" or "sources.<source>" for generic tests. */
  fileKeyName: string | undefined;
  /** Where the test was declared: the .yml line of a generic test, or line 1 of a singular test. */
  at: SourceLocation;
  /** The compiled file's name and the store_failures table's: the name, cut as dbt cuts long ones. */
  shortName: string;
  /** Generic tests: the column is quoted in SQL (the column's `quote: true`). */
  quoteColumn: boolean;
}

export interface SourceNode {
  resourceType: "source";
  uniqueId: string;
  /** The table's name in the project (`source('s', name)`). */
  name: string;
  sourceName: string;
  schema: string;
  /** The table's name in the warehouse. */
  identifier: string;
  database: string | undefined;
  description: string;
  sourceDescription: string;
  loader: string;
  columns: Record<string, ColumnDoc>;
  tags: string[];
  meta: Record<string, unknown>;
  originalFilePath: string;
  fqn: string[];
  at: SourceLocation;
}

/** A node the runner can select and run. */
export type RunnableNode = ModelNode | SeedNode | TestNode;

export interface Project {
  name: string;
  profile: string | undefined;
  /** Absolute path of the project folder. */
  root: string;
  modelPaths: string[];
  seedPaths: string[];
  testPaths: string[];
  macroPaths: string[];
  targetPath: string;
  /** Project-level vars (`vars:`), scoped ones for this project merged in. */
  vars: Record<string, unknown>;
  /** Models, seeds and tests by unique id, sorted; disabled nodes are left out. */
  nodes: Map<string, RunnableNode>;
  /** Disabled nodes by unique id, for better errors and the manifest. */
  disabled: Map<string, RunnableNode>;
  sources: Map<string, SourceNode>;
  /** The checked macro files, by path. */
  macroFiles: ParsedTemplate[];
  /** The checked template of each model and singular test, by unique id. */
  templates: Map<string, ParsedTemplate>;
}
