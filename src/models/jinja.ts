// Jinja through nunjucks: parses a project file, rejects every construct the runner does not support at its file:line, renders it.

/*
 * A template is checked before it is ever rendered, so nothing unsupported renders silently:
 *   - block tags: only if/elif/else, for, set (and block set), macro, raw; anything else (`call`,
 *     `materialization`, `test`, `do`, `filter`, `include`, …) is PULSE_MODEL_UNSUPPORTED naming the tag;
 *   - calls: a function must be one of the context's (ref, source, config, var, …), a macro of the
 *     project, a name the template binds, or a method of a bound value; `dbt_utils.star(…)`,
 *     `run_query(…)`, `statement(…)`, `adapter.get_relation(…)` are errors naming the call;
 *   - names: a name the context, the project's macros or the template does not define is an error;
 *   - filters and `is` tests: only those nunjucks has (plus a few of dbt's), by name.
 * Lines: the nunjucks parser counts from 1 and its runtime from 0; both are mapped to the file's lines
 * (the template is the file's text, unchanged). Runtime errors inside a macro point at the line calling it.
 */

import nunjucks from "nunjucks";
import { ModelError, ModelErrorCode, PulseError } from "../errors.ts";

/** A nunjucks AST node, as much of it as the checks read. */
interface JNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: string[];
  [field: string]: unknown;
}

interface NunjucksInternals {
  parser: { parse(src: string, extensions: unknown[], opts: object): JNode };
  lexer: {
    lex(src: string, opts: object): { nextToken(): { type: string; value: unknown; lineno: number } | null };
  };
}

interface CompiledTemplate {
  render(context: object): string;
  getExported(context: object, callback: (error: unknown, exported: Record<string, unknown>) => void): void;
  compile(): void;
}

const internals = nunjucks as unknown as NunjucksInternals;

/** Block tags a template may use; every other tag is unsupported. */
const ALLOWED_TAGS = new Set([
  "if",
  "elif",
  "elseif",
  "else",
  "endif",
  "for",
  "endfor",
  "set",
  "endset",
  "macro",
  "endmacro",
  "raw",
  "endraw",
]);

/** Names nunjucks binds by itself: in loops, in macros, and its globals. */
const BUILTIN_NAMES = new Set(["loop", "caller", "varargs", "kwargs", "range", "cycler", "joiner"]);

const ENVIRONMENT = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true, dev: true });
// A few Jinja and dbt filters and tests nunjucks lacks, each simple enough to be exact.
ENVIRONMENT.addFilter("tojson", (value: unknown) => JSON.stringify(value));
ENVIRONMENT.addFilter("as_text", (value: unknown) => String(value));
ENVIRONMENT.addFilter("as_number", (value: unknown) => Number(value));
ENVIRONMENT.addFilter(
  "as_bool",
  (value: unknown) => value === true || String(value).toLowerCase() === "true",
);
const environmentTests = ENVIRONMENT as unknown as {
  addTest(name: string, test: (value: unknown) => boolean): void;
  tests: Record<string, unknown>;
  filters: Record<string, unknown>;
};
environmentTests.addTest("none", (value) => value === null || value === undefined);
environmentTests.addTest("sequence", (value) => Array.isArray(value) || typeof value === "string");
environmentTests.addTest("boolean", (value) => typeof value === "boolean");
environmentTests.addTest("integer", (value) => Number.isInteger(value));

/** What the context offers a template: plain names, and objects with the methods a template may call. */
export interface ContextShape {
  names: ReadonlySet<string>;
  /** Objects by name with their callable methods (adapter: quote; config: get, require; …). */
  methods: ReadonlyMap<string, ReadonlySet<string>>;
}

/** A literal call of ref, source or config in the file, with its line. */
export interface StaticCall {
  name: string;
  /** The arguments when each is a string literal; undefined otherwise. */
  args: string[] | undefined;
  line: number;
}

export interface ParsedTemplate {
  /** The file, relative to the project root. */
  file: string;
  text: string;
  /** Top-level macros the file defines → line. */
  macros: Map<string, number>;
  calls: StaticCall[];
  private: { ast: JNode; source: string; template: CompiledTemplate | undefined };
}

