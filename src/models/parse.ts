// The parse stage: a project folder → every model, seed, test, source and macro, with configs resolved and templates checked.

import { readdirSync, readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { ModelError, ModelErrorCode } from "../errors.ts";
import { type ConfigLayer, layerOf, mergeLayers, resolveConfig, treeLayers } from "./configs.ts";
import { genericTestNames, genericTestUniqueId, modelArgument } from "./generic-tests.ts";
import { checkTemplate, type ParsedTemplate, parseTemplate, renderTemplate } from "./jinja.ts";
import { buildContext, CONTEXT_SHAPE, RelationValue, type TargetInfo } from "./jinja-context.ts";
import type { ModelNode, Project, RefCall, RunnableNode, SeedNode, SourceNode, TestNode } from "./nodes.ts";
import { type ProjectFile, readProjectFile } from "./project.ts";
import {
  type NodePatch,
  parsePropertiesFile,
  type SourceTableDecl,
  type TestDeclaration,
} from "./properties.ts";

export interface ParseOptions {
  /** The project folder (holding dbt_project.yml). */
  projectDir: string;
  target: TargetInfo;
  /** --vars, which win over the project's vars. */
  cliVars?: Record<string, unknown>;
  env?: Readonly<Record<string, string | undefined>>;
}

/** A file of the project: its path relative to the root (forward slashes) and relative to its resource folder. */
interface ProjectPath {
  file: string;
  inFolder: string;
}

function listFiles(root: string, folders: readonly string[], extensions: readonly string[]): ProjectPath[] {
  const out: ProjectPath[] = [];
  const visit = (folder: string, relative: string): void => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(join(root, folder, relative), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const inFolder = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) visit(folder, inFolder);
      else if (extensions.includes(extname(entry.name).toLowerCase()))
        out.push({ file: `${folder}/${inFolder}`, inFolder });
    }
  };
  for (const folder of folders) visit(folder.replace(/\/+$/, ""), "");
  return out;
}

