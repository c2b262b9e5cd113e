// Shared parts of the fuzz suite: seeded run options, mutations of valid inputs, and the typed-error property.

import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { PulseError } from "../../src/errors.ts";

/** Cases per property: 10 000 in CI; FUZZ_RUNS=1000000 npx vitest run test/fuzz for a longer hunt. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

/**
 * The longest one case may take: a decoder that loops on its input fails here instead of hanging CI.
 * A case takes a millisecond or less; the margin is for a garbage collection or a busy machine.
 */
export const CASE_BUDGET_MS = Number(process.env.FUZZ_CASE_BUDGET_MS ?? 1000);

/**
 * fc.assert options: a fixed seed per property so CI runs the same cases every time (FUZZ_SEED shifts
 * them all). A target's main property runs FUZZ_RUNS cases; a secondary one may run a `share` of that.
 */
export function runs(seed: number, share = 1): { seed: number; numRuns: number } {
  const override = process.env.FUZZ_SEED;
  return {
    seed: override === undefined ? seed : Number(override) + seed,
    numRuns: Math.ceil(FUZZ_RUNS * share),
  };
}

/**
 * Makes thrown errors cheap while the file's properties run: capturing a stack costs about 0.2 ms under
 * the test runner, most of a case that ends in an error. FUZZ_STACKS=1 keeps them, to debug a failure.
 */
export function withoutStacks(hooks: {
  beforeAll: (fn: () => void) => void;
  afterAll: (fn: () => void) => void;
}): void {
  if (process.env.FUZZ_STACKS === "1") return;
  let limit = Error.stackTraceLimit;
  hooks.beforeAll(() => {
    limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  });
  hooks.afterAll(() => {
    Error.stackTraceLimit = limit;
  });
}

/**
 * A fresh folder for the files a property writes each case: in /dev/shm where there is one, since a
 * write to a disk-backed temp folder can cost milliseconds, and 10 000 of them would be most of a run.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), prefix));
}

/**
 * Runs `work` and returns what it returned, or the PulseError it threw. Anything else it throws (a
 * TypeError, a RangeError, a library's own error) fails the property, and so does a case over budget.
 */
export function typedOutcome<T>(
  ...args: [work: () => T] | [budget: boolean, work: () => T]
): { ok: true; value: T } | { ok: false; error: PulseError } {
  const [budget, work] = args.length === 1 ? [true, args[0]] : args;
  const started = performance.now();
  let outcome: { ok: true; value: T } | { ok: false; error: PulseError };
  try {
    outcome = { ok: true, value: work() };
  } catch (error) {
    if (!(error instanceof PulseError)) throw untyped(error);
    if (typeof error.code !== "string" || !error.code.startsWith("PULSE_")) throw untyped(error);
    outcome = { ok: false, error };
  }
  if (budget) checkBudget(started);
  return outcome;
}

/** typedOutcome for async work. */
export async function typedOutcomeAsync<T>(
  work: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: PulseError }> {
  const started = performance.now();
  let outcome: { ok: true; value: T } | { ok: false; error: PulseError };
  try {
    outcome = { ok: true, value: await work() };
  } catch (error) {
    if (!(error instanceof PulseError) || !error.code.startsWith("PULSE_")) throw untyped(error);
    outcome = { ok: false, error };
  }
  checkBudget(started);
  return outcome;
}

/** Fails when a case took longer than CASE_BUDGET_MS. */
export function checkBudget(startedMs: number): void {
  const elapsedMs = performance.now() - startedMs;
  if (elapsedMs > CASE_BUDGET_MS) {
    throw new Error(`one case took ${elapsedMs.toFixed(0)} ms, over the ${CASE_BUDGET_MS} ms budget`);
  }
}

function untyped(error: unknown): Error {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`untyped failure (${name}): ${message}`, { cause: error });
}

// --- Byte mutations -------------------------------------------------------------------------------

type ByteMutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "duplicate"; at: number; length: number };

const position = fc.nat({ max: 1 << 16 });
const fewBytes = fc.uint8Array({ minLength: 1, maxLength: 9 });
/** Bytes that sit on the edges of varints, lengths and magic numbers. */
const edgeBytes = fc.oneof(
  fewBytes,
  fc.constantFrom(
    Uint8Array.of(0),
    Uint8Array.of(0xff),
    Uint8Array.of(0x7f),
    Uint8Array.of(0x80),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
    Uint8Array.of(1),
  ),
);

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({ kind: fc.constant("insert" as const), at: position, bytes: edgeBytes }),
  fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("overwrite" as const), at: position, bytes: edgeBytes }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: position,
    length: fc.integer({ min: 1, max: 32 }),
  }),
);

function applyByteMutation(input: Uint8Array, m: ByteMutation): Uint8Array {
  const n = input.length;
  const at = n === 0 ? 0 : m.at % (n + 1);
  switch (m.kind) {
    case "flip": {
      if (n === 0) return input;
      const out = Uint8Array.from(input);
      out[m.at % n] ^= 1 << m.bit;
      return out;
    }
    case "truncate":
      return input.subarray(0, at);
    case "insert":
      return concat(input.subarray(0, at), m.bytes, input.subarray(at));
    case "delete":
      return concat(input.subarray(0, at), input.subarray(Math.min(n, at + m.length)));
    case "overwrite": {
      const out = Uint8Array.from(input);
      for (let i = 0; i < m.bytes.length && at + i < n; i++) out[at + i] = m.bytes[i]!;
      return out;
    }
    case "duplicate":
      return concat(input.subarray(0, at), input.subarray(at, at + m.length), input.subarray(at));
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** One of the valid inputs with one to four mutations applied: flips, truncations, inserted or lost bytes. */
export function mutatedBytes(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.array(byteMutation, { minLength: 1, maxLength: 4 }))
    .map(([input, mutations]) => mutations.reduce(applyByteMutation, input));
}

/** Fully random bytes, mutated valid ones, and valid ones as they are (a third each, roughly). */
export function fuzzBytes(valid: readonly Uint8Array[], maxLength = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength }), weight: 2 },
    { arbitrary: mutatedBytes(valid), weight: 6 },
    { arbitrary: fc.constantFrom(...valid), weight: 1 },
  );
}

// --- Text mutations -------------------------------------------------------------------------------

/** Fragments that matter to the text formats fuzzed here (YAML, Jinja, CSV, SSE, JSON). */
const TOKENS = [
  "\n",
  "\r",
  "\r\n",
  "\t",
  " ",
  ":",
  ": ",
  "- ",
  ",",
  '"',
  "'",
  "{",
  "}",
  "[",
  "]",
  "{{",
  "}}",
  "{%",
  "%}",
  "{#",
  "#}",
  "{%-",
  "-%}",
  "\\",
  "&a ",
  "*a",
  "!!binary ",
  "!!int ",
  "? ",
  "|",
  ">",
  "---\n",
  "...\n",
  "%YAML 1.2\n",
  "null",
  "true",
  "-1",
  "1e309",
  "0x7fffffff",
  "9007199254740993",
  "\u0000",
  "\ufeff",
  "\ud800",
  "é",
  "data: ",
  "event: ",
  "id: ",
  "retry: ",
  "ref('x')",
  "source('a', 'b')",
  "config(",
  "is_incremental()",
  "this",
  "var('x')",
  "env_var('X')",
  "{% if x %}",
  "{% endif %}",
  "{% for i in x %}",
  "{% endfor %}",
  "{% set a = 1 %}",
  "{% macro m() %}",
  "{% endmacro %}",
  "{% raw %}",
  "{% endraw %}",
  "{% call x() %}",
  "__proto__",
  "constructor",
];