function unsupported(file: string, line: number, what: string, fix: string): ModelError {
  return new ModelError(
    ModelErrorCode.unsupported,
    `${file}:${line}: ${what} is not supported by Pulse's runner. ${fix}`,
    {
      location: { file, line },
    },
  );
}

function renderFailed(file: string, line: number, what: string, cause?: unknown): ModelError {
  return new ModelError(ModelErrorCode.renderFailed, `${file}:${line}: ${what}`, {
    location: { file, line },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Rejects block tags outside ALLOWED_TAGS, reading the token stream (the parser would accept some, like `call`). */
function checkTags(file: string, text: string): void {
  const tokens = internals.lexer.lex(text, {});
  let afterBlockStart = false;
  let inRaw = false;
  for (let token = tokens.nextToken(); token !== null; token = tokens.nextToken()) {
    if (token.type === "block-start") afterBlockStart = true;
    else if (afterBlockStart && token.type !== "whitespace") {
      afterBlockStart = false;
      const tag = String(token.value);
      // What a raw block holds is text, tags included.
      if (inRaw) inRaw = tag !== "endraw";
      else if (tag === "raw") inRaw = true;
      else if (!ALLOWED_TAGS.has(tag))
        throw unsupported(file, token.lineno + 1, `the {% ${tag} %} tag`, "Use if, for, set and macro only");
    }
  }
}

/** Parses a file's Jinja; syntax errors and unsupported tags are ModelErrors at file:line. */
export function parseTemplate(file: string, text: string): ParsedTemplate {
  // Jinja drops one trailing line break of a template (keep_trailing_newline is off in dbt); so does this.
  const source = text.replace(/\r?\n$/, "");
  let ast: JNode;
  try {
    checkTags(file, source);
    ast = internals.parser.parse(source, [], {});
  } catch (error) {
    if (error instanceof PulseError) throw error;
    const e = error as { message: string; lineno?: number };
    const message = e.message.replace(/^\([^)]*\)\s*(\[[^\]]*\])?\s*/, "").trim();
    throw renderFailed(
      file,
      e.lineno ?? 1,
      `Jinja syntax error: ${message}. Fix the template at that line`,
      error,
    );
  }
  const macros = new Map<string, number>();
  for (const child of (ast.children as JNode[]) ?? []) {
    if (child.typename === "Macro") {
      const name = String((child.name as JNode).value);
      if (macros.has(name))
        throw renderFailed(file, child.lineno + 1, `macro '${name}' is defined twice in the file`);
      macros.set(name, child.lineno + 1);
    }
  }
  const calls: StaticCall[] = [];
  walk(ast, (node) => {
    if (node.typename !== "FunCall") return;
    const callee = node.name as JNode;
    if (callee.typename !== "Symbol" || !["ref", "source", "config"].includes(String(callee.value))) return;
    const args = ((node.args as JNode).children as JNode[]).filter((arg) => arg.typename !== "KeywordArgs");
    const literal = args.every((arg) => arg.typename === "Literal" && typeof arg.value === "string");
    calls.push({
      name: String(callee.value),
      args: literal ? args.map((arg) => String(arg.value)) : undefined,
      line: node.lineno + 1,
    });
  });
  return { file, text, macros, calls, private: { ast, source, template: undefined } };
}

function walk(node: unknown, visit: (node: JNode) => void): void {
  if (node === null || typeof node !== "object") return;
  const n = node as JNode;
  if (typeof n.typename !== "string") return;
  visit(n);
  for (const field of n.fields) {
    const value = n[field];
    if (Array.isArray(value)) for (const item of value) walk(item, visit);
    else walk(value, visit);
  }
}

/** The names a template binds anywhere: set targets, loop variables, macro names and arguments. */
function boundNames(ast: JNode): Set<string> {
  const out = new Set<string>();
  const addTargets = (target: unknown): void => {
    walk(target, (node) => {
      if (node.typename === "Symbol") out.add(String(node.value));
    });
  };
  walk(ast, (node) => {
    if (node.typename === "Set") for (const target of node.targets as JNode[]) addTargets(target);
    else if (node.typename === "For") addTargets(node.name);
    else if (node.typename === "Macro") {
      out.add(String((node.name as JNode).value));
      for (const arg of (node.args as JNode).children as JNode[]) {
        if (arg.typename === "Symbol") out.add(String(arg.value));
        else if (arg.typename === "KeywordArgs")
          for (const pair of arg.children as JNode[]) out.add(String((pair.key as JNode).value));
      }
    }
  });
  return out;
}

/**
 * Checks every call, name, filter and test of a parsed template against what the context and the
 * project's macros define, and compiles it. `macroNames` are the project's macros (all files).
 */
export function checkTemplate(
  parsed: ParsedTemplate,
  shape: ContextShape,
  macroNames: ReadonlySet<string>,
): void {
  const { file } = parsed;
  const { ast } = parsed.private;
  const bound = boundNames(ast);
  const known = (name: string): boolean =>
    shape.names.has(name) || macroNames.has(name) || bound.has(name) || BUILTIN_NAMES.has(name);
  const check = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    const n = node as JNode;
    if (typeof n.typename !== "string") return;
    const line = n.lineno + 1;
    switch (n.typename) {
      case "Symbol": {
        const name = String(n.value);
        if (!known(name))
          throw renderFailed(
            file,
            line,
            `'${name}' is undefined. Define it with {% set %}, pass it with var(), or fix its spelling`,
          );
        return;
      }
      case "FunCall": {
        checkCallee(n.name as JNode, line);
        check(n.args);
        return;
      }
      case "Filter": {
        const name = String((n.name as JNode).value);
        if (!(name in environmentTests.filters))
          throw unsupported(
            file,
            line,
            `the filter '${name}'`,
            "Use a filter nunjucks has (lower, upper, trim, replace, join, default, length, …)",
          );
        check(n.args);
        return;
      }
      case "Is": {
        check(n.left);
        const test = n.right as JNode;
        const testName =
          test.typename === "FunCall" ? String((test.name as JNode).value) : String(test.value);
        if (!(testName in environmentTests.tests))
          throw unsupported(
            file,
            line,
            `the test 'is ${testName}'`,
            "Use defined, none, string, number, mapping, …",
          );
        if (test.typename === "FunCall") check(test.args);
        return;
      }
      case "LookupVal":
        check(n.target);
        if ((n.val as JNode).typename !== "Literal") check(n.val);
        return;
      case "KeywordArgs":
        for (const pair of n.children as JNode[]) check(pair.value);
        return;
      case "Dict":
        // `{a: 1}` spells the key "a"; only a computed key is an expression.
        for (const pair of n.children as JNode[]) {
          if ((pair.key as JNode).typename !== "Symbol") check(pair.key);
          check(pair.value);
        }
        return;
      case "Set":
        check(n.value);
        check(n.body);
        return;
      case "For":
        check(n.arr);
        check(n.body);
        check(n.else_);
        return;
      case "Macro":
        for (const arg of (n.args as JNode).children as JNode[])
          if (arg.typename === "KeywordArgs") check(arg);
        check(n.body);
        return;
      case "Caller":
      case "Import":
      case "FromImport":
      case "Include":
      case "Extends":
      case "Block":
      case "Super":
      case "Switch":
      case "FilterAsync":
      case "IfAsync":
      case "AsyncEach":
      case "AsyncAll":
      case "CallExtension":
      case "CallExtensionAsync":
        throw unsupported(file, line, `the construct '${n.typename}'`, "Use if, for, set and macro only");
      default:
        for (const field of n.fields) {
          const value = n[field];
          if (Array.isArray(value)) for (const item of value) check(item);
          else check(value);
        }
    }
  };
  const checkCallee = (callee: JNode, line: number): void => {
    if (callee.typename === "Symbol") {
      const name = String(callee.value);
      if (!known(name))
        throw unsupported(
          file,
          line,
          `the function '${name}'`,
          "Only ref, source, config, var, env_var, is_incremental and the project's own macros can be called",
        );
      return;
    }
    if (callee.typename === "LookupVal") {
      const path = dottedName(callee);
      if (path !== undefined) {
        const [root, method] = path;
        const methods = shape.methods.get(root);
        if (methods !== undefined && !methods.has(method))
          throw unsupported(
            file,
            line,
            `'${root}.${method}(…)'`,
            `${root} offers ${[...methods].map((m) => `${root}.${m}`).join(", ")} only`,
          );
        if (methods === undefined && !known(root))
          throw unsupported(
            file,
            line,
            `the function '${root}.${method}'`,
            "Packages (dbt_utils, …) are not supported; write the SQL, or a macro in macros/",
          );
      }
      check(callee);
      return;
    }
    check(callee);
  };
  check(ast);
  try {
    const template = new nunjucks.Template(
      parsed.private.source,
      ENVIRONMENT,
      file,
      false,
    ) as unknown as CompiledTemplate;
    template.compile();
    parsed.private.template = template;
  } catch (error) {
    const e = error as { message: string; lineno?: number };
    throw renderFailed(
      file,
      e.lineno ?? 1,
      `cannot compile the template: ${e.message.split("\n").pop()?.trim()}`,
      error,
    );
  }
}