const byKey = <T>(entries: Array<[string, T]>): Map<string, T> =>
  new Map(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** The fqn of a file: [project, folders…, name]. */
function fqnOf(project: string, inFolder: string, name: string): string[] {
  const parts = inFolder.split("/");
  return [project, ...parts.slice(0, -1), name];
}

/** Parses a whole project. Every problem is a ModelError naming the file:line. */
export function parseProject(options: ParseOptions): Project {
  const root = options.projectDir;
  const projectFile = readProjectFile(root);
  const name = projectFile.name;
  const env = options.env ?? process.env;
  const cliVars = options.cliVars ?? {};

  // Macros first: every template is checked against the names they define.
  const macroFiles = listFiles(root, projectFile.macroPaths, [".sql"]).map(({ file }) =>
    parseTemplate(file, readFileSync(join(root, file), "utf8")),
  );
  const macroNames = new Map<string, string>();
  for (const macro of macroFiles) {
    for (const [macroName, line] of macro.macros) {
      if (CONTEXT_SHAPE.names.has(macroName))
        throw new ModelError(
          ModelErrorCode.unsupported,
          `${macro.file}:${line}: a macro named '${macroName}' would replace dbt's own; overriding builtins is not supported. Rename it`,
          { location: { file: macro.file, line } },
        );
      const before = macroNames.get(macroName);
      if (before !== undefined)
        throw new ModelError(
          ModelErrorCode.projectInvalid,
          `${macro.file}:${line}: macro '${macroName}' is also defined in ${before}. Rename one of them`,
          { location: { file: macro.file, line } },
        );
      macroNames.set(macroName, macro.file);
    }
  }
  const macroNameSet = new Set(macroNames.keys());
  for (const macro of macroFiles) checkTemplate(macro, CONTEXT_SHAPE, macroNameSet);

  const propertyFolders = [
    ...projectFile.modelPaths,
    ...projectFile.seedPaths,
    ...projectFile.testPaths,
    ...projectFile.macroPaths,
  ];
  const properties = listFiles(root, propertyFolders, [".yml", ".yaml"]).map(({ file }) =>
    parsePropertiesFile(file, readFileSync(join(root, file), "utf8")),
  );
  const patches = new Map<string, NodePatch>();
  for (const patch of properties.flatMap((p) => p.patches)) {
    const key = `${patch.kind}.${patch.name}`;
    const before = patches.get(key);
    if (before !== undefined)
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${patch.at.file}:${patch.at.line}: ${patch.kind.slice(0, -1)} '${patch.name}' is also described in ${before.at.file}:${before.at.line}. Keep one entry`,
        { location: patch.at },
      );
    patches.set(key, patch);
  }

  const templates = new Map<string, ParsedTemplate>();
  const all = new Map<string, RunnableNode>();
  const byName = new Map<string, RunnableNode>();
  const claim = (node: RunnableNode): void => {
    const before = byName.get(node.name);
    if (before !== undefined)
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${node.originalFilePath}: the name '${node.name}' is also used by ${before.originalFilePath}. Rename one of them (models and seeds share one namespace)`,
        { location: { file: node.originalFilePath } },
      );
    byName.set(node.name, node);
    all.set(node.uniqueId, node);
  };
  const renderer = parseRenderer(projectFile, options.target, cliVars, env, macroFiles);

  for (const path of listFiles(root, projectFile.modelPaths, [".sql", ".py"])) {
    if (path.file.endsWith(".py"))
      throw new ModelError(
        ModelErrorCode.unsupported,
        `${path.file}: Python models are not supported by Pulse's runner. Write it in SQL`,
        { location: { file: path.file } },
      );
    const modelName = basename(path.file, ".sql");
    const fqn = fqnOf(name, path.inFolder, modelName);
    const patch = patches.get(`models.${modelName}`);
    const parsed = parseTemplate(path.file, readFileSync(join(root, path.file), "utf8"));
    checkTemplate(parsed, CONTEXT_SHAPE, macroNameSet);
    const baseLayers = [...treeLayers(projectFile.models, fqn), patch?.config ?? new Map()];
    const found = renderer(parsed, mergeLayers(baseLayers));
    const config = resolveConfig("model", mergeLayers([...baseLayers, ...found.configLayers]));
    const node: ModelNode = {
      resourceType: "model",
      uniqueId: `model.${name}.${modelName}`,
      name: modelName,
      originalFilePath: path.file,
      path: path.inFolder,
      fqn,
      config,
      description: patch?.description ?? "",
      columns: patch?.columns ?? {},
      patchPath: patch?.file,
      rawCode: parsed.text,
      refs: found.refs,
      dependsOn: [],
    };
    templates.set(node.uniqueId, parsed);
    claim(node);
  }

  for (const path of listFiles(root, projectFile.seedPaths, [".csv"])) {
    const seedName = basename(path.file, ".csv");
    const fqn = fqnOf(name, path.inFolder, seedName);
    const patch = patches.get(`seeds.${seedName}`);
    const config = resolveConfig(
      "seed",
      mergeLayers([...treeLayers(projectFile.seeds, fqn), patch?.config ?? new Map()]),
    );
    const node: SeedNode = {
      resourceType: "seed",
      uniqueId: `seed.${name}.${seedName}`,
      name: seedName,
      originalFilePath: path.file,
      path: path.inFolder,
      fqn,
      config,
      description: patch?.description ?? "",
      columns: patch?.columns ?? {},
      patchPath: patch?.file,
      rawCode: readFileSync(join(root, path.file), "utf8"),
      csvPath: join(root, path.file),
      dependsOn: [],
      refs: [],
    };
    claim(node);
  }
  for (const patch of patches.values()) {
    const node = byName.get(patch.name);
    if (node === undefined || node.resourceType !== patch.kind.slice(0, -1))
      throw new ModelError(
        ModelErrorCode.missingRef,
        `${patch.at.file}:${patch.at.line}: ${patch.kind.slice(0, -1)} '${patch.name}' is described here but there is no ${patch.kind === "models" ? `models/**/${patch.name}.sql` : `seeds/**/${patch.name}.csv`}. Fix the name or remove the entry`,
        { location: patch.at },
      );
  }

  for (const path of listFiles(root, projectFile.testPaths, [".sql"])) {
    const testName = basename(path.file, ".sql");
    const fqn = fqnOf(name, path.inFolder, testName);
    const parsed = parseTemplate(path.file, readFileSync(join(root, path.file), "utf8"));
    checkTemplate(parsed, CONTEXT_SHAPE, macroNameSet);
    const baseLayers = treeLayers(projectFile.tests, fqn);
    const found = renderer(parsed, mergeLayers(baseLayers));
    const node: TestNode = {
      resourceType: "test",
      uniqueId: `test.${name}.${testName}`,
      name: testName,
      originalFilePath: path.file,
      path: path.inFolder,
      fqn,
      config: resolveConfig("test", mergeLayers([...baseLayers, ...found.configLayers])),
      description: "",
      columns: {},
      patchPath: undefined,
      rawCode: parsed.text,
      refs: found.refs,
      dependsOn: [],
      testMetadata: undefined,
      columnName: undefined,
      attachedNode: undefined,
      fileKeyName: undefined,
      at: { file: path.file, line: 1 },
      shortName: testName,
      quoteColumn: false,
    };
    if (all.has(node.uniqueId))
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${path.file}: a test named '${testName}' exists already. Rename the file`,
        { location: { file: path.file } },
      );
    templates.set(node.uniqueId, parsed);
    all.set(node.uniqueId, node);
  }

  const sources = sourceNodes(
    name,
    projectFile,
    properties.flatMap((p) => p.sources),
  );
  for (const declaration of properties.flatMap((p) => p.tests)) {
    const node = genericTestNode(name, projectFile, declaration, byName, sources);
    if (all.has(node.uniqueId))
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${declaration.at.file}:${declaration.at.line}: the test ${node.name} is declared twice with the same arguments. Remove one, or give it a name:`,
        { location: declaration.at },
      );
    all.set(node.uniqueId, node);
  }

  const nodes: Array<[string, RunnableNode]> = [];
  const disabled: Array<[string, RunnableNode]> = [];
  for (const [id, node] of all) (node.config.enabled ? nodes : disabled).push([id, node]);
  return {
    name,
    profile: projectFile.profile,
    root,
    modelPaths: projectFile.modelPaths,
    seedPaths: projectFile.seedPaths,
    testPaths: projectFile.testPaths,
    macroPaths: projectFile.macroPaths,
    targetPath: projectFile.targetPath,
    vars: projectFile.vars,
    nodes: byKey(nodes),
    disabled: byKey(disabled),
    sources: byKey([...sources.values()].filter((s) => s.enabled).map((s) => [s.node.uniqueId, s.node])),
    macroFiles,
    templates,
  };
}

