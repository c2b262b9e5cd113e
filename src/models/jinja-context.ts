// The names a model, test or macro sees when it renders: ref, source, config, var, env_var, is_incremental, this, target, adapter.

/*
 * One context is built per render. At parse time (`execute` false) ref/source/config record what the file
 * asks for and return placeholders; at run time they return the resolved relations, quoted by the
 * warehouse's dialect (an ephemeral model's is its CTE's name, `__dbt__cte__<name>`).
 * The project's macros are exported into the same context, so a macro's own calls to ref, var or
 * another macro see this render's names: each macro name is a wrapper that calls the macro exported
 * for this context (macro files may call each other in any order).
 */

import { ModelError, ModelErrorCode } from "../errors.ts";
import type { Dialect } from "../warehouse/index.ts";
import { type ContextShape, exportMacros, type ParsedTemplate, splitArgs } from "./jinja.ts";

/** A relation as templates see it: prints as its quoted name; `.schema`, `.identifier`, `.name` read it. */
export class RelationValue {
  readonly name: string;
  readonly table: string;
  readonly database: string | undefined = undefined;
  constructor(
    readonly schema: string,
    readonly identifier: string,
    private readonly rendered: string,
  ) {
    this.name = identifier;
    this.table = identifier;
  }
  toString(): string {
    return this.rendered;
  }
}

export interface TargetInfo {
  name: string;
  schema: string;
  /** The dialect's name: duckdb, postgres, bigquery. */
  type: string;
  threads: number;
}