type TextMutation =
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "truncate"; at: number }
  | { kind: "replace"; at: number; length: number; text: string }
  | { kind: "duplicate"; at: number; length: number };

const fragment = fc.oneof(
  { arbitrary: fc.constantFrom(...TOKENS), weight: 3 },
  { arbitrary: fc.string({ maxLength: 8, unit: "binary" }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 8 }), weight: 1 },
);

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: position, text: fragment }),
  fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({
    kind: fc.constant("replace" as const),
    at: position,
    length: fc.integer({ min: 1, max: 12 }),
    text: fragment,
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: position,
    length: fc.integer({ min: 1, max: 40 }),
  }),
);

function applyTextMutation(input: string, m: TextMutation): string {
  const at = m.at % (input.length + 1);
  switch (m.kind) {
    case "insert":
      return input.slice(0, at) + m.text + input.slice(at);
    case "delete":
      return input.slice(0, at) + input.slice(at + m.length);
    case "truncate":
      return input.slice(0, at);
    case "replace":
      return input.slice(0, at) + m.text + input.slice(at + m.length);
    case "duplicate":
      return input.slice(0, at) + input.slice(at, at + m.length) + input.slice(at);
  }
}

/** One of the valid texts with one to five edits: tokens of the format inserted, spans lost or doubled. */
export function mutatedText(valid: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.array(textMutation, { minLength: 1, maxLength: 5 }))
    .map(([input, mutations]) => mutations.reduce(applyTextMutation, input));
}

/** Random text (any code unit, lone surrogates included), mutated valid texts, and valid ones. */
export function fuzzText(valid: readonly string[], maxLength = 400): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.string({ maxLength, unit: "binary" }), weight: 1 },
    { arbitrary: fc.string({ maxLength, unit: fc.constantFrom(...TOKENS) }), weight: 1 },
    { arbitrary: mutatedText(valid), weight: 6 },
    { arbitrary: fc.constantFrom(...valid), weight: 1 },
  );
}

// --- JSON mutations -------------------------------------------------------------------------------

type JsonMutation = { path: number; action: "set" | "delete" | "add"; value: unknown; key: string };

/** Values of every JSON type, and the edges of numbers and strings. */
export const oddJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    null,
    "",
    " ",
    0,
    -1,
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53,
    1e308,
    -1e308,
    true,
    false,
    [],
    {},
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "00000000-0000-0000-0000-000000000000",
  ),
);

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  path: fc.nat(),
  action: fc.constantFrom("set" as const, "set" as const, "delete" as const, "add" as const),
  value: oddJson,
  key: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", "constructor", "toString")),
});

/** Every object and array inside `value` with the path to it, the root first. */
function containers(value: unknown): Array<Record<string, unknown> | unknown[]> {
  const out: Array<Record<string, unknown> | unknown[]> = [];
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== "object") return;
    out.push(v as Record<string, unknown> | unknown[]);
    for (const child of Object.values(v)) visit(child);
  };
  visit(value);
  return out;
}

function applyJsonMutation(input: unknown, m: JsonMutation): unknown {
  const copy = structuredClone(input);
  const targets = containers(copy);
  if (targets.length === 0) return m.value;
  const target = targets[m.path % targets.length]!;
  const keys = Object.keys(target);
  if (m.action === "add" || keys.length === 0) {
    if (Array.isArray(target)) target.push(m.value);
    else
      Object.defineProperty(target, m.key, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return copy;
  }
  const key = keys[m.path % keys.length]!;
  if (m.action === "delete") {
    if (Array.isArray(target)) target.splice(Number(key), 1);
    else delete target[key];
  } else {
    (target as Record<string, unknown>)[key] = m.value;
  }
  return copy;
}

/** One of the valid JSON values with one to four fields swapped for other types, deleted or added. */
export function mutatedJson(valid: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.array(jsonMutation, { minLength: 1, maxLength: 4 }))
    .map(([input, mutations]) => mutations.reduce(applyJsonMutation, input));
}
