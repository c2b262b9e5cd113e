// loadConfig: defaults, file, environment and flags in that order, and errors that say where a bad value came from.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { loadConfig } from "./index.ts";

function configFile(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "pulse-config-"));
  const file = join(dir, "pulse.config.yaml");
  writeFileSync(file, text);
  return { dir, file };
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new ConfigError("expected a ConfigError, got none");
}

/** The file that holds `text` as ./pulse.config.yaml, and the message of the error loading it gives. */
function fileError(text: string): { file: string; message: string } {
  const { dir, file } = configFile(text);
  return { file, message: errorOf(() => loadConfig({ env: {}, cwd: dir })).message };
}

describe("loadConfig", () => {
  it("gives defaults without a file or environment", () => {
    const { dir } = configFile("");
    const config = loadConfig({ env: {}, cwd: dir });
    expect(config.server.port).toBe(8501);
    expect(config.log).toBe("embedded:log.db");
    expect(config.data_dir).toBe(join(dir, "data"));
    expect(config.collector.api_keys).toEqual([]);
  });

  it("reads ./pulse.config.yaml, then PULSE_* variables, then overrides, in that order", () => {
    const { dir } = configFile("server:\n  port: 9000\n  host: 0.0.0.0\nsimulator:\n  rate: 50\n  seed: 3\n");
    const config = loadConfig({
      env: { PULSE_PORT: "9100", PULSE_API_KEYS: "a, b" },
      cwd: dir,
      overrides: { "simulator.seed": 9 },
    });
    expect(config.server.host).toBe("0.0.0.0");
    expect(config.server.port).toBe(9100);
    expect(config.simulator.rate).toBe(50);
    expect(config.simulator.seed).toBe(9);
    expect(config.collector.api_keys).toEqual(["a", "b"]);
  });

  it("names the file, line and key of an unknown key and lists the accepted ones", () => {
    const { file, message } = fileError("server:\n  port: 9000\n  hots: x\n");
    expect(message).toContain(`${file}:3`);
    expect(message).toContain("'server.hots'");
    expect(message).toContain("host, port");
  });

  it("refuses keys named after Object.prototype's properties, in the file and in flags", () => {
    // Found by the fuzz suite: "constructor" found Object.prototype.constructor as its spec and passed.
    for (const text of ["constructor: 1\n", "toString: x\n", "server:\n  hasOwnProperty: 1\n"]) {
      expect(fileError(text).message).toContain("unknown key");
    }
    expect(errorOf(() => loadConfig({ env: {}, overrides: { constructor: 1 } })).message).toContain(
      "unknown setting 'constructor'",
    );
  });

  it("rejects a bad backend URL with the accepted schemes", () => {
    const { file, message } = fileError("log: postgres://x\n");
    expect(message).toContain(`${file}:1`);
    expect(message).toContain("'log'");
    expect(message).toContain("embedded:<file>, kafka://…");
  });

  it("checks kafka bootstrap lists and registry URLs", () => {
    const { dir } = configFile("");
    expect(loadConfig({ env: { PULSE_LOG: "kafka://a:9092,b:9093" }, cwd: dir }).log).toBe(
      "kafka://a:9092,b:9093",
    );
    expect(errorOf(() => loadConfig({ env: { PULSE_LOG: "kafka://nohost" }, cwd: dir })).message).toContain(
      "PULSE_LOG",
    );
    expect(errorOf(() => loadConfig({ env: { PULSE_REGISTRY: "http://" }, cwd: dir })).message).toContain(
      "'registry'",
    );
  });

  it("accepts MongoDB store URLs, replica-set host lists included, and never echoes their password", () => {
    const { dir } = configFile("");
    for (const url of [
      "mongodb://127.0.0.1:27017/pulse",
      "mongodb://user:pw@a:27017,b:27018/pulse?replicaSet=rs0",
      "mongodb+srv://user:pw@cluster0.example.net/pulse",
      "mongodb://localhost",
    ]) {
      expect(loadConfig({ env: { PULSE_STORE: url }, cwd: dir }).store).toBe(url);
    }
    for (const url of ["mongodb://user:s3cret@/pulse", "mongodb+srv://user:s3cret@a,b/pulse"]) {
      const error = errorOf(() => loadConfig({ env: { PULSE_STORE: url }, cwd: dir }));
      expect(error.message).toContain("PULSE_STORE");
      expect(error.message).not.toContain("s3cret");
    }
  });

  it("rejects out-of-range and malformed values in PULSE_ variables", () => {
    const { dir } = configFile("");
    expect(errorOf(() => loadConfig({ env: { PULSE_PORT: "70000" }, cwd: dir })).message).toContain(
      "between 0 and 65535",
    );
    expect(errorOf(() => loadConfig({ env: { PULSE_RATE: "fast" }, cwd: dir })).message).toContain(
      "must be a number",
    );
  });

  it("gives a config error the file, line and column it points at; a variable's error has none", () => {
    const { dir, file } = configFile("server:\n  port: 9000\nsimulator:\n  rate: fast\n");
    const error = errorOf(() => loadConfig({ env: {}, cwd: dir }));
    expect(error.message).toContain(`${file}:4`);
    expect(error.location).toEqual({ file, line: 4, column: 3 });
    const unknown = configFile("server:\n  hots: x\n");
    expect(errorOf(() => loadConfig({ env: {}, cwd: unknown.dir })).location).toEqual({
      file: unknown.file,
      line: 2,
      column: 3,
    });
    const yaml = configFile("server:\n  port: [1,\n");
    const yamlError = errorOf(() => loadConfig({ env: {}, cwd: yaml.dir }));
    expect(yamlError.message).toContain(`${yaml.file}:${yamlError.location?.line}`);
    expect(yamlError.location).toMatchObject({ file: yaml.file, column: expect.any(Number) });
    const noFile = configFile("");
    expect(
      errorOf(() => loadConfig({ env: { PULSE_RATE: "fast" }, cwd: noFile.dir })).location,
    ).toBeUndefined();
  });

  it("reports invalid YAML with its line", () => {
    const { file, message } = fileError("server:\n  port: [1,\n");
    expect(message).toContain(file);
  });
});