/** `a.b` as ["a", "b"] when the callee is a name and a literal attribute. */
function dottedName(node: JNode): [string, string] | undefined {
  const target = node.target as JNode;
  const val = node.val as JNode;
  if (target.typename === "Symbol" && val.typename === "Literal")
    return [String(target.value), String(val.value)];
  return undefined;
}

/** A render or macro-export failure as a ModelError at the file's line; a ModelError a context function threw keeps its code. */
function runtimeError(file: string, error: unknown): ModelError {
  const e = error as { message?: string; lineno?: number; cause?: unknown };
  const line = (e.lineno ?? 0) + 1;
  const cause = e.cause ?? error;
  if (cause instanceof ModelError) {
    if (cause.location?.line !== undefined) return cause;
    return new ModelError(cause.code, `${file}:${line}: ${cause.message}`, {
      location: { file, line },
      cause,
    });
  }
  const message = cause instanceof Error ? cause.message : String(e.message);
  return renderFailed(
    file,
    line,
    `${message.replace(/^\([^)]*\)\s*(\[[^\]]*\])?\s*/, "").trim()}. Fix the template at that line`,
    cause,
  );
}

function compiled(parsed: ParsedTemplate): CompiledTemplate {
  const template = parsed.private.template;
  if (template === undefined)
    throw new ModelError(ModelErrorCode.renderFailed, `${parsed.file}: rendered before it was checked`);
  return template;
}

