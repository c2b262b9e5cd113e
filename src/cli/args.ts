// Flag parsing shared by every command: node's parseArgs with Pulse's common flags and usage errors.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { loadConfig, type PulseConfig } from "../config/index.ts";
import { UsageError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export const COMMON_OPTIONS = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/** parseArgs options for flags that each take a value (`--rate 100`), by name. */
export function valueFlags<const N extends string>(...names: N[]): Record<N, { type: "string" }> {
  return Object.fromEntries(names.map((name) => [name, { type: "string" }])) as Record<N, { type: "string" }>;
}

export interface ParsedArgs<O extends Options> {
  values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };
  positionals: string[];
}

export function parseCommandArgs<O extends Options>(
  command: string,
  argv: string[],
  options: O,
): ParsedArgs<O & typeof COMMON_OPTIONS> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs<O & typeof COMMON_OPTIONS>["values"], positionals };
  } catch (cause) {
    // main() prefixes every error with 'pulse <command>:', so the message does not repeat it.
    throw new UsageError(
      `${(cause as Error).message}. Run 'pulse ${command} --help' for the accepted flags.`,
      {
        cause,
      },
    );
  }
}

/** Numeric flag → number, or a usage error naming the flag. */
export function numberFlag(
  name: string,
  value: string | undefined,
  options: { min?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (
    value.trim() === "" ||
    !Number.isFinite(n) ||
    (options.integer && !Number.isInteger(n)) ||
    n < (options.min ?? Number.NEGATIVE_INFINITY)
  ) {
    const kind = options.integer ? "a whole number" : "a number";
    throw new UsageError(
      `--${name} must be ${kind}${options.min !== undefined ? ` ≥ ${options.min}` : ""}, got '${value}'`,
    );
  }
  return n;
}

/** Loads the config with the common flags applied (--config, --data-dir) plus command-specific overrides. */
export function configFromFlags(
  values: { "data-dir"?: string; config?: string },
  overrides: Record<string, unknown> = {},
): PulseConfig {
  return loadConfig({
    file: values.config,
    overrides: { data_dir: values["data-dir"], ...overrides },
    onWarning: (message) => process.stderr.write(`pulse: warning: ${message}\n`),
  });
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Duration flag → whole ms: `500ms`, `30s`, `1m`, `1h`, or a bare number of seconds; a usage error otherwise. */
export function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2] ?? "s"]! : Number.NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new UsageError(`--${name} must be a duration such as 500ms, 10s, 1m or 1h, got '${value}'`);
  }
  return ms;
}
