// Fuzzes pulse.config.yaml and PULSE_* variables: any text loads to settings or fails with PULSE_CONFIG_INVALID.

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { stringify } from "yaml";
import { describeConfig, loadConfig } from "../../src/config/index.ts";
import { ConfigError, ConfigErrorCode } from "../../src/errors.ts";
import { fuzzText, runs, scratchDir, typedOutcome, withoutStacks } from "./fuzz.ts";

const dir = scratchDir("pulse-fuzz-config-");
const file = join(dir, "pulse.config.yaml");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
withoutStacks({ beforeAll, afterAll });

const KEYS = describeConfig();

/** Every key at its default, nested as the file writes it. */
function defaultsDocument(): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const { key, default: value } of KEYS) {
    const parts = key.split(".");
    let at = root;
    for (const part of parts.slice(0, -1)) {
      at[part] ??= {};
      at = at[part] as Record<string, unknown>;
    }
    at[parts.at(-1)!] = value;
  }
  return root;
}

/** Each top-level key of the defaults alone (a small file parses in a fraction of a millisecond). */
const DEFAULTS = Object.entries(defaultsDocument()).map(([key, value]) => stringify({ [key]: value }));

const VALID = [
  ...DEFAULTS,
  "log: kafka://localhost:9092,other:9093\nstore: mongodb://u:p@a:1,b:2/pulse\nwarehouse: duckdb:./w.duckdb\n",
  "server:\n  port: 8080\n  host: 0.0.0.0\ncollector:\n  api_keys: [a, b]\n",
  "# only a comment\n",
  "registry: &r embedded:registry.db\nlog: *r\n",
];

/** Loads `text` as the config file; the outcome is settings or a ConfigError with its location. */
function load(text: string, env: Record<string, string> = {}) {
  writeFileSync(file, text);
  const outcome = typedOutcome(() => loadConfig({ file, env, cwd: dir, onWarning: () => {} }));
  if (!outcome.ok) {
    assert.ok(outcome.error instanceof ConfigError, outcome.error.code);
    assert.equal(outcome.error.code, ConfigErrorCode.invalid);
    // The parser's message quotes lines, which may hold a secret: no cause is kept that could show one.
    assert.ok(outcome.error.message.length > 0);
  } else {
    // Loading never reaches into Object.prototype, whatever the keys.
    assert.equal(Object.getPrototypeOf(outcome.value), Object.prototype);
    assert.equal(({} as Record<string, unknown>).data_dir, undefined);
  }
  return outcome;
}

describe("fuzz: pulse.config.yaml", () => {
  it("any file text loads or fails with PULSE_CONFIG_INVALID", () => {
    fc.assert(
      fc.property(fuzzText(VALID, 400), (text) => {
        load(text);
      }),
      runs(701),
    );
  });

  it("any value of any key loads or fails with PULSE_CONFIG_INVALID", () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        "&a [*a]",
        "!!binary aGVsbG8=",
        "!!float .nan",
        ".inf",
        "0x10",
        "1e999",
        "~",
        "[",
        "{a: 1",
      ),
      fc.constantFrom(
        "kafka://",
        "kafka:",
        "embedded:",
        "mongodb+srv://a,b/x",
        "http://[::1",
        "postgres://:@/",
      ),
    );
    const keyOf = fc.oneof(
      fc.constantFrom(...KEYS.map((k) => k.key)),
      fc.constantFrom("__proto__", "constructor", "toString", "server.__proto__", "hasOwnProperty", "<<"),
    );
    fc.assert(
      fc.property(keyOf, value, (key, v) => {
        const parts = key.split(".");
        const shown = typeof v === "string" ? v : JSON.stringify(v);
        const text =
          parts.length === 1
            ? `${parts[0]}: ${shown}\n`
            : `${parts[0]}:\n  ${parts.slice(1).join(".")}: ${shown}\n`;
        const outcome = load(text);
        // A key the schema does not have is refused, whatever Object.prototype holds under that name.
        if (!KEYS.some((k) => k.key === key)) assert.equal(outcome.ok, false, `'${key}' was accepted`);
      }),
      runs(702, 0.3),
    );
  });

  it("any value of any PULSE_* variable loads or fails with PULSE_CONFIG_INVALID", () => {
    const names = KEYS.flatMap((k) => (k.env === undefined ? [] : [k.env]));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom(...names),
            fc.constantFrom(...["", "__PROTO__", "CONSTRUCTOR"].map((name) => `PULSE_${name}`)),
          ),
          fc.oneof(
            fc.string({ maxLength: 20 }),
            fc.constantFrom("", " ", "-1", "1e400", "kafka://a:1", "x,y,"),
          ),
          { maxKeys: 4 },
        ),
        (env) => {
          load("", env);
        },
      ),
      runs(703, 0.3),
    );
  });
});