interface ParseRender {
  refs: RefCall[];
  configLayers: ConfigLayer[];
}

/** Renders a template at parse time (`execute` false) to learn its refs, sources and config() calls. */
function parseRenderer(
  projectFile: ProjectFile,
  target: TargetInfo,
  cliVars: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  macroFiles: ParsedTemplate[],
): (parsed: ParsedTemplate, base: ConfigLayer) => ParseRender {
  const quote = (text: string): string => `"${text.replace(/"/g, '""')}"`;
  const dialect = {
    name: "duckdb" as const,
    quoteIdentifier: quote,
    quoteLiteral: (value: unknown) => `'${String(value).replace(/'/g, "''")}'`,
    relationName: (r: { schema: string; name: string }) => `${quote(r.schema)}.${quote(r.name)}`,
    typeName: (type: string) => type,
  };
  return (parsed, base) => {
    const calls: Array<{ kind: "ref" | "source"; args: string[] }> = [];
    const configLayers: ConfigLayer[] = [];
    const configLine = parsed.calls.find((call) => call.name === "config")?.line ?? 1;
    const context = buildContext({
      execute: false,
      projectName: projectFile.name,
      projectVars: projectFile.vars,
      cliVars,
      target,
      dialect,
      macroFiles,
      ref: (args) => {
        calls.push({ kind: "ref", args });
        const refName = args[args.length - 1]!;
        return new RelationValue(target.schema, refName, quote(refName));
      },
      source: (sourceName, table) => {
        calls.push({ kind: "source", args: [sourceName, table] });
        return new RelationValue(sourceName, table, `${quote(sourceName)}.${quote(table)}`);
      },
      onConfig: (values) => configLayers.push(layerOf(values, { file: parsed.file, line: configLine })),
      configValues: Object.fromEntries([...base].map(([key, entry]) => [key, entry.value])),
      isIncremental: false,
      thisRelation: new RelationValue(target.schema, "this", quote("this")),
      fullRefresh: false,
      command: "parse",
      invocationId: "",
      env,
    });
    renderTemplate(parsed, context);
    // Static calls add the refs a parse-time render does not reach (an is_incremental() branch).
    for (const call of parsed.calls)
      if ((call.name === "ref" || call.name === "source") && call.args !== undefined)
        calls.push({ kind: call.name, args: call.args });
    const seen = new Set<string>();
    const refs: RefCall[] = [];
    for (const call of calls) {
      const key = `${call.kind}:${call.args.join(".")}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const line =
        parsed.calls.find((c) => c.name === call.kind && c.args?.join(".") === call.args.join("."))?.line ??
        parsed.calls.find((c) => c.name === call.kind)?.line ??
        1;
      refs.push({ kind: call.kind, args: call.args, at: { file: parsed.file, line } });
    }
    return { refs, configLayers };
  };
}

interface SourceEntry {
  node: SourceNode;
  enabled: boolean;
}

function sourceNodes(
  project: string,
  projectFile: ProjectFile,
  declarations: SourceTableDecl[],
): Map<string, SourceEntry> {
  const out = new Map<string, SourceEntry>();
  for (const decl of declarations) {
    const uniqueId = `source.${project}.${decl.sourceName}.${decl.name}`;
    const before = out.get(uniqueId);
    if (before !== undefined)
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${decl.at.file}:${decl.at.line}: source table ${decl.sourceName}.${decl.name} is also declared in ${before.node.at.file}:${before.node.at.line}. Keep one`,
        { location: decl.at },
      );
    const folder = projectFile.modelPaths.find((p) => decl.file.startsWith(`${p}/`));
    const dirs = (folder === undefined ? decl.file : decl.file.slice(folder.length + 1))
      .split("/")
      .slice(0, -1);
    out.set(uniqueId, {
      enabled: decl.enabled,
      node: {
        resourceType: "source",
        uniqueId,
        name: decl.name,
        sourceName: decl.sourceName,
        schema: decl.schema,
        identifier: decl.identifier,
        database: decl.database,
        description: decl.description,
        sourceDescription: decl.sourceDescription,
        loader: decl.loader,
        columns: decl.columns,
        tags: decl.tags,
        meta: decl.meta,
        originalFilePath: decl.file,
        fqn: [project, ...dirs, decl.sourceName, decl.name],
        at: decl.at,
      },
    });
  }
  return out;
}