describe("PULSE_* variables that are no setting", () => {
  it("are ignored with a warning naming the nearest setting, never an error", () => {
    const warnings: string[] = [];
    const config = loadConfig({
      env: { PULSE_PROT: "9000", PULSE_PORT: "8600", PULSE_SOMETHING_ELSE_ENTIRELY: "1" },
      cwd: "/",
      onWarning: (message) => warnings.push(message),
    });
    expect(config.server.port).toBe(8600);
    expect(warnings).toEqual([
      "environment variable PULSE_PROT is not a Pulse setting; it is ignored. Did you mean PULSE_PORT?",
      expect.stringMatching(
        /^environment variable PULSE_SOMETHING_ELSE_ENTIRELY is not a Pulse setting; it is ignored\. The settings' variables are PULSE_ADMIN_TOKEN, PULSE_API_KEYS, .*PULSE_WAREHOUSE, PULSE_WAREHOUSE_RETENTION_DAYS, PULSE_WIKIMEDIA, PULSE_WIKIMEDIA_URL\.$/,
      ),
    ]);
  });

  it("says whose a tool variable is (service scripts, benchmarks, tests) instead of guessing a typo", () => {
    const warnings: string[] = [];
    loadConfig({
      env: { PULSE_SERVICES_DIR: "/tmp/x", PULSE_BENCH_EVENTS: "5", PULSE_TEST_KAFKA: "k" },
      cwd: "/",
      onWarning: (message) => warnings.push(message),
    });
    expect(warnings).toEqual(
      ["PULSE_SERVICES_DIR", "PULSE_BENCH_EVENTS", "PULSE_TEST_KAFKA"].map(
        (name) =>
          `environment variable ${name} is read by Pulse's scripts, benchmarks or tests, not by pulse; it is ignored.`,
      ),
    );
  });
});