export interface RenderOptions {
  /** False while parsing: ref/source/config record calls and nothing is resolved. */
  execute: boolean;
  projectName: string;
  projectVars: Record<string, unknown>;
  cliVars: Record<string, unknown>;
  target: TargetInfo;
  dialect: Dialect;
  /** Checked macro files, all of the project. */
  macroFiles: readonly ParsedTemplate[];
  /** ref('m') / ref('pkg', 'm') → the relation; at parse time also records the call. */
  ref(args: string[]): RelationValue;
  source(sourceName: string, tableName: string): RelationValue;
  /** config(...) in the file: recorded at parse time, ignored at run time. */
  onConfig?(values: Record<string, unknown>): void;
  /** The node's resolved configs, for config.get. */
  configValues: Record<string, unknown>;
  isIncremental: boolean;
  thisRelation: RelationValue | undefined;
  fullRefresh: boolean;
  /** The command: build, run, test, compile, ls. */
  command: string;
  invocationId: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** The context's names and objects with their methods, for the template checks. */
export const CONTEXT_SHAPE: ContextShape = {
  names: new Set([
    "ref",
    "source",
    "config",
    "var",
    "env_var",
    "is_incremental",
    "this",
    "target",
    "adapter",
    "exceptions",
    "execute",
    "flags",
    "project_name",
    "invocation_id",
    "log",
    "return",
  ]),
  methods: new Map([
    ["adapter", new Set(["quote"])],
    ["config", new Set(["get", "require"])],
    ["exceptions", new Set(["raise_compiler_error", "warn"])],
  ]),
};

function renderError(message: string): ModelError {
  return new ModelError(ModelErrorCode.renderFailed, message);
}

function stringArg(fn: string, value: unknown, position: string): string {
  if (typeof value !== "string" || value === "")
    throw renderError(
      `${fn}() needs a name as its ${position} argument, got ${JSON.stringify(value) ?? "nothing"}`,
    );
  return value;
}

/** Builds the context object for one render, with the project's macros bound to it. */
export function buildContext(options: RenderOptions): Record<string, unknown> {
  const macros = new Map<string, (...args: unknown[]) => unknown>();
  const lookupVar = (name: string, fallback: unknown, hasDefault: boolean): unknown => {
    if (Object.hasOwn(options.cliVars, name)) return options.cliVars[name];
    if (Object.hasOwn(options.projectVars, name)) return options.projectVars[name];
    if (hasDefault) return fallback;
    throw renderError(
      `required var '${name}' is not set. Set it under vars: in dbt_project.yml, pass --vars '{${name}: …}', or give var() a default`,
    );
  };
  const config = Object.assign(
    (...args: unknown[]): string => {
      const { positional, keywords } = splitArgs(args);
      const values = { ...keywords };
      for (const arg of positional) {
        if (arg === null || typeof arg !== "object" || Array.isArray(arg))
          throw renderError("config() takes keyword arguments (config(materialized='table')) or one dict");
        Object.assign(values, arg);
      }
      options.onConfig?.(values);
      return "";
    },
    {
      get: (...args: unknown[]): unknown => {
        const { positional, keywords } = splitArgs(args);
        const name = stringArg("config.get", positional[0] ?? keywords.name, "first");
        const value = options.configValues[name];
        return value === undefined ? (positional[1] ?? keywords.default ?? null) : value;
      },
      require: (name: unknown): unknown => {
        const key = stringArg("config.require", name, "first");
        const value = options.configValues[key];
        if (value === undefined || value === null)
          throw renderError(`config '${key}' is required but not set`);
        return value;
      },
    },
  );
  const context: Record<string, unknown> = {
    ref: (...args: unknown[]): RelationValue => {
      const { positional, keywords } = splitArgs(args);
      if (keywords.version !== undefined || keywords.v !== undefined)
        throw new ModelError(
          ModelErrorCode.unsupported,
          "model versions (ref(…, v=…)) are not supported by Pulse's runner",
        );
      if (positional.length < 1 || positional.length > 2)
        throw renderError(
          `ref() takes a model name, or a package and a model name; got ${positional.length} arguments`,
        );
      return options.ref(positional.map((arg, i) => stringArg("ref", arg, i === 0 ? "first" : "second")));
    },
    source: (...args: unknown[]): RelationValue => {
      const { positional } = splitArgs(args);
      if (positional.length !== 2)
        throw renderError(
          `source() takes a source name and a table name; got ${positional.length} arguments`,
        );
      return options.source(
        stringArg("source", positional[0], "first"),
        stringArg("source", positional[1], "second"),
      );
    },
    config,
    var: (...args: unknown[]): unknown => {
      const { positional, keywords } = splitArgs(args);
      const name = stringArg("var", positional[0], "first");
      const hasDefault = positional.length > 1 || "default" in keywords;
      return lookupVar(name, positional.length > 1 ? positional[1] : keywords.default, hasDefault);
    },
    env_var: (...args: unknown[]): unknown => {
      const { positional, keywords } = splitArgs(args);
      const name = stringArg("env_var", positional[0], "first");
      const value = options.env[name];
      if (value !== undefined) return value;
      if (positional.length > 1) return positional[1];
      if ("default" in keywords) return keywords.default;
      throw renderError(
        `the environment variable '${name}' is not set and env_var() has no default. Set it, or pass a default`,
      );
    },
    is_incremental: (): boolean => options.isIncremental,
    target: { ...options.target, profile_name: options.target.name, database: undefined },
    adapter: { quote: (name: unknown): string => options.dialect.quoteIdentifier(String(name)) },
    exceptions: {
      raise_compiler_error: (message: unknown): never => {
        throw new ModelError(ModelErrorCode.renderFailed, `raise_compiler_error: ${String(message)}`);
      },
      warn: (): string => "",
    },
    execute: options.execute,
    flags: { FULL_REFRESH: options.fullRefresh, WHICH: options.command },
    project_name: options.projectName,
    invocation_id: options.invocationId,
    log: (): string => "",
    return: (value: unknown): never => {
      throw new ModelError(
        ModelErrorCode.unsupported,
        `return(${JSON.stringify(value) ?? ""}) is not supported: a macro's value is what it prints`,
      );
    },
  };
  if (options.thisRelation !== undefined) context.this = options.thisRelation;
  for (const file of options.macroFiles) {
    for (const name of file.macros.keys()) {
      context[name] = (...args: unknown[]): unknown => {
        const macro = macros.get(name);
        if (macro === undefined) throw renderError(`macro '${name}' is not available`);
        return macro(...args);
      };
    }
  }
  for (const file of options.macroFiles) {
    const exported = exportMacros(file, context);
    for (const name of file.macros.keys())
      macros.set(name, exported[name] as (...args: unknown[]) => unknown);
  }
  return context;
}