function genericTestNode(
  project: string,
  projectFile: ProjectFile,
  declaration: TestDeclaration,
  byName: Map<string, RunnableNode>,
  sources: Map<string, SourceEntry>,
): TestNode {
  const { target, at } = declaration;
  const kwargs: Record<string, unknown> = {
    column_name: declaration.columnName,
    ...declaration.args,
    model: modelArgument(target),
  };
  const names = genericTestNames(declaration.test, target, {
    column_name: declaration.columnName,
    ...declaration.args,
  });
  const fullName = declaration.customName ?? names.fullName;
  const metadata = { name: declaration.test, kwargs };
  const folder = [...projectFile.modelPaths, ...projectFile.seedPaths].find((p) =>
    declaration.file.startsWith(`${p}/`),
  );
  const dirs = (folder === undefined ? declaration.file : declaration.file.slice(folder.length + 1))
    .split("/")
    .slice(0, -1);
  const fqn = [project, ...dirs, fullName];
  let attached: string | undefined;
  let targetEnabled = true;
  let quoteColumn = false;
  const refs: RefCall[] = [];
  if (target.kind === "node") {
    const node = byName.get(target.name);
    attached = node?.uniqueId ?? `model.${project}.${target.name}`;
    targetEnabled = node?.config.enabled ?? true;
    quoteColumn = node?.columns[declaration.columnName ?? ""]?.quote === true;
    refs.push({ kind: "ref", args: [target.name], at });
  } else {
    const source = sources.get(`source.${project}.${target.source}.${target.table}`);
    attached = source?.node.uniqueId;
    targetEnabled = source?.enabled ?? true;
    quoteColumn = source?.node.columns[declaration.columnName ?? ""]?.quote === true;
    refs.push({ kind: "source", args: [target.source, target.table], at });
  }
  if (declaration.test === "relationships") {
    const to = String(declaration.args.to);
    const ref = /^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(to);
    const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(to);
    if (ref !== null) refs.push({ kind: "ref", args: [ref[1]!], at });
    else if (source !== null) refs.push({ kind: "source", args: [source[1]!, source[2]!], at });
    else
      throw new ModelError(
        ModelErrorCode.projectInvalid,
        `${at.file}:${at.line}: relationships to: '${to}' is not ref('model') or source('s', 't'). Write it as one of them`,
        { location: at },
      );
  }
  const config = resolveConfig(
    "test",
    mergeLayers([...treeLayers(projectFile.tests, fqn), declaration.config]),
  );
  if (!targetEnabled) config.enabled = false;
  const configCall = Object.keys(config.raw).length > 0 ? `{{ config(${JSON.stringify(config.raw)}) }}` : "";
  return {
    resourceType: "test",
    uniqueId: genericTestUniqueId(project, fullName, metadata),
    name: fullName,
    originalFilePath: declaration.file,
    path: `${names.shortName}.sql`,
    fqn,
    config,
    description: "",
    columns: {},
    patchPath: undefined,
    rawCode: `{{ test_${declaration.test}(**_dbt_generic_test_kwargs) }}${configCall}`,
    refs,
    dependsOn: [],
    testMetadata: metadata,
    columnName: declaration.columnName,
    attachedNode: attached,
    fileKeyName:
      target.kind === "node"
        ? `${byName.get(target.name)?.resourceType === "seed" ? "seeds" : "models"}.${target.name}`
        : `sources.${target.source}`,
    at,
    shortName: declaration.customName ?? names.shortName,
    quoteColumn,
  };
}