/** Renders a checked template with `context`. */
export function renderTemplate(parsed: ParsedTemplate, context: object): string {
  try {
    return compiled(parsed).render(context);
  } catch (error) {
    throw runtimeError(parsed.file, error);
  }
}

/** The macros a checked macro file exports, bound to `context` (their calls to ref, var, … use it). */
export function exportMacros(parsed: ParsedTemplate, context: object): Record<string, unknown> {
  let exported: Record<string, unknown> = {};
  let failure: unknown;
  compiled(parsed).getExported(context, (error, result) => {
    failure = error;
    exported = result;
  });
  if (failure !== undefined && failure !== null) throw runtimeError(parsed.file, failure);
  return exported;
}

/** Splits nunjucks call arguments into positional ones and the keyword arguments object (if any). */
export function splitArgs(args: readonly unknown[]): {
  positional: unknown[];
  keywords: Record<string, unknown>;
} {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  if (last !== null && typeof last === "object" && last.__keywords === true) {
    const { __keywords: _, ...keywords } = last;
    return { positional: args.slice(0, -1), keywords };
  }
  return { positional: [...args], keywords: {} };
}

/** A string nunjucks must not escape or re-process: what a macro returns. */
export function isSafeString(value: unknown): boolean {
  return value instanceof (nunjucks.runtime as unknown as { SafeString: new () => object }).SafeString;
}
